"""A broker resource alarm blocks the consumer's confirms: it waits, and gives nothing back.

RabbitMQ 3.10 counts every return of a message to a quorum queue (a closed channel with the
message unacked, nack or reject with requeue) against its delivery limit. A worker that gave
its channel up whenever confirms were slow would return its whole prefetch each time, and a
long enough alarm would dead-letter healthy messages. This test runs with a delivery limit
of 1: a single give-up would dead-letter everything the consumer held.
"""

from __future__ import annotations

import pytest

from broker.declare import declarations, declare_blocking
from schemas.topology import QueuePolicy
from tests.support import broker
from tests.support.ledger import LEDGER_QUEUE, SINK_QUEUE
from tests.support.ledger_tools import delivery_stats, entry, ledger_count, queue_depth
from tests.support.waiting import wait_until


@pytest.fixture
def memory_alarm():
    """Raise and clear the broker's memory alarm (node-wide: every publishing connection blocks)."""
    original = broker.rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()
    restore = ["absolute", original.split(",")[1].strip(" }")] if original.startswith("{absolute") else [original]

    class Alarm:
        def raise_(self) -> None:
            broker.rabbitmqctl("set_vm_memory_high_watermark", "0.000001")

        def clear(self) -> None:
            broker.rabbitmqctl("set_vm_memory_high_watermark", *restore)

    alarm = Alarm()
    try:
        yield alarm
    finally:
        alarm.clear()


@pytest.mark.timeout(240)
def test_healthy_messages_survive_a_memory_alarm_that_blocks_the_consumers_confirms(
        consumer, publisher, ledger_db, ledger_queue, memory_alarm):
    strict = QueuePolicy("quorum", delivery_limit=1)
    for name in (LEDGER_QUEUE.name, LEDGER_QUEUE.dead_letter_queue):
        ledger_queue.queue_delete(name)
    declare_blocking(ledger_queue, declarations([LEDGER_QUEUE, SINK_QUEUE], strict))
    total = 4000
    publisher.publish_outgoing([entry(s) for s in range(total)])
    process = consumer(LEDGER_EMIT="1", LEDGER_SLOW_MS="20", LEDGER_DELIVERY_LIMIT="1")
    wait_until(lambda: ledger_count(ledger_db) >= 400, timeout=60, message="consumer made no progress")

    memory_alarm.raise_()
    try:
        wait_until(lambda: process.saw("amqp_connection_blocked"), timeout=30,
                   message="the alarm never blocked the consumer's connection")
        # Three slow-confirm warnings, 10 s apart: held for longer than the 30 s confirm timeout
        # after which the runtime used to give its channel up (and the prefetch back).
        wait_until(lambda: process.count("confirm_wait_slow") >= 3, timeout=90,
                   message="the confirms were never held up for 30 s")
    finally:
        memory_alarm.clear()

    wait_until(lambda: ledger_count(ledger_db) == total, timeout=120,
               message=lambda: f"{ledger_count(ledger_db)} of {total} committed after the alarm")
    assert queue_depth(ledger_queue, LEDGER_QUEUE.dead_letter_queue) == 0, "healthy messages were dead-lettered"
    assert not process.saw("amqp_reconnecting") and not process.saw("amqp_connection_lost")
    stats = delivery_stats(ledger_db)
    assert stats["redelivered"] == 0 and stats["handled_again"] == 0, stats
    # A batch commits before its emits are published: they follow.
    wait_until(lambda: queue_depth(ledger_queue, SINK_QUEUE.name) == total, timeout=30,
               message=lambda: f"{queue_depth(ledger_queue, SINK_QUEUE.name)} of {total} emits arrived")
