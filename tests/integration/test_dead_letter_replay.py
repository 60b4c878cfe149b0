"""Dead letters the broker wrote itself are replayed to where they came from; one that cannot
be routed stays in its dead-letter queue, and the report says why."""

from __future__ import annotations

import pika
import pytest

from broker.declare import declarations, declare_blocking
from schemas.topology import Exchange, QueuePolicy, QueueSpec
from switchboard import deadletters
from tests.support.waiting import wait_until

EXCHANGE = Exchange("dl-test")
SOURCE = QueueSpec("dl-source", EXCHANGE, ("dl.thing",))


def depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


@pytest.fixture
def channel(amqp_url):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for name in (SOURCE.name, SOURCE.dead_letter_queue):
        channel.queue_delete(name)
    declare_blocking(channel, declarations([SOURCE], QueuePolicy("quorum", delivery_limit=1)))
    yield channel
    for name in (SOURCE.name, SOURCE.dead_letter_queue):
        channel.queue_delete(name)
    connection.close()


def dead_letter_by_the_broker(channel) -> None:
    """Publish one message and return it to its queue until the delivery limit makes the broker
    dead-letter it (with x-death, without any x-switchboard-* header)."""
    channel.confirm_delivery()
    channel.basic_publish("dl-test", "dl.thing", b'{"n": 1}', pika.BasicProperties(message_id="m-1", delivery_mode=2))
    for _ in range(2):
        method = wait_until(lambda: channel.basic_get(SOURCE.name)[0], timeout=10, message="nothing to get")
        channel.basic_reject(method.delivery_tag, requeue=True)
    wait_until(lambda: depth(channel, SOURCE.dead_letter_queue) == 1, timeout=10, message="the broker kept it")


@pytest.mark.timeout(60)
def test_a_message_the_broker_dead_lettered_is_described_and_replayed_to_its_origin(channel, amqp_url):
    dead_letter_by_the_broker(channel)
    [letter] = deadletters.listing(amqp_url, SOURCE.dead_letter_queue, deadletters.Filter())
    assert (letter.exchange, letter.routing_key, letter.message_id) == ("dl-test", "dl.thing", "m-1")
    assert "delivery_limit" in letter.reason and "dl-source" in letter.reason
    wait_until(lambda: depth(channel, SOURCE.dead_letter_queue) == 1, timeout=10, message="peek must leave it")

    report = deadletters.replay(amqp_url, SOURCE.dead_letter_queue, deadletters.Filter(), max_replays=3)
    assert (report.done, report.kept) == (1, [])
    method, props, body = wait_until(lambda: (got := channel.basic_get(SOURCE.name, auto_ack=True))[0] and got,
                                     timeout=10, message="not back in its queue")
    assert (method.routing_key, props.message_id, body) == ("dl.thing", "m-1", b'{"n": 1}')
    assert depth(channel, SOURCE.dead_letter_queue) == 0


@pytest.mark.timeout(60)
def test_a_dead_letter_nothing_is_bound_to_any_more_stays_and_is_reported(channel, amqp_url):
    dead_letter_by_the_broker(channel)
    channel.queue_unbind(SOURCE.name, "dl-test", "dl.thing")  # its route is gone
    report = deadletters.replay(amqp_url, SOURCE.dead_letter_queue, deadletters.Filter(), max_replays=3)
    assert report.done == 0
    assert report.kept == ["m-1: nothing is bound to routing key 'dl.thing' on exchange 'dl-test'"]
    wait_until(lambda: depth(channel, SOURCE.dead_letter_queue) == 1, timeout=10,
               message="an unroutable dead letter must stay in its queue")
