"""Telephony contracts: call detail records in, completed and priced calls, bills out.
A bill's period is a closed calendar month (schemas/periods.py)."""

from __future__ import annotations

import hashlib
import re
import time as time_module
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import AfterValidator, Field, StringConstraints, TypeAdapter, model_validator

from schemas.base import Message
from schemas.fields import Identifier, Money, UtcDatetime
from schemas.periods import PeriodText
from schemas.topology import TELEPHONY, Exchange

# --- telephony field types --------------------------------------------------------------

_PHONE = re.compile(r"[0-9]{10,11}")  # not \d: that also matches non-ASCII digits
# A call record is dated between the Unix epoch and now, give or take a switch's clock skew:
# anything else is a broken record, refused by the first consumer that reads it.
EARLIEST_RECORD = datetime(1970, 1, 1, tzinfo=timezone.utc)
RECORD_CLOCK_SKEW = timedelta(minutes=5)
_SKEW_S = RECORD_CLOCK_SKEW.total_seconds()


def _phone_number(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError(
            "phone number must be digits only: a 2-digit area code and 8 or 9 digits "
            f"(10 or 11 digits in all), got {value!r}"
        )
    return value


def _plausible_record_time(value: datetime) -> datetime:
    seconds = value.timestamp()  # one number for both bounds: this runs for every record
    if seconds < 0:
        raise ValueError(f"timestamp {value.isoformat()} is before 1970-01-01T00:00:00Z: no call record is that old")
    if seconds > time_module.time() + _SKEW_S:
        raise ValueError(f"timestamp {value.isoformat()} is in the future (more than "
                         f"{RECORD_CLOCK_SKEW.total_seconds() / 60:g} minutes ahead of the current time)")
    return value


PhoneNumber = Annotated[str, AfterValidator(_phone_number)]
RecordTime = Annotated[UtcDatetime, AfterValidator(_plausible_record_time)]


def _stable_id(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def duration_seconds(started_at: datetime, ended_at: datetime) -> int:
    """Whole seconds of a call (fractions are dropped, as on the bill)."""
    return int((ended_at - started_at).total_seconds())


def format_duration(seconds: int | float | timedelta) -> str:
    """A bill's duration: `0h35m42s`; hours are not wrapped into days (`24h13m43s`)."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    whole = int(seconds)
    if whole < 0:
        raise ValueError(f"a duration cannot be negative, got {seconds}")
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


# --- call detail records -----------------------------------------------------------------


class CallStart(Message):
    message_type: ClassVar[str] = "call.start.v1"
    exchange: ClassVar[Exchange] = TELEPHONY

    type: Literal["start"] = "start"
    id: Identifier
    timestamp: RecordTime
    call_id: Identifier
    source: PhoneNumber
    destination: PhoneNumber

    def message_id(self) -> str:
        return _stable_id(self.message_type, self.id)


class CallEnd(Message):
    message_type: ClassVar[str] = "call.end.v1"
    exchange: ClassVar[Exchange] = TELEPHONY

    type: Literal["end"] = "end"
    id: Identifier
    timestamp: RecordTime
    call_id: Identifier

    def message_id(self) -> str:
        return _stable_id(self.message_type, self.id)


CallRecord = Annotated[Union[CallStart, CallEnd], Field(discriminator="type")]
_call_record = TypeAdapter(CallRecord)


def parse_call_record(data: Any) -> CallStart | CallEnd:
    """Validate an already-decoded JSON object into a start or end record."""
    return _call_record.validate_python(data)


def decode_call_record(routing_key: str, body: bytes) -> CallStart | CallEnd:
    """Decode an AMQP body; the routing key must agree with the record's type."""
    record = _call_record.validate_json(body)
    if record.routing_key() != routing_key:
        raise ValueError(
            f"routing key {routing_key!r} does not match the record type {record.type!r} "
            f"(expected routing key {record.routing_key()!r})"
        )
    return record


# --- downstream events -----------------------------------------------------------------------


class _CallFacts(Message):
    call_id: Identifier
    source: PhoneNumber
    destination: PhoneNumber
    started_at: UtcDatetime
    ended_at: UtcDatetime

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.ended_at < self.started_at:
            raise ValueError(f"call {self.call_id} ends ({self.ended_at}) before it starts ({self.started_at})")
        return self

    def message_id(self) -> str:
        # Per call, not per content: a re-announcement is the same message.
        return _stable_id(self.message_type, self.call_id)

    @property
    def duration_seconds(self) -> int:
        return duration_seconds(self.started_at, self.ended_at)


class CallCompleted(_CallFacts):
    message_type: ClassVar[str] = "call.completed.v1"
    exchange: ClassVar[Exchange] = TELEPHONY


class CallPriced(_CallFacts):
    message_type: ClassVar[str] = "call.priced.v1"
    exchange: ClassVar[Exchange] = TELEPHONY

    price: Money
    tariff_id: Identifier
    period: PeriodText


# --- bills ------------------------------------------------------------------------------------


class BillRequest(Message):
    message_type: ClassVar[str] = "bill.requested.v1"
    exchange: ClassVar[Exchange] = TELEPHONY

    subscriber: PhoneNumber
    period: PeriodText | None = None


class BillLine(Message):
    message_type: ClassVar[str] = "bill.line.v1"
    exchange: ClassVar[Exchange] = TELEPHONY

    destination: PhoneNumber
    start_date: date
    start_time: Annotated[time, AfterValidator(lambda t: t.replace(microsecond=0, tzinfo=None))]
    duration: Annotated[str, StringConstraints(pattern=r"^\d+h\d{1,2}m\d{1,2}s$")]
    price: Money


class Bill(Message):
    """A subscriber's bill for one closed month; also the reply to a BillRequest."""

    message_type: ClassVar[str] = "bill.v1"
    exchange: ClassVar[Exchange] = TELEPHONY

    subscriber: PhoneNumber
    period: PeriodText
    total: Money
    calls: list[BillLine]


class BillError(Message):
    """The reply to a bill request that cannot be answered (bad or open period, bad subscriber)."""

    message_type: ClassVar[str] = "bill.error.v1"
    exchange: ClassVar[Exchange] = TELEPHONY

    error: str
