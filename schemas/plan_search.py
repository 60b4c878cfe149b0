"""The plan search contract (../shared/specs/plans.md): its parameters, and its JSON document.

Prices are JSON numbers with exactly two decimals (`15.00`), which `json` cannot write from a
Decimal: each event is written by hand around json-encoded text fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable, Protocol

from schemas.plans import provider_time


class SearchError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PlanSearch:
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def parse(cls, starts_at: str | None, ends_at: str | None) -> "PlanSearch":
        """From the text a user gave; a time without a zone is UTC, like the provider's."""
        start, end = _moment("starts_at", starts_at), _moment("ends_at", ends_at)
        if end < start:
            raise SearchError("invalid_range", f"ends_at ({end.isoformat()}) is before starts_at ({start.isoformat()})")
        return cls(start, end)


def _moment(name: str, value: str | None) -> datetime:
    if value is None or not value.strip():
        raise SearchError("missing_parameter", f"{name} is required (an ISO 8601 date-time, e.g. 2021-06-30T21:00:00)")
    try:
        return provider_time(value.strip())
    except ValueError:
        raise SearchError("invalid_date_time",
                          f"{name} is not an ISO 8601 date-time: {value!r} (e.g. 2021-06-30T21:00:00)") from None


class Found(Protocol):
    id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    min_price: Decimal | None
    max_price: Decimal | None


def search_document(found: Iterable[Found]) -> str:
    events = ", ".join(_event(plan) for plan in found)
    return f'{{"data": {{"events": [{events}]}}, "error": null}}'


def error_document(error: SearchError) -> str:
    return json.dumps({"data": None, "error": {"code": error.code, "message": error.message}})


def _event(plan: Found) -> str:
    start, end = plan.starts_at.astimezone(timezone.utc), plan.ends_at.astimezone(timezone.utc)
    fields = json.dumps({"id": plan.id, "title": plan.title, "start_date": start.date().isoformat(),
                         "start_time": start.time().isoformat(), "end_date": end.date().isoformat(),
                         "end_time": end.time().isoformat()}, ensure_ascii=False)
    return f'{fields[:-1]}, "min_price": {_number(plan.min_price)}, "max_price": {_number(plan.max_price)}}}'


def _number(price: Decimal | None) -> str:
    return "null" if price is None else f"{price:.2f}"
