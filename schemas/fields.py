"""Field types every message contract shares: identifiers, UTC instants, money."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

_CENT = Decimal("0.01")


def _int_to_str(value: Any) -> Any:
    # Senders use numeric ids (the brief's call ids are 70, 71, ...); bool is not a number here.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value



def _iso_text_only(value: Any) -> Any:
    # pydantic would read a bare number as Unix time; the contract says ISO 8601.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("timestamp must be an ISO 8601 string such as 2017-12-11T15:07:13Z")
    return value



def aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "timestamp must carry a time zone (Z or an offset such as -03:00), "
            f"got naive {value.isoformat()}"
        )
    return value.astimezone(timezone.utc)


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite() or value != value.quantize(_CENT):
        raise ValueError(f"amount must have at most 2 decimal places, got {value}")
    return value.quantize(_CENT)


Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), BeforeValidator(_int_to_str)
]
UtcDatetime = Annotated[datetime, BeforeValidator(_iso_text_only), AfterValidator(aware_utc)]
Money = Annotated[Decimal, AfterValidator(_two_places)]
