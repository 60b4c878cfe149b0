"""Call pricing: pure functions over tariffs (data with an effective date) and call times.

A call pays its tariff's standing charge once, plus `per_minute` for every completed minute
of each contiguous stretch it spends inside standard time (each local day's
[standard_start, standard_end) window). Reduced-time minutes are free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

from schemas.telephony import format_duration  # the bill's duration format, re-exported here

__all__ = ["Tariff", "format_brl", "format_duration", "price_call", "select_tariff", "standard_minutes",
           "standard_stretches"]

_CENT = Decimal("0.01")
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_BLOCK_DAYS = 28  # calls shorter than this are walked day by day


@dataclass(frozen=True)
class Tariff:
    id: str
    name: str
    effective_from: datetime
    standing_charge: Decimal
    per_minute: Decimal
    standard_start: time = time(6, 0)
    standard_end: time = time(22, 0)
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.effective_from.tzinfo is None:
            raise ValueError(f"tariff {self.id}: effective_from must be timezone-aware")
        if self.standard_start == self.standard_end:
            raise ValueError(f"tariff {self.id}: standard time window is empty")
        ZoneInfo(self.timezone)  # fail early on an unknown zone name


def select_tariff(tariffs: Iterable[Tariff], started_at: datetime) -> Tariff:
    """The tariff in force when the call started: the latest effective_from <= started_at."""
    in_force = [t for t in tariffs if t.effective_from <= started_at]
    if not in_force:
        raise LookupError(f"no tariff in force at {started_at.isoformat()}")
    return max(in_force, key=lambda t: t.effective_from)


def price_call(start: datetime, end: datetime, tariff: Tariff) -> Decimal:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("call times must be timezone-aware")
    if end < start:
        raise ValueError(f"call ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    price = tariff.standing_charge + standard_minutes(start, end, tariff) * tariff.per_minute
    return price.quantize(_CENT, rounding=ROUND_HALF_UP)


def standard_stretches(start: datetime, end: datetime, tariff: Tariff) -> list[timedelta]:
    """Lengths of the contiguous parts of [start, end) inside standard time, in order."""
    zone = ZoneInfo(tariff.timezone)
    first_day = start.astimezone(zone).date() - timedelta(days=1)  # a window may wrap midnight
    last_day = end.astimezone(zone).date()
    stretches = []
    day = first_day
    while day <= last_day:
        window_start, window_end = _standard_window(day, tariff, zone)
        overlap = min(end, window_end) - max(start, window_start)
        if overlap > timedelta(0):
            stretches.append(overlap)
        day += timedelta(days=1)
    return stretches


def standard_minutes(start: datetime, end: datetime, tariff: Tariff) -> int:
    """Completed standard-time minutes: the sum of `stretch // 1 minute` over
    `standard_stretches`, without walking every day of a long call.

    The days at both ends, whose windows the call cuts, are walked. The days in between count
    their window's local length, corrected on the days a change of UTC offset makes a window
    longer or shorter: those are found once per zone, window and year, by walking that year,
    and cached (a zone may change its offset twice in a week: Recife, October 2000)."""
    zone = ZoneInfo(tariff.timezone)
    day, last_day = start.astimezone(zone).date() - _DAY, end.astimezone(zone).date()
    if (last_day - day).days < _BLOCK_DAYS:  # most calls: a day or two, nothing to skip
        return sum(stretch // _MINUTE for stretch in standard_stretches(start, end, tariff))
    minutes = 0
    while _standard_window(day, tariff, zone)[0] < start:  # the first windows: cut by the start
        minutes += _overlap_minutes(day, start, end, tariff, zone)
        day += _DAY
    while _standard_window(last_day, tariff, zone)[1] > end:  # the last ones: cut by the end
        minutes += _overlap_minutes(last_day, start, end, tariff, zone)
        last_day -= _DAY
    return minutes + _whole_windows_minutes(day, last_day, tariff)


def _overlap_minutes(day: date, start: datetime, end: datetime, tariff: Tariff, zone: ZoneInfo) -> int:
    window_start, window_end = _standard_window(day, tariff, zone)
    return max(timedelta(0), min(end, window_end) - max(start, window_start)) // _MINUTE


def _whole_windows_minutes(first_day: date, last_day: date, tariff: Tariff) -> int:
    local = _local_window_length(tariff) // _MINUTE
    minutes = ((last_day - first_day).days + 1) * local
    for year in range(first_day.year, last_day.year + 1):
        for day, length in _irregular_windows(year, tariff):
            if first_day <= day <= last_day:
                minutes += length - local
    return minutes


@lru_cache(maxsize=4096)
def _irregular_windows(year: int, tariff: Tariff) -> tuple[tuple[date, int], ...]:
    """(day, minutes) of the days of `year` whose window an offset change makes other than its
    local length."""
    zone, local = ZoneInfo(tariff.timezone), _local_window_length(tariff) // _MINUTE
    found, day = [], date(year, 1, 1)
    while day.year == year:
        opens, closes = _window_in_utc(day, tariff, zone)  # not the cached one: a year would flush it
        if (length := (closes - opens) // _MINUTE) != local:
            found.append((day, length))
        day += _DAY
    return tuple(found)


def _local_window_length(tariff: Tariff) -> timedelta:
    today = date(2000, 1, 1)  # any day: wall-clock arithmetic, no zone
    opens = datetime.combine(today, tariff.standard_start)
    closes = datetime.combine(today, tariff.standard_end)
    return closes - opens if closes > opens else closes + _DAY - opens


@lru_cache(maxsize=4096)  # pure, and calls cluster on the same days: a hot path of billing
def _standard_window(day: date, tariff: Tariff, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return _window_in_utc(day, tariff, zone)


def _window_in_utc(day: date, tariff: Tariff, zone: ZoneInfo) -> tuple[datetime, datetime]:
    opens = datetime.combine(day, tariff.standard_start, zone)
    closes_on = day if tariff.standard_end > tariff.standard_start else day + timedelta(days=1)
    closes = datetime.combine(closes_on, tariff.standard_end, zone)
    return opens.astimezone(timezone.utc), closes.astimezone(timezone.utc)


def format_brl(amount: Decimal) -> str:
    """Brazilian reais: `R$ 3,96`, `R$ 1.234,50` (dot groups thousands, comma marks cents)."""
    quantized = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if quantized < 0 else ""
    grouped = f"{abs(quantized):,.2f}"  # "1,234.50"
    return f"{sign}R$ " + grouped.translate(str.maketrans({",": ".", ".": ","}))
