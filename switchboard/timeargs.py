"""Time arguments of the CLI: ISO 8601 dates or date-times; a time without a zone is UTC."""

from __future__ import annotations

from datetime import date, datetime, timezone


def parse_moment(text: str, option: str) -> datetime:
    """`2026-01-31` (midnight UTC), `2026-01-31T10:00`, `2026-01-31T10:00:00-03:00`, `...Z`."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text.strip()), datetime.min.time())
        except ValueError:
            raise ValueError(f"{option} must be an ISO 8601 date or date-time such as 2026-01-31 or "
                             f"2026-01-31T10:00:00Z, got {text!r}") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
