"""A consumer stays alive and consuming, or exits loudly with a status that says why."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from broker.declare import declarations, declare_blocking
from consumers.runtime import exits
from consumers.runtime.worker import ConsumerWorker, RuntimeOptions
from schemas.topology import QueuePolicy
from tests.support import broker
from tests.support.ledger import CONSUMER, LEDGER_QUEUE, LEDGER_TOPOLOGY, ledger_deliveries, metadata
from tests.support.ledger_tools import entry, ledger_count, queue_depth
from tests.support.waiting import wait_until

LEDGER_POLICY = QueuePolicy("quorum", delivery_limit=50)


def consumers_on(channel, name: str) -> int:
    return channel.queue_declare(name, passive=True).method.consumer_count


@pytest.mark.timeout(90)
def test_queue_deleted_and_redeclared_under_a_running_consumer(consumer, publisher, ledger_db, ledger_queue):
    process = consumer()
    publisher.publish_outgoing([entry(1)])
    wait_until(lambda: ledger_count(ledger_db) == 1, timeout=30, message="consumer never started")

    # Deleted and declared again at once, as an operator's script would. RabbitMQ 3.10 then
    # keeps counting the old consumer, delivers it nothing and sends no Basic.Cancel.
    ledger_queue.queue_delete(LEDGER_QUEUE.name)
    declare_blocking(ledger_queue, declarations([LEDGER_QUEUE], LEDGER_POLICY))
    publisher.publish_outgoing([entry(2), entry(3)])
    # Found within about two management statistics intervals (consumers/runtime/attachment.py).
    wait_until(lambda: ledger_count(ledger_db) == 3, timeout=30, message="nothing consumed after the re-declare")
    assert process.saw("consumer_cancelled_by_broker") or process.saw("consumer_forgotten_by_broker")
    assert process.process.poll() is None


@pytest.mark.timeout(60)
def test_queue_deleted_under_a_running_consumer_is_declared_again(consumer, publisher, ledger_db, ledger_queue):
    process = consumer()
    publisher.publish_outgoing([entry(1)])
    wait_until(lambda: ledger_count(ledger_db) == 1, timeout=30, message="consumer never started")

    ledger_queue.queue_delete(LEDGER_QUEUE.name)  # the broker cancels the consumer (Basic.Cancel)
    wait_until(lambda: process.saw("consumer_cancelled_by_broker"), timeout=10,
               message="the broker's cancel never reached the consumer")
    wait_until(lambda: consumers_on(ledger_queue, LEDGER_QUEUE.name) == 1, timeout=10,
               message="the consumer did not declare its queue again and consume from it")
    publisher.publish_outgoing([entry(2)])
    wait_until(lambda: ledger_count(ledger_db) == 2, timeout=10, message="nothing consumed after the cancel")
    assert process.process.poll() is None


@pytest.mark.timeout(60)
def test_worker_exits_non_zero_when_its_amqp_io_thread_dies(amqp_url, engine, ledger_db, ledger_queue, test_vhost):
    options = RuntimeOptions(prefetch=10, batch_size=10, policy=LEDGER_POLICY, topology=LEDGER_TOPOLOGY)
    worker = ConsumerWorker(CONSUMER, amqp_url=amqp_url, engine=engine, options=options)
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(worker.run()), daemon=True)
    thread.start()
    try:
        assert worker.link.wait_ready(20), "the worker never connected"

        def callback_bug() -> None:
            raise RuntimeError("a bug in a callback on the I/O thread")

        worker.link.call_soon(callback_bug)
        thread.join(timeout=20)
        assert not thread.is_alive(), "the worker idles with a dead I/O thread"
        assert status == [exits.SOFTWARE]
        assert "a bug in a callback" in str(worker.link.failure)
        # Nothing runs the dead loop any more: the link closed its socket itself.
        wait_until(lambda: not any(c["connection_name"] == "consumer-ledger" for c in broker.list_connections(test_vhost)),
                   timeout=10, message="the dead link's connection is still open on the broker")
    finally:
        worker.stop()


@pytest.mark.timeout(60)
def test_refused_credentials_exit_at_once_and_are_not_retried(service_env, amqp_url, ledger_queue, spawn):
    wrong = amqp_url.replace("guest:guest@", "guest:not-the-password@")
    process = spawn({**service_env, "SWITCHBOARD_AMQP_URL": wrong}, "consumer")
    assert process.process.wait(timeout=30) == exits.CONFIG
    failures = [e for e in process.events() if e.get("event") == "amqp_link_failed"]
    assert len(failures) == 1 and "refused the credentials" in failures[0]["error"]
    assert not process.saw("amqp_connect_failed"), "refused credentials must not be retried"


@pytest.mark.timeout(60)
def test_unreachable_broker_spends_the_reconnect_budget_then_exits(service_env, spawn):
    nowhere = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens on port 1: connection refused
    process = spawn({**service_env, "SWITCHBOARD_AMQP_URL": nowhere, "LEDGER_RECONNECT_BUDGET_S": "2"}, "consumer")
    assert process.process.wait(timeout=40) == exits.UNAVAILABLE
    attempts = [e for e in process.events() if e.get("event") == "amqp_connect_failed"]
    assert len(attempts) >= 2, "it must have retried within its budget"
    assert any("not reachable for 2s" in e.get("error", "") for e in process.events())


@pytest.fixture
def unmigrated_database_url(database_url):
    from sqlalchemy.engine import make_url

    from storage.database import drop_database, ensure_database

    url = make_url(database_url)
    url = url.set(database=f"{url.database}_empty").render_as_string(hide_password=False)
    ensure_database(url)
    yield url
    drop_database(url)


@pytest.mark.timeout(60)
def test_consumer_refuses_to_start_on_a_database_behind_the_migrations(
        service_env, unmigrated_database_url, publisher, ledger_queue, spawn):
    publisher.publish_outgoing([entry(1)])
    process = spawn({**service_env, "SWITCHBOARD_DATABASE_URL": unmigrated_database_url}, "consumer")
    assert process.process.wait(timeout=30) == exits.CONFIG
    refusal = [e for e in process.events() if e.get("event") == "consumer_refused_to_start"]
    assert refusal and "run `switchboard migrate`" in refusal[0]["error"]
    assert queue_depth(ledger_queue, LEDGER_QUEUE.name) == 1, "it must not have consumed anything"
    assert queue_depth(ledger_queue, LEDGER_QUEUE.dead_letter_queue) == 0


@pytest.mark.timeout(90)
def test_a_missing_table_is_waited_out_like_an_outage_never_dead_lettered(consumer, publisher, ledger_db, ledger_queue):
    process = consumer()
    publisher.publish_outgoing([entry(0)])
    wait_until(lambda: ledger_count(ledger_db) == 1, timeout=30, message="consumer never started")
    with ledger_db.begin() as connection:
        connection.execute(text(f"DROP TABLE {ledger_deliveries.name}"))

    publisher.publish_outgoing([entry(s) for s in range(1, 11)])
    wait_until(lambda: any(e.get("event") == "database_unavailable" and "42P01" in e.get("error", "")
                           for e in process.events()), timeout=30, message="the missing table was never met")
    metadata.create_all(ledger_db)  # the deployment is fixed
    wait_until(lambda: ledger_count(ledger_db) == 11, timeout=60, message="the batch never committed after the fix")
    assert queue_depth(ledger_queue, LEDGER_QUEUE.dead_letter_queue) == 0
    assert not process.saw("message_dead_lettered")
