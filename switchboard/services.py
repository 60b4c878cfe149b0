"""Waiting for RabbitMQ and PostgreSQL, with a message that says how to start them."""

from __future__ import annotations

import kombu
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tenacity import RetryError, Retrying, stop_after_delay, wait_fixed

from storage.database import make_engine

HOW_TO_START = {
    "RabbitMQ": "start it with `rabbitmq-server -detached` (or `docker compose up -d rabbitmq`)",
    "PostgreSQL": "start it with `pg_ctlcluster <version> main start` (or `docker compose up -d postgres`)",
}


class ServiceUnavailable(Exception):
    pass


def wait_for_rabbitmq(amqp_url: str, timeout: float) -> None:
    _wait("RabbitMQ", timeout, lambda: _probe_rabbitmq(amqp_url))


def wait_for_postgres(database_url: str, timeout: float) -> None:
    _wait("PostgreSQL", timeout, lambda: _probe_postgres(database_url))


def _probe_rabbitmq(amqp_url: str) -> None:
    with kombu.Connection(amqp_url, connect_timeout=2) as connection:
        connection.connect()


def _probe_postgres(database_url: str) -> None:
    # The server's own `postgres` database: ours may not exist before `migrate` creates it.
    server = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    engine = make_engine(server, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _wait(service: str, timeout: float, probe) -> None:
    """Probe every half second until it succeeds; any failure means "not yet"."""
    try:
        Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(0.5))(probe)
    except RetryError as gave_up:
        error = gave_up.last_attempt.exception()
        raise ServiceUnavailable(
            f"{service} is not reachable after {timeout:.0f}s ({type(error).__name__}); {HOW_TO_START[service]}"
        ) from None
