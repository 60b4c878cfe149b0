"""The provider's plans (../shared/specs/plans.md): `plan.seen`, one message per plan per poll.

The provider's times carry no zone; they are UTC. A plan's identity is (base_plan_id,
plan_id), its public id a UUID derived from that identity (stable across polls, and across a
store rebuilt from the archive). A plan's message id is derived from its content without the
time it was seen: the same plan seen again unchanged is the same message.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator, model_validator

from schemas.base import Message
from schemas.fields import Identifier, UtcDatetime
from schemas.topology import PROVIDER

PLAN_NAMESPACE = uuid.UUID("6f1c1f0e-8d1b-4c53-9a47-51b7f3f0a6d2")
MAX_PRICE = Decimal("9999999999.99")  # NUMERIC(12, 2)


def _price(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0 or value > MAX_PRICE:
        raise ValueError(f"price must be a decimal between 0 and {MAX_PRICE}, got {value}")
    return value.quantize(Decimal("0.01"))


Price = Annotated[Decimal, AfterValidator(_price)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def provider_time(value: str | datetime) -> datetime:
    """The provider writes `2021-06-30T21:00:00`: no zone, meaning UTC. A zone, if given, is kept."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    zone_id: Identifier
    price: Price


class PlanSeen(Message):
    message_type: ClassVar[str] = "plan.seen.v1"
    exchange: ClassVar = PROVIDER

    base_plan_id: Identifier
    plan_id: Identifier
    title: Title
    sell_mode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    zones: tuple[Zone, ...]
    seen_at: UtcDatetime

    @field_validator("starts_at", "ends_at", "seen_at", mode="before")
    @classmethod
    def _zone_less_is_utc(cls, value):
        return provider_time(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ends_after_start(self) -> "PlanSeen":
        if self.ends_at < self.starts_at:
            raise ValueError(f"plan ends ({self.ends_at.isoformat()}) before it starts ({self.starts_at.isoformat()})")
        return self

    @property
    def online(self) -> bool:
        return self.sell_mode == "online"

    @property
    def public_id(self) -> str:
        return plan_uuid(self.base_plan_id, self.plan_id)

    def price_range(self) -> tuple[Decimal | None, Decimal | None]:
        prices = [zone.price for zone in self.zones]
        return (min(prices), max(prices)) if prices else (None, None)

    def message_id(self) -> str:
        content = self.model_dump_json(exclude={"seen_at"}).encode()
        return hashlib.sha256(self.message_type.encode() + b"\0" + content).hexdigest()[:32]


def plan_uuid(base_plan_id: str, plan_id: str) -> str:
    return str(uuid.uuid5(PLAN_NAMESPACE, f"{base_plan_id}/{plan_id}"))
