"""JSON Schema for every message contract, for upstream teams that don't write Python."""

from __future__ import annotations

from schemas import events, notifications, orders, plans, telephony
from schemas.base import Message

PUBLISHED = (
    notifications.ContactUpserted,
    notifications.NotificationRequested,
    orders.OrderCreated,
    orders.OrderStatusChanged,
    telephony.CallStart,
    telephony.CallEnd,
    telephony.CallCompleted,
    telephony.CallPriced,
    telephony.BillRequest,
    telephony.Bill,
    telephony.BillError,
    events.Event,
    plans.PlanSeen,
)


def json_schemas(models: tuple[type[Message], ...] = PUBLISHED) -> dict[str, dict]:
    """message type ("call.start.v1") -> JSON Schema of its body, with exchange and routing key."""
    result = {}
    for model in models:
        schema = model.model_json_schema()
        schema["x-exchange"] = model.exchange.name
        schema["x-message-type"] = model.message_type
        schema["x-routing-key"] = getattr(model, "routing_key_pattern", model.message_type.rsplit(".v", 1)[0])
        result[model.message_type] = schema
    return result
