"""Coffee-shop order events, and the graph of statuses an order may move through.

    waiting -> preparation -> ready -> delivered
    preparation -> waiting               (back in the queue)
    waiting | preparation -> canceled    (never once ready or delivered)

`delivered` and `canceled` are final. An event is valid when it is an edge of this graph (a
creation is the edge into `waiting`): that is decided by the event alone, so events of one
order can arrive in any order. An order's current status is that of its latest valid event
by the time it happened (`at`).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from schemas.base import Message
from schemas.fields import Identifier, UtcDatetime
from schemas.topology import ORDERS, Exchange

Status = Literal["waiting", "preparation", "ready", "delivered", "canceled"]

NEXT: dict[str, frozenset[str]] = {
    "waiting": frozenset({"preparation", "canceled"}),
    "preparation": frozenset({"ready", "waiting", "canceled"}),
    "ready": frozenset({"delivered"}),
    "delivered": frozenset(),
    "canceled": frozenset(),
}


def transition_error(previous: str | None, status: str) -> str | None:
    """Why moving from `previous` (None: a creation) to `status` is not allowed, or None."""
    if previous is None:
        return None if status == "waiting" else f"an order is created waiting, not {status}"
    if status in NEXT[previous]:
        return None
    if not NEXT[previous]:
        return f"{previous} is final: an order cannot move from {previous} to {status}"
    allowed = " or ".join(sorted(NEXT[previous]))
    return f"an order cannot move from {previous} to {status} (from {previous} only to {allowed})"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    quantity: int = Field(1, ge=1, le=1000)


class _OrderEvent(Message):
    exchange: ClassVar[Exchange] = ORDERS

    order_id: Identifier
    customer_id: Identifier
    status: Status
    at: UtcDatetime
    items: list[Item] | None = None
    total: Annotated[Decimal, Field(ge=0, decimal_places=2, max_digits=12)] | None = None

    @property
    def previous(self) -> str | None:
        return None

    def event_key(self) -> str:
        """Identifies the event whatever the message carrying it: a duplicate has the same key."""
        parts = (self.order_id, self.previous or "", self.status, self.at.isoformat())
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]

    def message_id(self) -> str:
        return self.event_key()


class OrderCreated(_OrderEvent):
    message_type: ClassVar[str] = "order.created.v1"

    type: Literal["created"] = "created"


class OrderStatusChanged(_OrderEvent):
    message_type: ClassVar[str] = "order.status_changed.v1"

    type: Literal["status_changed"] = "status_changed"
    previous_status: Status

    @property
    def previous(self) -> str | None:
        return self.previous_status

    @model_validator(mode="after")
    def _a_change(self):
        if self.previous_status == self.status:
            raise ValueError(f"a status change must change the status, got {self.status} to {self.status}")
        return self


OrderEvent = Annotated[Union[OrderCreated, OrderStatusChanged], Field(discriminator="type")]
_order_event = TypeAdapter(OrderEvent)


def parse_order_event(data: Any) -> OrderCreated | OrderStatusChanged:
    return _order_event.validate_python(data)


def decode_order_event(routing_key: str, body: bytes) -> OrderCreated | OrderStatusChanged:
    event = _order_event.validate_json(body)
    if event.routing_key() != routing_key:
        raise ValueError(f"routing key {routing_key!r} does not match the event type {event.type!r} "
                         f"(expected routing key {event.routing_key()!r})")
    return event
