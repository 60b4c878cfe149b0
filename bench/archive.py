"""What the archive costs, and how fast a replay reads it, against raw pika in the same run.

- Producer with and without the archive: the same call records published by Switchboard's
  Publisher and by the raw pipelined publisher, first with no archive, then after the
  archive streams and replay twins are declared (as `switchboard topology` does by default).
- Replay: the telephony archive then holds what the archive phases published. A raw stream
  reader (bare pika, same prefetch) reads all of it; `replay --dry-run` reads and matches
  all of it. A raw copier reads it and republishes it with pipelined confirms into a queue;
  `replay --to-queue` does the same. A replay ends after `IDLE_S` without a message, which
  is taken off its time.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pika

from bench.baselines import WINDOW, publish_pipelined
from bench.env import BenchEnv
from bench.producer import publish_switchboard, producer_records, timed
from bench.workload import Prefill
from broker.declare import declarations, declare_blocking
from producers.replay import ReplayRequest, replay
from schemas.topology import EXCHANGES, QUEUES, ArchivePolicy, QueuePolicy, archive_of

IDLE_S = 0.5
STREAM = archive_of("telephony")
INTO = "bench.replayed"


def bench_archive(env: BenchEnv, n: int) -> dict:
    dicts, bare, _enveloped = producer_records(n)
    producer = {"without": _producer_phases(env, dicts, bare)}
    _declare_archive(env)
    producer["with"] = _producer_phases(env, dicts, bare)
    for who in ("switchboard", "raw"):
        producer[f"{who}_ratio"] = round(producer["with"][who]["msgs_per_s"] / producer["without"][who]["msgs_per_s"], 3)
    return {"messages": n, "producer": producer, "replay": _replay_phases(env)}


def _producer_phases(env: BenchEnv, dicts: list[dict], bare: list[Prefill]) -> dict:
    phases = {}
    env.reset()
    phases["raw"] = timed(lambda: publish_pipelined(env.amqp_url, bare, window=WINDOW), len(bare))
    env.reset()
    phases["switchboard"] = timed(lambda: publish_switchboard(env.amqp_url, dicts), len(dicts))
    env.reset()
    return phases


def _declare_archive(env: BenchEnv) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(env.amqp_url))
    try:
        channel = connection.channel()
        declare_blocking(channel, declarations(QUEUES, QueuePolicy(archive=ArchivePolicy()), EXCHANGES))
        channel.queue_declare(INTO, durable=True, arguments={"x-queue-type": "classic"})
    finally:
        connection.close()


def _replay_phases(env: BenchEnv) -> dict:
    messages, read_s = _raw_read(env.amqp_url)
    n = len(messages)
    result = {"archived": n, "raw_read": _rate(n, read_s)}
    result["replay_dry_run"] = _rate(n, _timed_replay(env, dry_run=True, expected=n))
    copy = [Prefill("", INTO, body, props) for props, body in messages]
    _purge(env.amqp_url)
    result["raw_copy"] = _rate(n, read_s + publish_pipelined(env.amqp_url, copy, window=WINDOW))
    _purge(env.amqp_url)
    result["replay_to_queue"] = _rate(n, _timed_replay(env, dry_run=False, expected=n))
    _purge(env.amqp_url)
    result["dry_run_ratio"] = round(result["replay_dry_run"]["msgs_per_s"] / result["raw_read"]["msgs_per_s"], 3)
    result["to_queue_ratio"] = round(result["replay_to_queue"]["msgs_per_s"] / result["raw_copy"]["msgs_per_s"], 3)
    return result


def _raw_read(amqp_url: str) -> tuple[list[tuple], float]:
    """Every message of the stream with bare pika; the seconds from consume to the last one."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    messages: list[tuple] = []
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1000)
        started = last = time.perf_counter()
        for method, props, body in channel.consume(STREAM, inactivity_timeout=IDLE_S,
                                                   arguments={"x-stream-offset": "first"}):
            if method is None:
                break
            messages.append((props, body))
            last = time.perf_counter()
            if len(messages) % 500 == 0:
                channel.basic_ack(method.delivery_tag, multiple=True)
    finally:
        try:
            connection.close()
        except pika.exceptions.AMQPError:
            pass  # closing a stream consumer with messages buffered: see producers.replay._close
    return messages, last - started


def _timed_replay(env: BenchEnv, *, dry_run: bool, expected: int) -> float:
    request = ReplayRequest("telephony", datetime(1970, 1, 1, tzinfo=timezone.utc), to_queue=INTO, dry_run=dry_run)
    started = time.perf_counter()
    report = replay(env.amqp_url, request, idle_s=IDLE_S)
    seconds = time.perf_counter() - started - IDLE_S
    done = report.matched if dry_run else report.republished
    if done != expected:
        raise RuntimeError(f"replay {'dry run ' if dry_run else ''}handled {done} of {expected} archived messages")
    return seconds


def _purge(amqp_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        connection.channel().queue_purge(INTO)
    finally:
        connection.close()


def _rate(n: int, seconds: float) -> dict:
    return {"msgs_per_s": round(n / seconds, 1), "seconds": round(seconds, 3)}
