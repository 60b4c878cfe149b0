"""SQL for the telephony consumers. Every function takes a whole batch: one round trip each."""

from __future__ import annotations

from datetime import datetime
from typing import Collection, Iterable, Sequence

from sqlalchemy import any_, bindparam, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.types import Text

from schemas.telephony import CallCompleted, CallEnd, CallPriced, CallStart
from storage.bulk import BulkInsert
from storage.tables import call_records, calls, priced_calls, tariffs

HalfKey = tuple[str, str]  # (call_id, type)

# First key of the two-int advisory lock: keeps call-id locks apart from other domains' locks.
_CALL_LOCK_SPACE = 0x7E1E

_LOCK_CALLS = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) FROM "
    "(SELECT DISTINCT hashtext(x) AS k FROM unnest(:ids) AS x ORDER BY k) AS keys"
).bindparams(bindparam("ids", type_=ARRAY(Text)))


def lock_call_ids(conn: Connection, call_ids: Collection[str]) -> None:
    """Serialize work on these calls until the transaction ends (sorted keys: no deadlocks)."""
    if call_ids:
        conn.execute(_LOCK_CALLS, {"space": _CALL_LOCK_SPACE, "ids": sorted(set(call_ids))})


# Batch lookups take the ids as one array parameter (= ANY(:ids)): the statement is built once
# and its SQL never changes, where IN (...) would be re-rendered for every batch.
_CALL_IDS = bindparam("ids", type_=ARRAY(Text))
_SELECT_HALVES = select(call_records).where(call_records.c.call_id == any_(_CALL_IDS))
_SELECT_PRICED_CALLS = select(
    priced_calls.c.call_id,
    priced_calls.c.source,
    priced_calls.c.destination,
    priced_calls.c.started_at,
    priced_calls.c.ended_at,
    priced_calls.c.price,
    priced_calls.c.tariff_id,
    priced_calls.c.period,
).where(priced_calls.c.call_id == any_(_CALL_IDS))


def fetch_halves(conn: Connection, call_ids: Collection[str]) -> dict[HalfKey, CallStart | CallEnd]:
    if not call_ids:
        return {}
    rows = conn.execute(_SELECT_HALVES, {"ids": list(set(call_ids))})
    return {(row.call_id, row.type): _record_from_row(row) for row in rows}


_INSERT_CALL_RECORDS = BulkInsert(
    call_records, ["call_id", "type", "record_id", "timestamp", "source", "destination"], ["call_id", "type"]
)
_INSERT_CALLS = BulkInsert(calls, ["call_id", "source", "destination", "started_at", "ended_at"], ["call_id"])
_INSERT_PRICED_CALLS = BulkInsert(
    priced_calls,
    ["call_id", "source", "destination", "started_at", "ended_at", "duration_seconds", "price", "tariff_id", "period"],
    ["call_id"],
    returning="call_id",
)


def insert_call_records(conn: Connection, records: Sequence[CallStart | CallEnd]) -> None:
    if not records:
        return
    _INSERT_CALL_RECORDS.execute(conn, [_record_to_row(record) for record in records])


def insert_calls(conn: Connection, completed: Sequence[CallCompleted]) -> None:
    if not completed:
        return
    _INSERT_CALLS.execute_objects(conn, sorted(completed, key=lambda call: call.call_id))


# No tariff in force yet at the earliest start: from the first one (-infinity, not NULL).
_IN_FORCE_AT_EARLIEST = func.coalesce(
    select(func.max(tariffs.c.effective_from)).where(tariffs.c.effective_from <= bindparam("earliest")).scalar_subquery(),
    literal_column("'-infinity'::timestamptz"),
)
_TARIFFS_IN_FORCE = (
    select(tariffs)
    .where(tariffs.c.effective_from <= bindparam("latest"), tariffs.c.effective_from >= _IN_FORCE_AT_EARLIEST)
    .order_by(tariffs.c.effective_from)
)


def tariffs_in_force(conn: Connection, earliest: datetime, latest: datetime) -> list[dict]:
    """The tariffs that price calls starting between `earliest` and `latest`: the one in force
    at `earliest` and every later one up to `latest`, oldest first, as plain dicts. Read per
    batch (one small query on the unique index of effective_from): a tariff that takes effect
    now applies to the next batch, never a minute later."""
    rows = conn.execute(_TARIFFS_IN_FORCE, {"earliest": earliest, "latest": latest})
    return [dict(row._mapping) for row in rows]


def add_tariff(conn: Connection, row: dict) -> bool:
    """Insert a tariff; False if one with its id or its effective_from exists already."""
    inserted = conn.execute(pg_insert(tariffs).values(**row).on_conflict_do_nothing().returning(tariffs.c.id))
    return inserted.first() is not None


def all_tariffs(conn: Connection) -> list[dict]:
    return [dict(row._mapping) for row in conn.execute(select(tariffs).order_by(tariffs.c.effective_from))]


def insert_priced_calls(conn: Connection, priced: Sequence[CallPriced]) -> set[str]:
    """Insert prices not stored yet; returns the call ids actually inserted by this call."""
    if not priced:
        return set()
    # Key order: concurrent inserts of overlapping calls then wait on each other in one
    # order, never in a cycle (a deadlock). Billing takes no advisory lock; it needs none.
    ordered = sorted(priced, key=lambda call: call.call_id)
    return set(_INSERT_PRICED_CALLS.execute_objects(conn, ordered).scalars())


def fetch_priced_calls(conn: Connection, call_ids: Iterable[str]) -> dict[str, CallPriced]:
    ids = set(call_ids)
    if not ids:
        return {}
    rows = conn.execute(_SELECT_PRICED_CALLS, {"ids": list(ids)})
    return {row.call_id: CallPriced.model_validate(dict(row._mapping)) for row in rows}


def _record_to_row(record: CallStart | CallEnd) -> dict:
    return {
        "call_id": record.call_id,
        "type": record.type,
        "record_id": record.id,
        "timestamp": record.timestamp,
        # Only a start has numbers (getattr with a default is slow on a pydantic model).
        "source": record.source if isinstance(record, CallStart) else None,
        "destination": record.destination if isinstance(record, CallStart) else None,
    }


def _record_from_row(row) -> CallStart | CallEnd:
    common = {"id": row.record_id, "timestamp": row.timestamp, "call_id": row.call_id}
    if row.type == "start":
        return CallStart(**common, source=row.source, destination=row.destination)
    return CallEnd(**common)
