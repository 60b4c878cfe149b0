"""The bench's own RabbitMQ vhost and PostgreSQL database: created, reset between cases, dropped."""

from __future__ import annotations

import os
import platform
import secrets
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pika
import psycopg2
from sqlalchemy.engine import make_url

from broker.declare import declarations, declare_blocking
from schemas.topology import EXCHANGES, QUEUES, QueuePolicy
from storage.database import drop_database
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
AMQP_SERVER = os.environ.get("BENCH_AMQP_SERVER", "amqp://guest:guest@127.0.0.1:5672")
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Tariffs and applications stay: billing and event sessions need them.
EFFECT_TABLES = ("call_records", "calls", "priced_calls", "deliveries", "notifications", "contacts", "order_events",
                 "orders", "events", "sessions", "event_errors", "plans")


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


@dataclass(frozen=True)
class BenchEnv:
    vhost: str
    amqp_url: str
    database_url: str

    @property
    def dsn(self) -> str:
        """The database URL as libpq understands it (psycopg2.connect)."""
        return make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def process_env(self) -> dict[str, str]:
        """Environment for switchboard (and baseline) processes pointed at this vhost and database."""
        return {
            **os.environ,
            "SWITCHBOARD_AMQP_URL": self.amqp_url,
            "SWITCHBOARD_DATABASE_URL": self.database_url,
            "SWITCHBOARD_LOG_FORMAT": "json",
            "SWITCHBOARD_LOG_LEVEL": "INFO",
            "SWITCHBOARD_METRICS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
        }

    def reset(self) -> None:
        """Empty every queue and every effect table: each case starts from nothing."""
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = connection.channel()
            for queue in QUEUES:
                channel.queue_purge(queue.name)
                channel.queue_purge(queue.dead_letter_queue)
        finally:
            connection.close()
        with psycopg2.connect(self.dsn) as db, db.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(EFFECT_TABLES)}")
        db.close()

    def queue_depth(self, queue: str) -> int:
        """Messages ready in `queue` (passive declare: current, unlike the management stats)."""
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            return connection.channel().queue_declare(queue, passive=True).method.message_count
        finally:
            connection.close()

    def execute(self, statement: str) -> None:
        with psycopg2.connect(self.dsn) as db, db.cursor() as cursor:
            cursor.execute(statement)
        db.close()

    def count(self, query: str) -> int:
        with psycopg2.connect(self.dsn) as db, db.cursor() as cursor:
            cursor.execute(query)
            value = cursor.fetchone()[0]
        db.close()
        return int(value)


@contextmanager
def bench_env() -> Iterator[BenchEnv]:
    """A vhost and a migrated database of this run, with the fleet's topology; dropped afterwards."""
    suffix = f"{os.getpid()}-{secrets.token_hex(3)}"
    vhost = f"switchboard-bench-{suffix}"
    database_url = make_url(POSTGRES_URL).set(database="switchboard_bench_" + suffix.replace("-", "_"))
    database_url = database_url.render_as_string(hide_password=False)
    env = BenchEnv(vhost, f"{AMQP_SERVER}/{quote(vhost, safe='')}", database_url)
    try:
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        upgrade(database_url)
        _declare_topology(env.amqp_url)
        yield env
    finally:
        _quietly(rabbitmqctl, "delete_vhost", vhost)
        _quietly(drop_database, database_url)


def _declare_topology(amqp_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        declare_blocking(connection.channel(), declarations(QUEUES, QueuePolicy(), EXCHANGES))
    finally:
        connection.close()


def _quietly(action, *args) -> None:
    try:
        action(*args)
    except Exception as error:  # noqa: BLE001 - cleanup must try everything
        print(f"bench: cleanup failed: {error}")


def machine(env: BenchEnv) -> dict:
    """What the figures were measured on."""
    connection = pika.BlockingConnection(pika.URLParameters(env.amqp_url))
    try:
        server = connection._impl.server_properties  # pika has no public accessor for them
    finally:
        connection.close()
    with psycopg2.connect(env.dsn) as db, db.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    db.close()
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pika": pika.__version__,
        "rabbitmq": _text(server.get("version")),
        "erlang": _text(server.get("platform")),
        "postgresql": postgres,
    }


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
