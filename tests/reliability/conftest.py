"""Fixtures for runtime tests driven through the ledger test consumer."""

from __future__ import annotations

import pika
import pytest

from broker.declare import declarations, declare_blocking
from producers.publisher import Publisher
from schemas.topology import QueuePolicy
from tests.support.ledger import LEDGER_QUEUE, SINK_QUEUE, metadata
from tests.support.processes import ConsumerProcess


@pytest.fixture
def ledger_db(engine):
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)


@pytest.fixture
def ledger_queue(amqp_url):
    """A fresh ledger queue (and dead-letter queue) in the test vhost; no sink queue, so the
    ledger consumer's emits are unroutable unless a test declares it."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for spec in (LEDGER_QUEUE, SINK_QUEUE):
        channel.queue_delete(spec.name)
        channel.queue_delete(spec.dead_letter_queue)
    declare_blocking(channel, declarations([LEDGER_QUEUE], QueuePolicy("quorum", delivery_limit=50)))
    yield channel
    if connection.is_open:
        connection.close()


@pytest.fixture
def publisher(amqp_url):
    with Publisher(amqp_url, name="test-publisher") as publisher:
        yield publisher


@pytest.fixture
def consumer(service_env, ledger_db, ledger_queue, tmp_path):
    """Factory: start ledger consumer processes; all are killed at teardown."""
    started: list[ConsumerProcess] = []

    def start(**env) -> ConsumerProcess:
        process = ConsumerProcess({**service_env, **env}, tmp_path / "consumer.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
