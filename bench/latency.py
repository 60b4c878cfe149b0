"""End-to-end latency: call records published at a steady rate through call pairing and billing.

A call's latency runs from the publish of its last record (the end: each call's start is
published just before it) to the commit of its priced row. The commit is observed exactly,
not polled: for this phase only, a trigger on priced_calls sends NOTIFY, which PostgreSQL
delivers to a listener at commit.
"""

from __future__ import annotations

import select
import threading
import time
from pathlib import Path

import psycopg2

from bench.env import BenchEnv
from bench.measure import percentile, wait_until
from bench.processes import consumer_process
from bench.workload import call_pairs
from broker.envelope import Outgoing
from producers.publisher import Publisher

CHANNEL = "bench_priced"
INSTALL_TRIGGER = f"""
CREATE OR REPLACE FUNCTION bench_notify_priced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{CHANNEL}', NEW.call_id); RETURN NULL; END $$;
CREATE TRIGGER bench_notify_priced AFTER INSERT ON priced_calls
    FOR EACH ROW EXECUTE FUNCTION bench_notify_priced();
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS bench_notify_priced ON priced_calls; DROP FUNCTION IF EXISTS bench_notify_priced();"


class PricedListener:
    """Records when each call's priced row was committed (perf_counter of the NOTIFY's arrival)."""

    def __init__(self, dsn: str):
        self.priced: dict[str, float] = {}
        self._stop = threading.Event()
        self._db = psycopg2.connect(dsn)
        self._db.autocommit = True
        self._db.cursor().execute(f"LISTEN {CHANNEL}")
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def start(self) -> "PricedListener":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._db.close()

    def _listen(self) -> None:
        while not self._stop.is_set():
            if select.select([self._db], [], [], 0.2)[0]:
                self._db.poll()
                arrived = time.perf_counter()
                while self._db.notifies:
                    self.priced.setdefault(self._db.notifies.pop(0).payload, arrived)


def _execute(env: BenchEnv, sql: str) -> None:
    with psycopg2.connect(env.dsn) as db, db.cursor() as cursor:
        cursor.execute(sql)
    db.close()


def bench_latency(env: BenchEnv, log_dir: Path, *, rate: float, seconds: float, warmup_s: float) -> dict:
    env.reset()
    calls = call_pairs(int(rate * seconds) // 2, seed=11, prefix="lat-")
    _execute(env, INSTALL_TRIGGER)
    workers = [consumer_process(name, env.process_env(), log_dir) for name in ("call-pairing", "billing")]
    listener = PricedListener(env.dsn).start()
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready()
        sent_at, started, publish_s = _publish_paced(env.amqp_url, calls, rate)
        wait_until(lambda: len(listener.priced) >= len(calls), timeout=120, what="latency: every call priced")
    finally:
        for worker in workers:
            worker.stop()
        listener.stop()
        _execute(env, DROP_TRIGGER)
    latencies = [
        (listener.priced[call_id] - sent) * 1000
        for call_id, sent in sent_at.items() if sent - started >= warmup_s
    ]
    return {
        "rate_target": rate,
        "rate_achieved": round(2 * len(calls) / publish_s, 1),
        "calls_measured": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "peak_rss_mb": {worker_name: round(worker.peak_rss / 2**20, 1)
                        for worker_name, worker in zip(("call-pairing", "billing"), workers, strict=True)},
    }


def _publish_paced(amqp_url: str, calls, rate: float) -> tuple[dict[str, float], float, float]:
    """Publish start, end, start, end... at `rate` records/s; returns when each end was published."""
    sent_at: dict[str, float] = {}
    started = 0.0

    def paced():
        nonlocal started
        started = time.perf_counter()
        for index, record in enumerate(record for pair in calls for record in pair):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            outgoing = Outgoing.of(record)
            if record.type == "end":
                sent_at[record.call_id] = time.perf_counter()
            yield outgoing

    # chunk_size=1: each record leaves as soon as it exists; confirms are still pipelined.
    with Publisher(amqp_url, name="bench-latency", chunk_size=1) as publisher:
        publisher.publish_outgoing(paced())
        finished = time.perf_counter()
    return sent_at, started, finished - started
