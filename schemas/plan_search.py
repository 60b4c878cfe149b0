"""The plan search contract (../shared/specs/plans.md): its parameters and its error document.
The result document is written by PostgreSQL (storage/plans.py: `search_document`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

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


def error_document(error: SearchError) -> str:
    return json.dumps({"data": None, "error": {"code": error.code, "message": error.message}})

