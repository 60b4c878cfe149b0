"""The HTTP gateway under load, from a load generator that keeps its connections open.

- POST /events, one event per request, paced at `rate` requests/s (open loop: a request is
  sent at its time whether or not earlier ones were answered): latency from send to 202.
- POST /events, batches of 100, from `CLIENTS` clients back to back: events/s accepted.
- GET /search over the plans the plan bench stored (one-week windows), `CLIENTS` clients
  back to back: requests/s and latency, twice: every window drawn at random from 40 years
  (nearly every answer read from PostgreSQL), then windows starting on one of 90 days (as a
  web application's visitors look at the coming weeks: answered from the gateway's cache).
The gateway runs as `switchboard serve` and posts as `guest` (registered as an application in
the bench database, as the event-sessions case does). Like the direct-AMQP producer figures, the
POSTs are measured with no consumer sharing the two cores; the event-sessions consumer then
drains the queue, and every accepted event must be stored (`stored` in the result).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

from bench.env import BenchEnv
from bench.http_load import Connections, get, post_json
from bench.measure import percentile, wait_until
from bench.processes import BenchProcess, consumer_process

CLIENTS = 16
BATCH = 100


def bench_gateway(env: BenchEnv, log_dir: Path, *, rate: float, seconds: float) -> dict:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    gateway = BenchProcess(["switchboard", "serve", "--port", str(port)], env.process_env(),
                           log_dir / "gateway.log", ready_event="amqp_connected")
    try:
        gateway.start().wait_ready()
        wait_until(lambda: _ready(base), timeout=30, what="gateway ready")
        search = asyncio.run(_search_load(base, seconds, _random_windows(random.Random(3))))
        search_repeated = asyncio.run(_search_load(base, seconds, _repeated_windows(random.Random(4))))
        env.reset()
        env.execute("INSERT INTO applications (name) VALUES ('guest') ON CONFLICT DO NOTHING")
        single = asyncio.run(_paced_singles(base, rate, seconds))
        batches = asyncio.run(_batches(base, seconds))
    finally:
        gateway.stop()
    accepted = single["requests"] - single["non_202"] + batches["accepted"]
    return {"single": single, "batches": batches, "search": search, "search_repeated": search_repeated,
            "accepted": accepted,
            "stored": _drained(env, log_dir, accepted), "gateway_peak_rss_mb": round(gateway.peak_rss / 2**20, 1)}


def _drained(env: BenchEnv, log_dir: Path, accepted: int) -> int:
    """Events stored once the event-sessions consumer drained what the gateway accepted."""
    consumer = consumer_process("event-sessions", env.process_env(), log_dir)
    try:
        consumer.start().wait_ready()
        wait_until(lambda: env.count("SELECT count(*) FROM events") >= accepted, timeout=300,
                   what=f"the {accepted:,} accepted events stored")
    except TimeoutError:
        pass  # reported: stored < accepted
    finally:
        consumer.stop()
    return env.count("SELECT count(*) FROM events")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _event(session: str, number: int) -> dict:
    moment = datetime(2024, 3, 1, tzinfo=timezone.utc) + timedelta(milliseconds=number)
    return {"session_id": session, "category": "page interaction", "name": "pageview",
            "timestamp": moment.isoformat(), "data": {"host": "shop.example.com", "path": f"/p/{number}"}}


def _connections(base: str, size: int) -> Connections:
    parts = urlsplit(base)
    return Connections(parts.hostname, parts.port, size)


async def _paced_singles(base: str, rate: float, seconds: float) -> dict:
    latencies, statuses = [], []
    session, host = str(uuid.uuid4()), urlsplit(base).netloc
    async with _connections(base, 64) as client:
        async def one(number: int) -> None:
            started = time.perf_counter()
            status, _body = await client.send(post_json("/events", host, _event(session, number), "guest", "guest"))
            latencies.append((time.perf_counter() - started) * 1000)
            statuses.append(status)

        tasks, started = [], time.perf_counter()
        for number in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(number)))
        await asyncio.gather(*tasks)
        took = time.perf_counter() - started
    return {"requests": len(latencies), "rate_target": rate, "rate_achieved": round(len(latencies) / took, 1),
            "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
            "non_202": sum(1 for status in statuses if status != 202)}


async def _closed_loop(seconds: float, request) -> tuple[list[float], int, float]:
    latencies, failures = [], 0
    deadline = time.perf_counter() + seconds

    async def client_loop(worker: int) -> None:
        nonlocal failures
        number = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await request(worker, number)
            latencies.append((time.perf_counter() - started) * 1000)
            failures += not ok
            number += 1

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(worker) for worker in range(CLIENTS)))
    return latencies, failures, time.perf_counter() - started


async def _batches(base: str, seconds: float) -> dict:
    sessions, host = [str(uuid.uuid4()) for _ in range(CLIENTS)], urlsplit(base).netloc
    async with _connections(base, CLIENTS) as client:
        async def post(worker: int, number: int) -> bool:
            batch = [_event(sessions[worker], number * BATCH + k) for k in range(BATCH)]
            status, body = await client.send(post_json("/events", host, batch, "guest", "guest"))
            return status == 202 and json.loads(body)["accepted"] == BATCH

        latencies, failures, took = await _closed_loop(seconds, post)
    accepted = (len(latencies) - failures) * BATCH
    return {"requests": len(latencies), "accepted": accepted, "events_per_s": round(accepted / took, 1),
            "p99_ms": round(percentile(latencies, 99), 1), "failed": failures}


def _random_windows(rng: random.Random):
    while True:
        yield datetime(2000, 1, 1) + timedelta(days=rng.randrange(40 * 365 - 7))


def _repeated_windows(rng: random.Random, days: int = 90):
    while True:
        yield datetime(2027, 1, 1) + timedelta(days=rng.randrange(days))


async def _search_load(base: str, seconds: float, starts) -> dict:
    host = urlsplit(base).netloc
    async with _connections(base, CLIENTS) as client:
        async def search(_worker: int, _number: int) -> bool:
            start = next(starts)
            query = urlencode({"starts_at": start.isoformat(), "ends_at": (start + timedelta(days=7)).isoformat()})
            status, _body = await client.send(get(f"/search?{query}", host))
            return status == 200

        latencies, failures, took = await _closed_loop(seconds, search)
    return {"requests": len(latencies), "requests_per_s": round(len(latencies) / took, 1),
            "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
            "failed": failures}
