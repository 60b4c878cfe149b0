"""Medians over runs, target checks, JSON for scripts and the markdown table in docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report_archive, report_gateway, report_notifications, report_plans
from bench.env import ROOT
from bench.measure import median
from bench.targets import at_least, at_most

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"

PRODUCER_TARGET = 0.7
CONSUMER_TARGET = 0.4
CONSUMER_TARGETS = {"event-sessions": 0.5}  # per consumer where its issue set another


def consumer_target(name: str) -> float:
    return CONSUMER_TARGETS.get(name, CONSUMER_TARGET)
P99_TARGET_MS = 250.0
RSS_TARGET_MB = 150.0


def summarize(runs: list[dict], scheduled: dict | None = None, archive: dict | None = None,
              plans: dict | None = None, gateway: dict | None = None) -> dict:
    """Medians of the per-run figures; ratios are per run (to that run's baseline), then the median."""
    cases = runs[0]["consumers"].keys()
    summary = {
        "producer": {
            "raw_msgs_per_s": median([r["producer"]["raw"]["msgs_per_s"] for r in runs]),
            "switchboard_msgs_per_s": median([r["producer"]["switchboard"]["msgs_per_s"] for r in runs]),
            "ratio": median([r["producer"]["ratio"] for r in runs]),
            "raw_envelope_msgs_per_s": median([r["producer"]["raw_envelope"]["msgs_per_s"] for r in runs]),
            "ratio_to_raw_envelope": median([r["producer"]["ratio_to_raw_envelope"] for r in runs]),
        },
        "consumers": {name: _consumer_summary([r["consumers"][name] for r in runs]) for name in cases},
        "latency": {key: median([r["latency"][key] for r in runs])
                    for key in ("rate_achieved", "p50_ms", "p95_ms", "p99_ms", "max_ms")},
        "deliveries": report_notifications.summarize(runs),
    }
    summary["targets"] = (_targets(summary, runs) + report_notifications.targets(summary["deliveries"], scheduled)
                          + report_archive.targets(archive) + report_plans.targets(plans)
                          + report_gateway.targets(gateway))
    return summary


def _consumer_summary(results: list[dict]) -> dict:
    one = [r["switchboard"] for r in results]
    two = [r["two_processes"] for r in results if r.get("two_processes")]
    summary = {
        "raw_msgs_per_s": median([r["raw"]["msgs_per_s"] for r in results]),
        "switchboard_msgs_per_s": median([r["msgs_per_s"] for r in one]),
        "ratio": median([r["ratio"] for r in results]),
        "peak_rss_mb": median([r["peak_rss_mb"] for r in one]),
        "cpu_per_10k": _cpu_per_10k(one),
        "raw_cpu_per_10k": _cpu_per_10k([r["raw"] for r in results]),
    }
    if two:
        summary["two_processes_msgs_per_s"] = median([r["msgs_per_s"] for r in two])
        summary["scaling"] = median([r["scaling"] for r in results if r.get("scaling")])
        summary["two_processes_peak_rss_mb"] = median([r["peak_rss_mb"] for r in two])
    return summary


def _cpu_per_10k(results: list[dict]) -> dict:
    """CPU seconds per 10,000 messages: the consumer process(es), RabbitMQ, PostgreSQL."""
    def per_10k(seconds: float, r: dict) -> float:
        return seconds * 10_000 / r["messages"]
    return {
        "consumer": round(median([per_10k(r["cpu_seconds"], r) for r in results]), 2),
        "rabbitmq": round(median([per_10k(r["service_cpu_seconds"]["rabbitmq"], r) for r in results]), 2),
        "postgresql": round(median([per_10k(r["service_cpu_seconds"]["postgresql"], r) for r in results]), 2),
    }


def _peak_rss(runs: list[dict]) -> dict[str, float]:
    """The highest peak RSS seen for each consumer in any phase of any run."""
    peaks: dict[str, float] = {}
    for run in runs:
        for name, result in run["consumers"].items():
            phases = [result["switchboard"], result.get("two_processes") or {}]
            peaks[name] = max([peaks.get(name, 0.0)] + [p.get("peak_rss_mb", 0.0) for p in phases])
        for name, rss in run["latency"]["peak_rss_mb"].items():
            peaks[name] = max(peaks.get(name, 0.0), rss)
    return peaks


def _targets(summary: dict, runs: list[dict]) -> list[dict]:
    targets = [at_least("producer vs raw publisher", summary["producer"]["ratio"], PRODUCER_TARGET)]
    for name, consumer in summary["consumers"].items():
        targets.append(at_least(f"{name} vs raw consumer", consumer["ratio"], consumer_target(name)))
    targets.append(at_most("p99 publish -> priced (ms)", summary["latency"]["p99_ms"], P99_TARGET_MS))
    for name, rss in _peak_rss(runs).items():
        targets.append(at_most(f"{name} peak RSS (MB, max of all runs)", rss, RSS_TARGET_MB))
    return targets


# -- output ------------------------------------------------------------------------------

def write_json(results: dict, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def write_doc(results: dict) -> Path:
    """Replace the generated block of docs/benchmarks.md; the hand-written text around it stays."""
    block = f"{START}\n{markdown(results)}{END}"
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    DOC.write_text(before + block + after)
    return DOC


def markdown(results: dict) -> str:
    summary = results["summary"]
    lines = [
        *_header(results),
        *_throughput_table(summary),
        *_latency_table(summary, results["settings"]),
        *_scaling_table(summary),
        *_cpu_table(summary),
        *report_notifications.table(summary["deliveries"], results.get("scheduled_memory"),
                                    results["settings"].get("notifications", 0)),
        *report_archive.table(results.get("archive")),
        *report_plans.table(results.get("plans")),
        *report_gateway.table(results.get("gateway"), summary["producer"]["switchboard_msgs_per_s"]),
        *_targets_table(summary),
        *_runs_table(results["runs"]),
    ]
    return "\n".join(lines) + "\n"


def _header(results: dict) -> list[str]:
    settings, machine = results["settings"], results["machine"]
    measured = (
        f"Measured {results['date']} by `make bench` ({settings['runs']} runs of {settings['messages']:,} "
        "messages each; figures are medians over the runs, each ratio is to the raw baseline of the same run)."
    )
    host = (
        f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GB RAM, {machine['os']}; "
        f"RabbitMQ {machine['rabbitmq']} ({machine['erlang']}), PostgreSQL {machine['postgresql']}; "
        f"Python {machine['python']}, pika {machine['pika']}. Client, broker and database share the same cores."
    )
    return [measured, "", host, ""]


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _throughput_table(summary: dict) -> list[str]:
    producer = summary["producer"]
    rows = [
        "### Throughput",
        "",
        "| path | Switchboard (msg/s) | raw baseline (msg/s) | ratio | target |",
        "|---|--:|--:|--:|--:|",
        (f"| producer: validate + publish, pipelined confirms | {_rate(producer['switchboard_msgs_per_s'])} "
         f"| {_rate(producer['raw_msgs_per_s'])} | {producer['ratio']:.2f} | ≥ {PRODUCER_TARGET} |"),
    ]
    for name, consumer in summary["consumers"].items():
        rows.append(f"| consumer `{name}`, alone, 1 process | {_rate(consumer['switchboard_msgs_per_s'])} "
                    f"| {_rate(consumer['raw_msgs_per_s'])} | {consumer['ratio']:.2f} | ≥ {consumer_target(name)} |")
    rows += ["", (f"The raw publisher sending Switchboard's envelope properties (message id, type, timestamp, "
                  f"app and user id) did {_rate(producer['raw_envelope_msgs_per_s'])} msg/s; Switchboard's "
                  f"ratio to it: {producer['ratio_to_raw_envelope']:.2f}."), ""]
    return rows


def _latency_table(summary: dict, settings: dict) -> list[str]:
    latency = summary["latency"]
    return [
        (f"### Latency: publish → priced row committed, {settings['rate']:,.0f} records/s for "
         f"{settings['latency_seconds']:g} s through `call-pairing` and `billing`"),
        "",
        "| achieved rate (records/s) | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | target p99 |",
        "|--:|--:|--:|--:|--:|--:|",
        (f"| {_rate(latency['rate_achieved'])} | {latency['p50_ms']:.0f} | {latency['p95_ms']:.0f} "
         f"| {latency['p99_ms']:.0f} | {latency['max_ms']:.0f} | ≤ {P99_TARGET_MS:g} |"),
        "",
    ]


def _scaling_table(summary: dict) -> list[str]:
    rows = [
        "### Scaling and memory: one queue, 1 and 2 consumer processes",
        "",
        ("| consumer | 1 process (msg/s) | 2 processes (msg/s) | speed-up | peak RSS, 1 process (MB) | "
         "peak RSS, each of 2 (MB) |"),
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, consumer in summary["consumers"].items():
        scaling = consumer.get("scaling")
        speed_up = "–" if scaling is None else f"{scaling:.2f}×"
        rss_two = "–" if scaling is None else f"{consumer['two_processes_peak_rss_mb']:.0f}"
        rows.append(
            f"| `{name}` | {_rate(consumer['switchboard_msgs_per_s'])} "
            f"| {_rate(consumer.get('two_processes_msgs_per_s'))} "
            f"| {speed_up} | {consumer['peak_rss_mb']:.0f} | {rss_two} |"
        )
    return [*rows, ""]


def _cpu_table(summary: dict) -> list[str]:
    rows = ["### CPU seconds per 10,000 messages (who is busy)", "",
            "| run | consumer process | RabbitMQ | PostgreSQL |", "|---|--:|--:|--:|"]
    for name, consumer in summary["consumers"].items():
        for label, cpu in ((f"`{name}`", consumer["cpu_per_10k"]),
                           (f"raw baseline for `{name}`", consumer["raw_cpu_per_10k"])):
            rows.append(f"| {label} | {cpu['consumer']:.2f} | {cpu['rabbitmq']:.2f} | {cpu['postgresql']:.2f} |")
    return [*rows, ""]


def _targets_table(summary: dict) -> list[str]:
    rows = ["### Targets", "", "| target | value | goal | met |", "|---|--:|--:|:-:|"]
    for target in summary["targets"]:
        value = target["value"]
        shown = f"{value:.3f}" if value < 10 else f"{value:,.0f}"
        rows.append(f"| {target['name']} | {shown} | {target['target']} | {'yes' if target['met'] else '**no**'} |")
    return [*rows, ""]


def _runs_table(runs: list[dict]) -> list[str]:
    names = list(runs[0]["consumers"])
    header = "| run | producer ratio | " + " | ".join(f"`{n}` ratio" for n in names) + " | p99 (ms) |"
    rows = ["### Each run", "", header, "|" + "--:|" * (len(names) + 3)]
    for index, run in enumerate(runs, 1):
        ratios = " | ".join(f"{run['consumers'][n]['ratio']:.2f}" for n in names)
        rows.append(f"| {index} | {run['producer']['ratio']:.2f} | {ratios} | {run['latency']['p99_ms']:.0f} |")
    return rows
