"""Graceful shutdown, and unroutable publishes reported to the caller."""

from __future__ import annotations

import pytest

from broker.errors import Unroutable
from broker.envelope import Outgoing
from tests.support.ledger_tools import delivery_stats, entry, ledger_count, queue_depth
from tests.support.waiting import wait_until


@pytest.mark.timeout(120)
def test_sigterm_mid_stream_drains_and_exits_zero(consumer, publisher, ledger_db, ledger_queue):
    total = 5000
    publisher.publish_outgoing([entry(s) for s in range(total)])
    process = consumer(LEDGER_SLOW_MS="50")
    wait_until(lambda: ledger_count(ledger_db) >= 500, timeout=30, message="consumer made no progress")

    assert process.terminate(timeout=20) == 0
    done = ledger_count(ledger_db)
    left = queue_depth(ledger_queue, "ledger")
    assert 0 < done < total, "SIGTERM must have arrived mid-stream"
    assert done + left == total, f"{done} committed + {left} still queued != {total}: something was lost"
    assert process.saw("consumer_stopped")

    consumer()  # a successor finishes the rest without redoing anything
    wait_until(lambda: ledger_count(ledger_db) == total, timeout=60, message="successor did not finish")
    # Deliveries in flight when the consumer was cancelled are requeued unhandled (pika rejects
    # them), so the redelivered flag alone proves nothing; what must not happen is a message
    # whose effect was committed coming back: the drained consumer acked all it handled.
    assert delivery_stats(ledger_db)["handled_again"] == 0, "a message was handled twice"


@pytest.mark.timeout(30)
def test_publish_to_unbound_routing_key_raises(publisher, ledger_queue):
    with pytest.raises(Unroutable, match="nobody.home"):
        publisher.publish_outgoing([Outgoing("ledger-test", "nobody.home", b"{}", "lost-1")])
    publisher.publish_outgoing([entry(1)])  # the publisher is still usable afterwards


@pytest.mark.timeout(60)
def test_heartbeats_survive_a_handler_slower_than_the_heartbeat_timeout(consumer, publisher, ledger_db, ledger_queue):
    publisher.publish_outgoing([entry(s) for s in range(3)])
    # RabbitMQ closes a connection after two missed heartbeats (2 s here); each batch takes 4 s.
    process = consumer(LEDGER_SLOW_MS="4000", LEDGER_HEARTBEAT_S="1")
    wait_until(lambda: ledger_count(ledger_db) == 3, timeout=30, message="slow batch never committed")
    publisher.publish_outgoing([entry(3)])
    wait_until(lambda: ledger_count(ledger_db) == 4, timeout=30, message="second slow batch never committed")
    assert not process.saw("amqp_connection_lost"), "the broker dropped the connection during a slow handler"
    assert delivery_stats(ledger_db)["redelivered"] == 0


@pytest.mark.timeout(90)
def test_batch_held_by_an_unroutable_emit_is_never_covered_by_a_later_ack(consumer, publisher, ledger_db, ledger_queue):
    from tests.support.ledger import EMIT

    # The sink queue is not declared: the emit of entry 0 comes back unroutable.
    publisher.publish_outgoing([entry(0, pad=EMIT)] + [entry(s) for s in range(1, 400)])
    process = consumer(LEDGER_BATCH_SIZE="100")
    wait_until(lambda: process.saw("emit_failed"), timeout=30, message="the emit never failed")

    assert process.terminate(timeout=30) == 0
    assert not process.saw("amqp_reconnecting"), "holding a batch must not give its channel up"
    # No later batch may have been acked during the shutdown: an ack(multiple) would have
    # settled the held batch with it. The message that emits must still be queued.
    wait_until(lambda: queue_depth(ledger_queue, "ledger") > 0, timeout=10, message="held batch was acked")
    queued = set()
    while (got := ledger_queue.basic_get("ledger", auto_ack=True))[0] is not None:
        queued.add(got[1].message_id)
    assert "entry-0" in queued


@pytest.mark.timeout(30)
def test_unroutable_message_is_reported_when_its_id_is_in_flight_twice(publisher, ledger_queue):
    ledger_queue.queue_declare("plain", arguments={"x-queue-type": "classic"})
    ledger_queue.queue_bind("plain", "ledger-test", "plain.entry")
    routable = Outgoing("ledger-test", "plain.entry", b"{}", "same-id")
    unroutable = Outgoing("ledger-test", "nobody.home", b"{}", "same-id")
    for _ in range(20):  # a classic queue confirms at once: both acks tend to come as one
        with pytest.raises(Unroutable) as raised:
            publisher.publish_outgoing([routable, unroutable])
        assert raised.value.routing_key == "nobody.home"
    assert queue_depth(ledger_queue, "plain") == 20
    ledger_queue.queue_delete("plain")
