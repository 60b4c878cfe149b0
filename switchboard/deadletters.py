"""Dead-letter queues for operators: look at what was refused and why; replay it after a fix.

Operator tooling, not a hot path, so it uses kombu (docs/architecture.md): `get` without
ack to peek (closing the channel returns the messages), and a confirming producer to replay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import kombu
from kombu import Producer, Queue

from consumers.runtime import deadletter

PREVIEW_BYTES = 200


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    reason: str | None
    consumer: str | None
    dead_lettered_at: str | None
    routing_key: str | None
    body_preview: str

    def as_dict(self) -> dict:
        return asdict(self)


def peek(amqp_url: str, dead_letter_queue: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` dead letters, left in place."""
    with kombu.Connection(amqp_url, connect_timeout=5) as connection:
        channel = connection.channel()
        queue = Queue(dead_letter_queue, no_declare=True).bind(channel)
        found = []
        while len(found) < limit and (message := queue.get(no_ack=False)) is not None:
            found.append(_describe(message))
        channel.close()  # un-acked: the broker puts them back
    return found


def replay(amqp_url: str, dead_letter_queue: str, limit: int) -> int:
    """Publish up to `limit` dead letters again to where they were first sent; ack each once confirmed."""
    replayed = 0
    with kombu.Connection(amqp_url, connect_timeout=5, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        queue = Queue(dead_letter_queue, no_declare=True).bind(channel)
        producer = Producer(channel)
        while replayed < limit and (message := queue.get(no_ack=False)) is not None:
            _republish(producer, message)
            message.ack()
            replayed += 1
    return replayed


def _republish(producer: Producer, message) -> None:
    original = message.headers or {}
    headers = {k: v for k, v in original.items() if not k.startswith("x-switchboard-")}
    props = message.properties
    producer.publish(
        message.body,
        exchange=original.get(deadletter.ORIGINAL_EXCHANGE, ""),
        routing_key=original.get(deadletter.ORIGINAL_ROUTING_KEY, ""),
        content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding or "utf-8",
        headers=headers,
        message_id=props.get("message_id"),
        type=props.get("type"),
        correlation_id=props.get("correlation_id"),
        reply_to=props.get("reply_to"),
        delivery_mode=2,
        mandatory=True,
    )


def _describe(message) -> DeadLetter:
    headers = message.headers or {}
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    return DeadLetter(
        message_id=message.properties.get("message_id"),
        reason=headers.get(deadletter.REASON),
        consumer=headers.get(deadletter.CONSUMER),
        dead_lettered_at=headers.get(deadletter.DEAD_LETTERED_AT),
        routing_key=headers.get(deadletter.ORIGINAL_ROUTING_KEY),
        body_preview=body[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
    )
