"""The notification part of the bench report: the sms and email paths against bare clients, and
memory with sends scheduled for later."""

from __future__ import annotations

from bench.measure import median
from bench.targets import at_least, at_most

DELIVERY_TARGET = 0.5
SCHEDULED_RSS_TARGET_MB = 150.0


def summarize(runs: list[dict]) -> dict:
    channels = runs[0].get("deliveries", {}).keys()
    return {channel: {"raw_msgs_per_s": median([r["deliveries"][channel]["raw"]["msgs_per_s"] for r in runs]),
                      "switchboard_msgs_per_s": median([r["deliveries"][channel]["switchboard"]["msgs_per_s"]
                                                        for r in runs]),
                      "ratio": median([r["deliveries"][channel]["ratio"] for r in runs])}
            for channel in channels}


def targets(deliveries: dict, scheduled: dict | None) -> list[dict]:
    found = [at_least(f"{channel} vs bare client", d["ratio"], DELIVERY_TARGET) for channel, d in deliveries.items()]
    if scheduled:
        peak = max(scheduled["consumer_peak_rss_mb"], scheduled["dispatcher_peak_rss_mb"])
        found.append(at_most(f"peak RSS with {scheduled['scheduled']:,} sends scheduled (MB)", peak,
                             SCHEDULED_RSS_TARGET_MB))
    return found


def table(deliveries: dict, scheduled: dict | None, notifications: int) -> list[str]:
    if not deliveries:
        return []
    rows = [f"### Notifications: {notifications:,} requests each, queue to provider, against a bare client", "",
            "| path | Switchboard (msg/s) | raw baseline (msg/s) | ratio | target |", "|---|--:|--:|--:|--:|"]
    labels = {"sms": "sms: record, dispatch, POST (httpx keep-alive baseline)",
              "email": "email: record, dispatch, SMTP (smtplib one-session baseline)"}
    for channel, d in deliveries.items():
        rows.append(f"| {labels[channel]} | {d['switchboard_msgs_per_s']:,.0f} | {d['raw_msgs_per_s']:,.0f} "
                    f"| {d['ratio']:.2f} | ≥ {DELIVERY_TARGET} |")
    if scheduled:
        rows += ["", f"With {scheduled['scheduled']:,} SMS scheduled a day ahead: peak RSS of the `sms` consumer "
                     f"{scheduled['consumer_peak_rss_mb']:.0f} MB, of its dispatcher "
                     f"{scheduled['dispatcher_peak_rss_mb']:.0f} MB (target ≤ {SCHEDULED_RSS_TARGET_MB:g})."]
    return [*rows, ""]
