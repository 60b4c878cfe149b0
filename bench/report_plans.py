"""The provider-feed part of the bench report: ingest against the raw parse, and the search."""

from __future__ import annotations

from bench.targets import at_most

POLLER_RSS_TARGET_MB = 150.0
SEARCH_P99_TARGET_MS = 10.0


def targets(plans: dict | None) -> list[dict]:
    if not plans:
        return []
    ingest, search = plans["ingest"], plans["search"]
    return [
        at_most(f"poller peak RSS, {ingest['plans']:,}-plan document (MB)", ingest["poller_peak_rss_mb"],
                POLLER_RSS_TARGET_MB),
        at_most(f"plan search p99, {search['rows']:,} plans, one week (ms)", search["p99_ms"], SEARCH_P99_TARGET_MS),
    ]


def table(plans: dict | None) -> list[str]:
    if not plans:
        return []
    ingest, search = plans["ingest"], plans["search"]
    return [
        f"### Provider feed: a {ingest['plans']:,}-plan document ({ingest['document_mb']} MB), polled once", "",
        "| path | plans/s | seconds | ratio to raw parse | poller peak RSS | consumer peak RSS |",
        "|---|--:|--:|--:|--:|--:|",
        f"| poll, validate, publish, consume, store | {ingest['plans_per_s']:,.0f} | {ingest['seconds']:.1f} "
        f"| {ingest['ratio']:.3f} | {ingest['poller_peak_rss_mb']:.0f} MB | {ingest['consumer_peak_rss_mb']:.0f} MB |",
        f"| raw: stdlib iterparse counting plans | {ingest['raw_parse_plans_per_s']:,.0f} "
        f"| {ingest['raw_parse_seconds']:.2f} | 1 | | |",
        "",
        f"Search over {search['rows']:,} stored plans for {search['searches']} random one-week windows "
        f"(about {search['rows_returned_example']} plans each), execution time in PostgreSQL: median "
        f"{search['median_ms']:.2f} ms, p99 {search['p99_ms']:.2f} ms (target ≤ {SEARCH_P99_TARGET_MS:g}); "
        f"without the GiST index (index scans off) the median is {search['baseline_median_ms']:.0f} ms "
        f"({search['speedup']:g}x slower).",
        "",
    ]
