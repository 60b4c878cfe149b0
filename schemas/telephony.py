"""Telephony contracts: call detail records in, completed and priced calls, bills out.

Also the reference-period rules (a bill covers one closed calendar month, UTC), because
producers, consumers and the bill query must all agree on them.
"""

from __future__ import annotations

import hashlib
import re
import time as time_module
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, TypeAdapter, model_validator

from schemas.base import Message
from schemas.topology import TELEPHONY, Exchange

# --- field types ---------------------------------------------------------------------

_PHONE = re.compile(r"[0-9]{10,11}")  # not \d: that also matches non-ASCII digits
# A call record is dated between the Unix epoch and now, give or take a switch's clock skew:
# anything else is a broken record, refused by the first consumer that reads it.
EARLIEST_RECORD = datetime(1970, 1, 1, tzinfo=timezone.utc)
RECORD_CLOCK_SKEW = timedelta(minutes=5)
_SKEW_S = RECORD_CLOCK_SKEW.total_seconds()
_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")
_CENT = Decimal("0.01")


def _phone_number(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError(
            "phone number must be digits only: a 2-digit area code and 8 or 9 digits "
            f"(10 or 11 digits in all), got {value!r}"
        )
    return value


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


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "timestamp must carry a time zone (Z or an offset such as -03:00), "
            f"got naive {value.isoformat()}"
        )
    return value.astimezone(timezone.utc)


def _plausible_record_time(value: datetime) -> datetime:
    seconds = value.timestamp()  # one number for both bounds: this runs for every record
    if seconds < 0:
        raise ValueError(f"timestamp {value.isoformat()} is before 1970-01-01T00:00:00Z: no call record is that old")
    if seconds > time_module.time() + _SKEW_S:
        raise ValueError(f"timestamp {value.isoformat()} is in the future (more than "
                         f"{RECORD_CLOCK_SKEW.total_seconds() / 60:g} minutes ahead of the current time)")
    return value


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite() or value != value.quantize(_CENT):
        raise ValueError(f"amount must have at most 2 decimal places, got {value}")
    return value.quantize(_CENT)


PhoneNumber = Annotated[str, AfterValidator(_phone_number)]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), BeforeValidator(_int_to_str)
]
UtcDatetime = Annotated[datetime, BeforeValidator(_iso_text_only), AfterValidator(_aware_utc)]
RecordTime = Annotated[UtcDatetime, AfterValidator(_plausible_record_time)]
Money = Annotated[Decimal, AfterValidator(_two_places)]


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


# --- reference periods -----------------------------------------------------------------


class PeriodNotEnded(ValueError):
    """A bill was asked for the current or a future month."""


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, the reference period of a bill ("YYYY-MM", months in UTC)."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def containing(cls, moment: datetime | date) -> "Period":
        if isinstance(moment, datetime):
            moment = _aware_utc(moment)
        return cls(moment.year, moment.month)

    def next(self) -> "Period":
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def previous(self) -> "Period":
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    @property
    def starts_at(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=timezone.utc)

    @property
    def ends_at(self) -> datetime:
        """Exclusive end: the first instant of the next month."""
        return self.next().starts_at


def parse_period(text: str) -> Period:
    match = _PERIOD.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"period must be written YYYY-MM (e.g. 2017-12), got {text!r}")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or year < 1:
        raise ValueError(f"period {text!r} is not a calendar month (month must be 01 to 12)")
    return Period(year, month)


def last_closed_period(today: date) -> Period:
    """The previous month: in January, December of the previous year."""
    return Period.containing(today).previous()


def ensure_closed(period: Period, today: date) -> Period:
    if period >= Period.containing(today):
        raise PeriodNotEnded(f"period {period} has not ended yet; bills exist only for closed months")
    return period


def bill_period(requested: str | None, today: date) -> Period:
    """The period a bill request asks for: the given closed month, else the last closed one."""
    if requested is None:
        return last_closed_period(today)
    return ensure_closed(parse_period(requested), today)


PeriodText = Annotated[str, AfterValidator(lambda text: str(parse_period(text)))]


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
