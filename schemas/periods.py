"""Reference periods: a bill covers one closed calendar month, in UTC. Producers, consumers
and the bill query must all agree on them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Annotated

from pydantic import AfterValidator

from schemas.fields import aware_utc

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


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
            moment = aware_utc(moment)
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
