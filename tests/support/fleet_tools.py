"""Helpers for tests that drive the real fleet: counts in the store, dead letters in the broker."""

from __future__ import annotations

import pika
from sqlalchemy import text

from schemas.topology import QUEUES


def count(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def error_reasons(engine) -> list[str]:
    """The reasons of the refused events stored so far, for failure messages."""
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT reason FROM event_errors ORDER BY received_at")).scalars())


def purge_fleet_queues(amqp_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for queue in QUEUES:
        channel.queue_purge(queue.name)
        channel.queue_purge(queue.dead_letter_queue)
    connection.close()


def dead_letters(amqp_url: str, queue: str) -> list[tuple[bytes, dict]]:
    """(body, headers) of every message in `queue`.dead, consumed."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    found = []
    while True:
        method, props, body = channel.basic_get(f"{queue}.dead", auto_ack=True)
        if method is None:
            break
        found.append((body, props.headers))
    connection.close()
    return found
