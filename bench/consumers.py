"""Consumer bench cases: one entry per consumer. Adding a consumer to the bench = adding a case.

A case says how to pre-fill the consumer's queue with N messages, how to count the effects
it has committed (and how many N messages must produce), and what the bare baseline
consumer writes for the same messages (bench/baselines.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Callable

from bench.baselines import RawUpsert, publish_pipelined
from bench.env import BenchEnv
from bench.measure import ServiceCpu, wait_until
from bench.processes import BenchProcess, baseline_process, consumer_process
from bench.workload import EVENTS_PER_SESSION, Prefill, as_prefill, behaviour_events, completed_calls, shuffled_records
from schemas.topology import BILLING, CALL_PAIRING, EVENT_SESSIONS, QueueSpec


@dataclass(frozen=True)
class ConsumerCase:
    name: str  # as in `switchboard run NAME`
    queue: QueueSpec
    messages: Callable[[int], list[Prefill]]  # the N messages that pre-fill the queue
    effects_query: str  # SQL: effects committed so far
    expected_effects: Callable[[int], int]  # ... once all N messages are handled
    raw: RawUpsert  # the bare consumer's equivalent write, one row per message
    prepare: Callable[[BenchEnv], None] = lambda env: None  # before the queue is pre-filled


def _call_record_row(record: dict) -> tuple:
    return (record["call_id"], record["type"], record["id"], record["timestamp"],
            record.get("source"), record.get("destination"))


def _priced_call_row(call: dict) -> tuple:
    started, ended = datetime.fromisoformat(call["started_at"]), datetime.fromisoformat(call["ended_at"])
    return (call["call_id"], call["source"], call["destination"], started, ended,
            int((ended - started).total_seconds()), "0.36", "original", f"{ended:%Y-%m}")


CALL_PAIRING_CASE = ConsumerCase(
    name="call-pairing",
    queue=CALL_PAIRING,
    messages=lambda n: as_prefill(shuffled_records(n)),  # starts and ends of n/2 calls, shuffled
    effects_query="SELECT (SELECT count(*) FROM call_records) + (SELECT count(*) FROM calls)",
    expected_effects=lambda n: n + n // 2,  # every record stored, every call completed
    raw=RawUpsert(
        sql="INSERT INTO call_records (call_id, type, record_id, timestamp, source, destination) "
            "VALUES %s ON CONFLICT (call_id, type) DO NOTHING",
        row=_call_record_row,
        count_query="SELECT count(*) FROM call_records",
    ),
)

BILLING_CASE = ConsumerCase(
    name="billing",
    queue=BILLING,
    messages=lambda n: as_prefill(completed_calls(n)),
    effects_query="SELECT count(*) FROM priced_calls",
    expected_effects=lambda n: n,
    raw=RawUpsert(
        sql="INSERT INTO priced_calls (call_id, source, destination, started_at, ended_at, "
            "duration_seconds, price, tariff_id, period) VALUES %s ON CONFLICT (call_id) DO NOTHING",
        row=_priced_call_row,
        count_query="SELECT count(*) FROM priced_calls",
    ),
)

def _event_row(event: dict) -> tuple:
    return ("guest", event.get("id") or f"{event['session_id']}/{event['timestamp']}", event["session_id"],
            event["category"], event["name"], event["timestamp"], json.dumps(event["data"]), "raw")


def _register_bench_publisher(env: BenchEnv) -> None:
    # The bench publishes as guest (the broker sets user_id to it); registering guest as an application
    # in the bench's own database lets its events through the same attribution check as any other.
    env.execute("INSERT INTO applications (name) VALUES ('guest') ON CONFLICT DO NOTHING")


EVENT_SESSIONS_CASE = ConsumerCase(
    name="event-sessions",
    queue=EVENT_SESSIONS,
    messages=lambda n: as_prefill(behaviour_events(n)),  # n events of n/10 sessions, shuffled
    effects_query="SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM sessions)",
    expected_effects=lambda n: n + -(-n // EVENTS_PER_SESSION),  # every event stored, every session created
    raw=RawUpsert(
        sql="INSERT INTO events (application, event_id, session_id, category, name, timestamp, data, fingerprint) "
            "VALUES %s ON CONFLICT (application, event_id) DO NOTHING",
        row=_event_row,
        count_query="SELECT count(*) FROM events",
    ),
    prepare=_register_bench_publisher,
)

CASES: dict[str, ConsumerCase] = {case.name: case for case in (CALL_PAIRING_CASE, BILLING_CASE, EVENT_SESSIONS_CASE)}


@lru_cache(maxsize=8)
def _messages(case_name: str, n: int) -> list[Prefill]:
    return CASES[case_name].messages(n)


def prefill(env: BenchEnv, case: ConsumerCase, n: int) -> None:
    env.reset()
    case.prepare(env)
    publish_pipelined(env.amqp_url, _messages(case.name, n))


def run_switchboard(env: BenchEnv, case: ConsumerCase, n: int, log_dir: Path, processes: int = 1) -> dict:
    prefill(env, case, n)
    workers = [consumer_process(case.name, env.process_env(), log_dir) for _ in range(processes)]
    return _measure(env, case, n, workers, case.effects_query, case.expected_effects(n))


def run_baseline(env: BenchEnv, case: ConsumerCase, n: int, log_dir: Path) -> dict:
    prefill(env, case, n)
    worker = baseline_process(case.name, env.process_env(), log_dir)
    return _measure(env, case, n, [worker], case.raw.count_query, n, grace_s=0.3)


def _measure(env: BenchEnv, case: ConsumerCase, n: int, workers: list[BenchProcess],
             effects_query: str, expected: int, grace_s: float = 0.0) -> dict:
    """From the first worker consuming to every effect committed; then stop and check the queue."""
    try:
        for worker in workers:
            worker.start()
        started = min(worker.wait_ready() for worker in workers)
        services = ServiceCpu().start()

        def done() -> bool:
            if any(worker.exited for worker in workers):
                raise RuntimeError(f"{case.name}: a consumer process exited during the run")
            return env.count(effects_query) >= expected

        finished = wait_until(done, timeout=max(120.0, n / 100), what=f"{case.name} x{len(workers)}")
        service_cpu = services.stop()
        time.sleep(grace_s)  # the bare consumer acks right after its commit; let the ack go out
    finally:
        exit_codes = [worker.stop() for worker in workers]
    seconds = finished - started
    return {
        "messages": n,
        "processes": len(workers),
        "seconds": round(seconds, 3),
        "msgs_per_s": round(n / seconds, 1),
        "peak_rss_mb": round(max(worker.peak_rss for worker in workers) / 2**20, 1),
        "cpu_seconds": round(sum(worker.cpu_seconds for worker in workers), 2),
        "service_cpu_seconds": service_cpu,
        "left_in_queue": env.queue_depth(case.queue.name),
        "dead_lettered": env.queue_depth(case.queue.dead_letter_queue),
        "exit_codes": exit_codes,
    }
