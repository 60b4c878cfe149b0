"""Ask for a bill over AMQP (RPC with RabbitMQ's direct reply-to), using kombu.

    reply = request_bill(amqp_url, "99988526423", "2017-12")   # a Bill or a BillError

A short-lived request/response is kombu's strength (one connection, a pseudo-queue consumer,
drain_events with a timeout); the fleet's hot paths use pika (docs/architecture.md).
"""

from __future__ import annotations

import json
import uuid

import kombu
from kombu import Consumer, Producer, Queue

from schemas.telephony import Bill, BillError, BillRequest

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


class BillUnavailable(Exception):
    """Nobody can answer: the request was not routed, or no reply came in time."""


class BillTimeout(BillUnavailable, TimeoutError):
    pass


def request_bill(amqp_url: str, subscriber: str, period: str | None = None, timeout: float = 10.0) -> Bill | BillError:
    request = BillRequest(subscriber=subscriber, period=period)
    correlation_id = uuid.uuid4().hex
    replies: list[bytes] = []
    returned: list[str] = []

    def on_reply(message) -> None:
        if message.properties.get("correlation_id") == correlation_id:
            replies.append(message.body)

    with kombu.Connection(amqp_url, connect_timeout=5) as connection:
        channel = connection.channel()
        # Direct reply-to requires consuming from the pseudo-queue before publishing.
        consumer = Consumer(channel, queues=[Queue(DIRECT_REPLY_TO, no_declare=True)], no_ack=True, on_message=on_reply)
        consumer.consume()
        producer = Producer(channel, on_return=lambda _error, exchange, routing_key, _message: returned.append(
            f"nothing is bound to routing key {routing_key!r} on exchange {exchange!r}: run `switchboard topology`"))
        producer.publish(
            request.to_json_bytes(),
            exchange=request.exchange.name,
            routing_key=request.routing_key(),
            content_type="application/json",
            content_encoding="utf-8",
            reply_to=DIRECT_REPLY_TO,
            correlation_id=correlation_id,
            message_id=correlation_id,
            type=request.message_type,
            mandatory=True,
        )
        try:
            while not replies:
                if returned:
                    raise BillUnavailable(returned[0])
                connection.drain_events(timeout=timeout)
        except TimeoutError:
            raise BillTimeout(f"no reply to the bill request within {timeout:.0f}s; is the bill-requests consumer running?") from None
    data = json.loads(replies[0])
    return BillError(**data) if "error" in data else Bill.model_validate(data)
