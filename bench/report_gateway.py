"""The HTTP gateway part of the bench report, next to the direct-AMQP producer figure."""

from __future__ import annotations

from bench.targets import at_least, at_most

SINGLE_P99_TARGET_MS = 50.0
BATCH_TARGET_EVENTS_PER_S = 10_000.0
SEARCH_TARGET_RPS = 2_000.0
SEARCH_P99_TARGET_MS = 50.0


def targets(gateway: dict | None) -> list[dict]:
    if not gateway:
        return []
    single, batches = gateway["single"], gateway["batches"]
    searches = [("distinct windows", gateway["search"]), ("90 repeated windows", gateway.get("search_repeated"))]
    return [
        at_most(f"POST /events p99 at {single['rate_target']:g} requests/s (ms)", single["p99_ms"],
                SINGLE_P99_TARGET_MS),
        at_least("POST /events in batches of 100 (events/s)", batches["events_per_s"], BATCH_TARGET_EVENTS_PER_S),
    ] + [target for name, search in searches if search for target in (
        at_least(f"GET /search, {name} (requests/s)", search["requests_per_s"], SEARCH_TARGET_RPS),
        at_most(f"GET /search, {name}, p99 (ms)", search["p99_ms"], SEARCH_P99_TARGET_MS))]


def table(gateway: dict | None, producer_msgs_per_s: float | None) -> list[str]:
    if not gateway:
        return []
    single, batches = gateway["single"], gateway["batches"]
    direct = f"{producer_msgs_per_s:,.0f} msg/s" if producer_msgs_per_s else "-"
    return [
        "### HTTP gateway (one uvicorn process; the load generator on the same 2 cores)", "",
        "POSTs measured with no consumer running (as the direct-AMQP figures are); the event-sessions "
        "consumer drained the queue afterwards.", "",
        "| load | achieved | p50 | p99 | failed | direct AMQP (Publisher) |", "|---|--:|--:|--:|--:|--:|",
        f"| POST /events, 1 event per request, {single['rate_target']:g}/s paced | "
        f"{single['rate_achieved']:,.0f} req/s | {single['p50_ms']:.0f} ms | {single['p99_ms']:.0f} ms | "
        f"{single['non_202']} | |",
        f"| POST /events, batches of 100, 16 clients | {batches['events_per_s']:,.0f} events/s | | "
        f"{batches['p99_ms']:.0f} ms | {batches['failed']} | {direct} |",
        *(f"| GET /search, one-week {name}, 16 clients | {search['requests_per_s']:,.0f} req/s | "
          f"{search['p50_ms']:.0f} ms | {search['p99_ms']:.0f} ms | {search['failed']} | |"
          for name, search in (("distinct windows", gateway["search"]),
                               ("windows from 90 days", gateway.get("search_repeated"))) if search),
        "", f"Events accepted (202) {gateway.get('accepted', 0):,}, stored once drained {gateway.get('stored', 0):,}. "
        f"Gateway peak RSS {gateway['gateway_peak_rss_mb']:.0f} MB.", "",
    ]
