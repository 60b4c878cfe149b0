"""Dead letters: the original body, re-published to `<queue>.dead` with the reason in headers."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from consumers.runtime.inbox import Delivery
from producers.outgoing import Outgoing

REASON = "x-switchboard-reason"
CONSUMER = "x-switchboard-consumer"
DEAD_LETTERED_AT = "x-switchboard-dead-lettered-at"
ORIGINAL_EXCHANGE = "x-switchboard-original-exchange"
ORIGINAL_ROUTING_KEY = "x-switchboard-original-routing-key"


def dead_letter(delivery: Delivery, *, consumer: str, dead_letter_queue: str, reason: str) -> Outgoing:
    props = delivery.properties
    headers = dict(props.headers or {})
    headers.update({
        REASON: reason,
        CONSUMER: consumer,
        DEAD_LETTERED_AT: datetime.now(timezone.utc).isoformat(),
        ORIGINAL_EXCHANGE: delivery.exchange,
        ORIGINAL_ROUTING_KEY: delivery.routing_key,
    })
    return Outgoing(
        exchange="",
        routing_key=dead_letter_queue,
        body=delivery.body,
        message_id=props.message_id or hashlib.sha256(delivery.body).hexdigest()[:32],
        message_type=props.type,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        headers=headers,
        content_type=props.content_type or "application/octet-stream",
    )
