"""The provider feed: ingest of a generated plan document end to end, and the plan search.

- Ingest: a document of `n` plans (file://) polled once by `switchboard poll-provider` while
  the `plans` consumer runs; timed from the poller's connection to the last plan stored,
  against a bare stdlib iterparse that only counts the plans of the same file (the raw
  parse-only time). The poller's peak RSS is the kernel's high-water mark.
- Search: `rows` plans over 40 years inserted by SQL, then the search for random one-week
  windows, timed in PostgreSQL (EXPLAIN ANALYZE execution time), with the same query with
  index scans turned off as the baseline (what the GiST index buys).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.etree.ElementTree import iterparse

import psycopg2

from bench.env import BenchEnv
from bench.measure import median, percentile, wait_until
from bench.processes import BenchProcess, consumer_process
from storage.plans import SEARCH, SEARCH_ENTRY

SEARCH_SQL = SEARCH.text.replace(":starts_at", "%(starts_at)s").replace(":ends_at", "%(ends_at)s")

START = datetime(2000, 1, 1, tzinfo=timezone.utc)
YEARS = 40
SEARCHES, BASELINE_SEARCHES = 300, 10


def bench_plans(env: BenchEnv, n: int, rows: int, log_dir: Path) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        document = Path(directory) / "plans.xml"
        _write_document(document, n)
        ingest = _ingest(env, document, n, log_dir)
    return {"ingest": ingest, "search": _search(env, rows)}


def _write_document(path: Path, n: int, plans_per_base: int = 5) -> None:
    rng = random.Random(11)
    with path.open("w") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<planList version="1.0"><output>\n')
        for base in range(0, n, plans_per_base):
            mode = "online" if base % 10 else "offline"
            out.write(f'<base_plan base_plan_id="{base}" sell_mode="{mode}" title="Show number {base}">\n')
            for plan in range(base, min(base + plans_per_base, n)):
                start = START + timedelta(hours=rng.randrange(YEARS * 365 * 24))
                end = start + timedelta(minutes=rng.choice([60, 90, 120, 180]))
                out.write(f'<plan plan_id="{plan}" plan_start_date="{start:%Y-%m-%dT%H:%M:%S}" '
                          f'plan_end_date="{end:%Y-%m-%dT%H:%M:%S}" sold_out="false">'
                          + "".join(f'<zone zone_id="{z}" capacity="100" price="{rng.randrange(500, 9000) / 100:.2f}" '
                                    f'name="Zone {z}" numbered="true"/>' for z in range(3))
                          + "</plan>\n")
            out.write("</base_plan>\n")
        out.write("</output></planList>\n")


def _raw_parse_seconds(path: Path) -> float:
    started, plans = time.perf_counter(), 0
    for _event, element in iterparse(path, events=("end",)):
        if element.tag == "plan":
            plans += 1
        elif element.tag == "base_plan":
            element.clear()
    return time.perf_counter() - started


def _ingest(env: BenchEnv, document: Path, n: int, log_dir: Path) -> dict:
    env.reset()
    raw_s = _raw_parse_seconds(document)
    consumer = consumer_process("plans", env.process_env(), log_dir)
    poller = BenchProcess(["switchboard", "poll-provider", "--url", document.as_uri(), "--interval", "3600"],
                          env.process_env(), log_dir / "provider-poller.log", ready_event="amqp_connected")
    try:
        consumer.start().wait_ready()
        started = poller.start().wait_ready()
        finished = wait_until(lambda: env.count("SELECT count(*) FROM plans") >= n, timeout=max(300.0, n / 200),
                              what="plans ingest")
    finally:
        poller.stop()
        consumer.stop()
    seconds = finished - started
    return {"plans": n, "document_mb": round(document.stat().st_size / 2**20, 1), "seconds": round(seconds, 3),
            "plans_per_s": round(n / seconds, 1), "raw_parse_seconds": round(raw_s, 3),
            "raw_parse_plans_per_s": round(n / raw_s, 1), "ratio": round(raw_s / seconds, 3),
            "poller_peak_rss_mb": round(poller.peak_rss / 2**20, 1),
            "consumer_peak_rss_mb": round(consumer.peak_rss / 2**20, 1)}


def _search(env: BenchEnv, rows: int) -> dict:
    env.execute("TRUNCATE plans")
    env.execute(
        "INSERT INTO plans (base_plan_id, plan_id, id, title, sell_mode, starts_at, ends_at, min_price, max_price, "
        f"ever_online, first_seen, last_seen, content_id, search_entry) SELECT *, {SEARCH_ENTRY} FROM ("
        "SELECT (g / 5)::text, g::text, md5(g::text)::uuid AS id, 'Show ' || g AS title, 'online', s AS starts_at, "
        "s + interval '2 hours' AS ends_at, 15.00 AS min_price, 30.00 AS max_price, g % 10 <> 0, now(), now(), "
        f"md5(g::text) FROM (SELECT g, timestamptz '{START.isoformat()}' + random() * {YEARS * 365 * 24} "
        f"* interval '1 hour' AS s FROM generate_series(1, {rows}) AS g) AS t) AS plan")
    env.execute("ANALYZE plans")
    rng = random.Random(5)
    windows = [START + timedelta(days=rng.randrange(YEARS * 365 - 7)) for _ in range(SEARCHES)]
    with psycopg2.connect(env.dsn) as db, db.cursor() as cursor:
        indexed = [_execution_ms(cursor, start) for start in windows]
        returned = _rows(cursor, windows[0])
        cursor.execute("SET enable_indexscan = off; SET enable_bitmapscan = off")
        unindexed = [_execution_ms(cursor, start) for start in windows[:BASELINE_SEARCHES]]
    db.close()
    return {"rows": rows, "searches": SEARCHES, "rows_returned_example": returned,
            "median_ms": round(median(indexed), 3), "p99_ms": round(percentile(indexed, 99), 3),
            "baseline_median_ms": round(median(unindexed), 3),
            "speedup": round(median(unindexed) / median(indexed), 1)}


def _execution_ms(cursor, start: datetime) -> float:
    cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {SEARCH_SQL}", {"starts_at": start,
                                                                         "ends_at": start + timedelta(days=7)})
    plan = cursor.fetchone()[0]
    return float((plan if isinstance(plan, list) else json.loads(plan))[0]["Execution Time"])


def _rows(cursor, start: datetime) -> int:
    cursor.execute(SEARCH_SQL, {"starts_at": start, "ends_at": start + timedelta(days=7)})
    return len(cursor.fetchall())
