"""Notification bench: the sms and email paths against bare clients, and memory with many sends
scheduled for later.

- Switchboard: the channel's queue pre-filled with N notification requests for one contact;
  `switchboard run <channel>` and `switchboard dispatch <channel>` as processes; timed from the
  consumer consuming until N deliveries are `sent`: record, claim, send, settle.
- Raw baseline (same run, same sink): bare httpx posting N bodies over one keep-alive
  connection; bare smtplib sending N messages over one session (bench/delivery_raw.py).
- Sinks: a local HTTP gateway and SMTP server that accept at once, in a process of their own.
- Memory: 100,000 requests scheduled a day ahead; peak RSS of the consumer and the dispatcher
  once every one is recorded and the dispatcher has gone round a few times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2

from bench.baselines import publish_pipelined
from bench.env import ROOT, BenchEnv
from bench.measure import wait_until
from bench.processes import BenchProcess
from bench.workload import Prefill, as_prefill
from schemas.notifications import ContactUpserted, NotificationRequested

CONTACT = ContactUpserted(id="bench", updated_at="2026-01-01T00:00:00Z", email="ana@example.com",
                          phone="+5511987654321")


def requests(n: int, channel: str, send_at: datetime | None = None) -> list[NotificationRequested]:
    return [NotificationRequested(id=f"bench-{i}", contact_id="bench", subject="Order",
                                  body=f"Your order {i} is ready for pick-up.", channels=[channel], send_at=send_at)
            for i in range(n)]


class Sink:
    def __init__(self, kind: str, port: int):
        self._process = subprocess.Popen([sys.executable, "-m", "bench.delivery_raw", "sink", kind, str(port)],
                                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self._process.stdout.readline()  # "ready"

    def stop(self) -> None:
        self._process.kill()
        self._process.wait()


def bench_channel(env: BenchEnv, channel: str, n: int, log_dir: Path) -> dict:
    port = _free_port()
    sink = Sink("http" if channel == "sms" else "smtp", port)
    try:
        raw = _raw(channel, n, port)
        ours = _switchboard(env, channel, n, port, log_dir)
    finally:
        sink.stop()
    return {"raw": raw, "switchboard": ours, "ratio": round(ours["msgs_per_s"] / raw["msgs_per_s"], 3)}


def _raw(channel: str, n: int, port: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.delivery_raw", "send", channel, str(n), str(port)],
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    seconds = json.loads(done.stdout)["seconds"]
    return {"messages": n, "seconds": round(seconds, 3), "msgs_per_s": round(n / seconds, 1)}


def _switchboard(env: BenchEnv, channel: str, n: int, port: int, log_dir: Path) -> dict:
    _prepare(env, channel, requests(n, channel))
    process_env = {**env.process_env(), "SWITCHBOARD_SMS_GATEWAY_URL": f"http://127.0.0.1:{port}/sms",
                   "SWITCHBOARD_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    consumer, dispatcher = _processes(channel, process_env, log_dir)
    try:
        started = consumer.wait_ready()
        dispatcher.wait_ready()
        query = f"SELECT count(*) FROM deliveries WHERE channel = '{channel}' AND status = 'sent'"
        finished = wait_until(lambda: env.count(query) >= n, timeout=max(120.0, n / 50), what=f"{channel} sent")
    finally:
        for process in (consumer, dispatcher):
            process.stop()
    seconds = finished - started
    return {"messages": n, "seconds": round(seconds, 3), "msgs_per_s": round(n / seconds, 1),
            "peak_rss_mb": round(max(consumer.peak_rss, dispatcher.peak_rss) / 2**20, 1)}


def bench_scheduled_memory(env: BenchEnv, n: int, log_dir: Path) -> dict:
    channel = "sms"
    _prepare(env, channel, requests(n, channel, send_at=datetime.now(timezone.utc) + timedelta(days=1)))
    consumer, dispatcher = _processes(channel, {**env.process_env(), "SWITCHBOARD_SMS_GATEWAY_URL":
                                                "http://127.0.0.1:9/sms"}, log_dir)
    try:
        consumer.wait_ready()
        dispatcher.wait_ready()
        query = "SELECT count(*) FROM deliveries WHERE status = 'scheduled'"
        wait_until(lambda: env.count(query) >= n, timeout=max(120.0, n / 500), what="all scheduled")
        time.sleep(3.0)  # the dispatcher goes round a few times with them all waiting
    finally:
        for process in (consumer, dispatcher):
            process.stop()
    return {"scheduled": n, "consumer_peak_rss_mb": round(consumer.peak_rss / 2**20, 1),
            "dispatcher_peak_rss_mb": round(dispatcher.peak_rss / 2**20, 1)}


def _prepare(env: BenchEnv, channel: str, messages: list[NotificationRequested]) -> None:
    env.reset()
    with psycopg2.connect(env.dsn) as db, db.cursor() as cursor:
        cursor.execute("INSERT INTO contacts (id, email, email_at, phone, phone_at, updated_at) "
                       "VALUES ('bench', 'ana@example.com', now(), '+5511987654321', now(), now())")
    db.close()
    # Straight into the channel's queue (the exchange would fan out to both channels).
    publish_pipelined(env.amqp_url, [Prefill("", channel, m.body, m.properties) for m in as_prefill(messages)])


def _processes(channel: str, process_env: dict, log_dir: Path) -> tuple[BenchProcess, BenchProcess]:
    consumer = BenchProcess(["switchboard", "run", channel], process_env, log_dir / f"{channel}.log").start()
    dispatcher = BenchProcess(["switchboard", "dispatch", channel], process_env,
                              log_dir / f"{channel}-dispatcher.log", ready_event="dispatcher_started").start()
    return consumer, dispatcher


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
