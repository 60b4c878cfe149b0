"""Dead letters: the original body, re-published to `<queue>.dead` with the reason in headers.

The x-switchboard-original-* headers say where a replay sends the message: for a delivery,
where it came from; for a message settled outside a queue consumer (a notification a
dispatcher failed to send), straight into the queue that should try it again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from broker.envelope import Outgoing
from consumers.runtime.inbox import Delivery
from schemas.base import Message

REASON = "x-switchboard-reason"
CONSUMER = "x-switchboard-consumer"
DEAD_LETTERED_AT = "x-switchboard-dead-lettered-at"
ORIGINAL_EXCHANGE = "x-switchboard-original-exchange"
ORIGINAL_ROUTING_KEY = "x-switchboard-original-routing-key"
REPLAYS = "x-switchboard-replays"  # how many times a dead letter was sent again; kept on the message


def headers(*, reason: str, consumer: str, exchange: str, routing_key: str, base: dict | None = None) -> dict:
    return {**(base or {}), REASON: reason, CONSUMER: consumer,
            DEAD_LETTERED_AT: datetime.now(timezone.utc).isoformat(),
            ORIGINAL_EXCHANGE: exchange, ORIGINAL_ROUTING_KEY: routing_key}


def dead_letter(delivery: Delivery, *, consumer: str, dead_letter_queue: str, reason: str) -> Outgoing:
    props = delivery.properties
    return Outgoing(
        exchange="",
        routing_key=dead_letter_queue,
        body=delivery.body,
        message_id=props.message_id or hashlib.sha256(delivery.body).hexdigest()[:32],
        message_type=props.type,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        headers=headers(reason=reason, consumer=consumer, exchange=delivery.exchange,
                        routing_key=delivery.routing_key, base=dict(props.headers or {})),
        content_type=props.content_type or "application/octet-stream",
    )


def dead_letter_message(message: Message, *, consumer: str, queue: str, dead_letter_queue: str, reason: str) -> Outgoing:
    """A message that failed outside its queue's consumer: a replay sends it into `queue`."""
    return Outgoing(
        exchange="",
        routing_key=dead_letter_queue,
        body=message.to_json_bytes(),
        message_id=message.message_id(),
        message_type=message.message_type,
        headers=headers(reason=reason, consumer=consumer, exchange="", routing_key=queue),
    )
