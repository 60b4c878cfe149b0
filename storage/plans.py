"""Plans: kept by (base_plan_id, plan_id), never deleted; searched by overlap of time ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from schemas.plans import PlanSeen

# NOTIFYed by every transaction that writes plans (delivered at its commit): the gateway's
# search cache (switchboard/search_cache.py) LISTENs and forgets what it answered before.
PLANS_CHANGED = "switchboard_plans_changed"

_COLUMNS = {"base_plan_id": "text", "plan_id": "text", "id": "uuid", "title": "text", "sell_mode": "text",
            "starts_at": "timestamptz", "ends_at": "timestamptz", "min_price": "numeric", "max_price": "numeric",
            "ever_online": "boolean", "first_seen": "timestamptz", "last_seen": "timestamptz", "content_id": "text"}
_UTC = "AT TIME ZONE 'UTC'"
# A plan's entry in the search document (../shared/specs/plans.md), written once per sighting
# rather than at every search: building it costs PostgreSQL more than finding the plan does.
# A NUMERIC(12, 2) keeps its two decimals in JSON (15.00): the prices are cast to the column's
# type, as the upsert computes the entry from the sighting's values before they are stored.
SEARCH_ENTRY = (
    f"json_build_object('id', id, 'title', title, 'start_date', to_char(starts_at {_UTC}, 'YYYY-MM-DD'), "
    f"'start_time', to_char(starts_at {_UTC}, 'HH24:MI:SS'), 'end_date', to_char(ends_at {_UTC}, 'YYYY-MM-DD'), "
    f"'end_time', to_char(ends_at {_UTC}, 'HH24:MI:SS'), "
    "'min_price', min_price::numeric(12, 2), 'max_price', max_price::numeric(12, 2))::text"
)
_LATEST = ("id", "title", "sell_mode", "starts_at", "ends_at", "min_price", "max_price", "content_id",
           "search_entry")
# A sighting older than the stored one (a replay, a slow poller) only widens first/last seen.
_UPSERT = text(
    f"INSERT INTO plans ({', '.join(_COLUMNS)}, search_entry) SELECT *, {SEARCH_ENTRY} FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS.items())
    + f") AS sighting({', '.join(_COLUMNS)}) ON CONFLICT (base_plan_id, plan_id) DO UPDATE SET "
    + ", ".join(f"{name} = CASE WHEN EXCLUDED.last_seen >= plans.last_seen THEN EXCLUDED.{name} ELSE plans.{name} END"
                for name in _LATEST)
    + ", ever_online = plans.ever_online OR EXCLUDED.ever_online"
    ", first_seen = LEAST(plans.first_seen, EXCLUDED.first_seen)"
    ", last_seen = GREATEST(plans.last_seen, EXCLUDED.last_seen)"
)
_OVERLAPPING = ("FROM plans WHERE ever_online "
                "AND tstzrange(starts_at, ends_at, '[]') && tstzrange(:starts_at, :ends_at, '[]') "
                "AND starts_at < :ends_at AND ends_at > :starts_at")
SEARCH = text(f"SELECT id, title, starts_at, ends_at, min_price, max_price {_OVERLAPPING} ORDER BY starts_at, id")
# The spec's document, written by PostgreSQL: no row becomes a Python object (a one-week
# search may return hundreds).
SEARCH_DOCUMENT = text(
    """SELECT '{"data": {"events": [' || coalesce(string_agg(search_entry, ', ' ORDER BY starts_at, id), '') """
    """|| ']}, "error": null}' """ + _OVERLAPPING
)


@dataclass(frozen=True)
class FoundPlan:
    id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    min_price: Decimal | None
    max_price: Decimal | None


def plan_rows(sightings: Sequence[PlanSeen]) -> list[dict]:
    """One row per plan: the content of its latest sighting, online if any sighting was."""
    rows: dict[tuple[str, str], dict] = {}
    for plan in sightings:
        key = (plan.base_plan_id, plan.plan_id)
        row, kept = _row(plan), rows.get(key)
        if kept is not None:
            newer = row if row["last_seen"] >= kept["last_seen"] else kept
            row = {**newer, "ever_online": row["ever_online"] or kept["ever_online"],
                   "first_seen": min(row["first_seen"], kept["first_seen"])}
        rows[key] = row
    return [rows[key] for key in sorted(rows)]  # one lock order: batches never deadlock


def _row(plan: PlanSeen) -> dict:
    low, high = plan.price_range()
    return {"base_plan_id": plan.base_plan_id, "plan_id": plan.plan_id, "id": plan.public_id, "title": plan.title,
            "sell_mode": plan.sell_mode, "starts_at": plan.starts_at, "ends_at": plan.ends_at, "min_price": low,
            "max_price": high, "ever_online": plan.online, "first_seen": plan.seen_at, "last_seen": plan.seen_at,
            "content_id": plan.message_id()}


def upsert_plans(conn: Connection, sightings: Sequence[PlanSeen]) -> int:
    rows = plan_rows(sightings)
    if rows:
        conn.execute(_UPSERT, {name: [row[name] for row in rows] for name in _COLUMNS})
        conn.execute(text(f"NOTIFY {PLANS_CHANGED}"))
    return len(rows)


def search_document(conn: Connection, starts_at: datetime, ends_at: datetime) -> str:
    """The search's JSON document (../shared/specs/plans.md), as `plans --json` and GET /search answer it."""
    return conn.execute(SEARCH_DOCUMENT, {"starts_at": starts_at, "ends_at": ends_at}).scalar_one()


def search_plans(conn: Connection, starts_at: datetime, ends_at: datetime) -> list[FoundPlan]:
    """Plans ever online that start before the range ends and end after it starts, by start."""
    result = conn.execute(SEARCH, {"starts_at": starts_at, "ends_at": ends_at})
    return [FoundPlan(str(row.id), row.title, row.starts_at, row.ends_at, row.min_price, row.max_price)
            for row in result]
