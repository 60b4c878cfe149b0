"""Turn a delivery into a validated Incoming, or a reason to dead-letter it."""

from __future__ import annotations

from pydantic import ValidationError

from consumers.runtime.handler import ConsumerSpec, Incoming
from consumers.runtime.inbox import Delivery
from schemas.base import describe_errors

MAX_ERRORS_IN_REASON = 5


def decode(spec: ConsumerSpec, delivery: Delivery, max_body_bytes: int) -> Incoming | str:
    """The Incoming for a valid delivery; otherwise a human-readable reason."""
    props = delivery.properties
    if len(delivery.body) > max_body_bytes:
        return f"body of {len(delivery.body)} bytes exceeds the limit of {max_body_bytes} bytes"
    if spec.requires_user_id and not props.user_id:
        return "message claims no application: the AMQP user_id property is missing"
    try:
        payload = spec.decode(delivery.routing_key, delivery.body)
    except ValidationError as error:
        return f"invalid payload: {describe_errors(error, limit=MAX_ERRORS_IN_REASON)}"
    except (ValueError, UnicodeDecodeError) as error:
        return f"invalid message: {error}"
    return Incoming(
        payload=payload,
        routing_key=delivery.routing_key,
        message_id=props.message_id,
        redelivered=delivery.redelivered,
        user_id=props.user_id,
        reply_to=props.reply_to,
        correlation_id=props.correlation_id,
        headers=dict(props.headers or {}),
    )

