"""Contacts: per-field last-writer-wins upserts, and reading them at send time."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from schemas.notifications import CONTACT_FIELDS, ContactUpserted

_TYPES = {"name": "text", "email": "text", "phone": "text", "email_enabled": "boolean", "sms_enabled": "boolean"}


def _assignment(field: str) -> str:
    return (f"{field} = CASE WHEN EXCLUDED.{field}_at IS NOT NULL AND (contacts.{field}_at IS NULL "
            f"OR EXCLUDED.{field}_at >= contacts.{field}_at) THEN EXCLUDED.{field} ELSE contacts.{field} END, "
            f"{field}_at = GREATEST(contacts.{field}_at, EXCLUDED.{field}_at)")


_COLUMNS = ["id", *(column for field in CONTACT_FIELDS for column in (field, f"{field}_at")), "updated_at"]
_ARRAYS = ", ".join(
    f"CAST(:{column} AS {_TYPES.get(column, 'timestamptz' if column.endswith('_at') else 'text')}[])"
    for column in _COLUMNS
)
_UPSERT = text(
    f"INSERT INTO contacts ({', '.join(_COLUMNS)}) SELECT * FROM unnest({_ARRAYS}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(_assignment(field) for field in CONTACT_FIELDS)}, "
    "updated_at = GREATEST(contacts.updated_at, EXCLUDED.updated_at)"
)


def merge(updates: Sequence[ContactUpserted]) -> list[dict]:
    """One row per contact: for each field, the value of the newest update that carries it
    (a tie goes to the one that came later)."""
    rows: dict[str, dict] = {}
    for update in updates:
        row = rows.setdefault(update.id, {"id": update.id, "updated_at": update.updated_at,
                                          **{f: None for f in CONTACT_FIELDS}, **{f"{f}_at": None for f in CONTACT_FIELDS}})
        row["updated_at"] = max(row["updated_at"], update.updated_at)
        for field, value in update.changed_fields().items():
            if row[f"{field}_at"] is None or update.updated_at >= row[f"{field}_at"]:
                row[field], row[f"{field}_at"] = value, update.updated_at
    return list(rows.values())


def upsert_contacts(conn: Connection, updates: Sequence[ContactUpserted]) -> None:
    rows = sorted(merge(updates), key=lambda row: row["id"])  # one lock order: no deadlock between batches
    if rows:
        conn.execute(_UPSERT, {column: [_plain(row[column]) for row in rows] for column in _COLUMNS})


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value
