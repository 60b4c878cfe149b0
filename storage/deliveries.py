"""Notification requests and their deliveries per channel: recorded by the channel consumers,
claimed and settled by the dispatchers, read by `switchboard deliveries`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.types import Text

from schemas.notifications import Channel, NotificationRequested
from storage.notification_tables import deliveries, notifications

WAKE_UP = "switchboard_deliveries"  # NOTIFY channel: payload is the delivery channel with new rows


@dataclass(frozen=True)
class Due:
    """A delivery whose time has come, with what its sending needs (the contact as it is now)."""

    notification_id: str
    contact_id: str
    subject: str
    body: str
    send_at: datetime | None
    channels: list[str] | None
    attempts: int
    first_due: datetime
    contact_found: bool
    name: str | None
    email: str | None
    phone: str | None
    email_enabled: bool | None
    sms_enabled: bool | None


@dataclass(frozen=True)
class Settled:
    """What became of one attempt. `due_at` is set when it is tried again later."""

    notification_id: str
    status: str
    reason: str | None
    attempts: int
    segments: int | None = None
    due_at: datetime | None = None


def fingerprint(request: NotificationRequested) -> str:
    return hashlib.sha256(request.to_json_bytes()).hexdigest()


_STORED = select(notifications.c.id, notifications.c.fingerprint).where(
    notifications.c.id == bindparam("ids", type_=ARRAY(Text)).any_())
_INSERT_NOTIFICATIONS = text(
    "INSERT INTO notifications (id, contact_id, subject, body, send_at, channels, fingerprint) "
    "SELECT id, contact_id, subject, body, send_at, "
    "CASE WHEN channels = '' THEN NULL ELSE string_to_array(channels, ',') END, fingerprint FROM unnest("
    "CAST(:id AS text[]), CAST(:contact_id AS text[]), CAST(:subject AS text[]), CAST(:body AS text[]), "
    "CAST(:send_at AS timestamptz[]), CAST(:channels AS text[]), CAST(:fingerprint AS text[])) "
    "AS r(id, contact_id, subject, body, send_at, channels, fingerprint) ORDER BY id ON CONFLICT (id) DO NOTHING")
_INSERT_DELIVERIES = text(
    "INSERT INTO deliveries (notification_id, channel, contact_id, status, reason, due_at) "
    "SELECT id, :channel, contact_id, CASE WHEN wanted THEN 'scheduled' ELSE 'skipped' END, "
    "CASE WHEN wanted THEN NULL ELSE 'channel not requested' END, "
    "CASE WHEN wanted THEN GREATEST(COALESCE(send_at, now()), now()) END FROM unnest("
    "CAST(:id AS text[]), CAST(:contact_id AS text[]), CAST(:send_at AS timestamptz[]), CAST(:wanted AS boolean[])) "
    "AS r(id, contact_id, send_at, wanted) ORDER BY id ON CONFLICT (notification_id, channel) DO NOTHING")


_RETRY_FAILED = text(
    "UPDATE deliveries SET status = 'scheduled', reason = NULL, due_at = now(), updated_at = now() "
    "WHERE channel = :channel AND status = 'failed' AND notification_id = ANY(:ids)"
).bindparams(bindparam("ids", type_=ARRAY(Text)))


def record_requests(conn: Connection, channel: Channel, requests: Sequence[NotificationRequested],
                    retry_failed: Sequence[str] = ()) -> dict[str, str]:
    """Record each request and this channel's delivery of it, once. Returns the ids refused: one
    already recorded with other content (an id is an idempotency key, not a version).
    `retry_failed`: ids an operator replayed from the dead letters; a failed delivery of
    theirs is scheduled again."""
    if retry_failed:
        conn.execute(_RETRY_FAILED, {"channel": channel, "ids": sorted(set(retry_failed))})
    if not requests:
        return {}
    prints = {request.id: fingerprint(request) for request in requests}
    stored = dict(conn.execute(_STORED, {"ids": list(prints)}).all())
    refused = {id_: f"notification {id_} was already requested with other content; ids are not reused"
               for id_, print_ in prints.items() if id_ in stored and stored[id_] != print_}
    fresh = [r for r in requests if r.id not in refused]
    if not fresh:
        return refused
    conn.execute(_INSERT_NOTIFICATIONS, {
        "id": [r.id for r in fresh], "contact_id": [r.contact_id for r in fresh],
        "subject": [r.subject for r in fresh], "body": [r.body for r in fresh],
        "send_at": [r.send_at.isoformat() if r.send_at else None for r in fresh],
        "channels": [",".join(r.channels or []) for r in fresh], "fingerprint": [prints[r.id] for r in fresh]})
    conn.execute(_INSERT_DELIVERIES, {
        "channel": channel, "id": [r.id for r in fresh], "contact_id": [r.contact_id for r in fresh],
        "send_at": [r.send_at.isoformat() if r.send_at else None for r in fresh],
        "wanted": [r.wants(channel) for r in fresh]})
    conn.execute(text("SELECT pg_notify(:wake_up, :channel)"), {"wake_up": WAKE_UP, "channel": channel})
    return refused


_CLAIM = text(
    "SELECT d.notification_id, d.contact_id, n.subject, n.body, n.send_at, n.channels, d.attempts, "
    "d.created_at AS first_due, "
    "c.id IS NOT NULL AS contact_found, c.name, c.email, c.phone, c.email_enabled, c.sms_enabled "
    "FROM deliveries d JOIN notifications n ON n.id = d.notification_id LEFT JOIN contacts c ON c.id = d.contact_id "
    "WHERE d.channel = :channel AND d.status = 'scheduled' AND d.due_at <= now() "
    "ORDER BY d.due_at LIMIT :limit FOR UPDATE OF d SKIP LOCKED")


def claim_due(conn: Connection, channel: Channel, limit: int) -> list[Due]:
    """Deliveries due now, locked for this transaction; other dispatchers skip them."""
    return [Due(**row._mapping) for row in conn.execute(_CLAIM, {"channel": channel, "limit": limit})]


_SETTLE = text(
    "UPDATE deliveries d SET status = r.status, reason = r.reason, attempts = r.attempts, "
    "segments = COALESCE(r.segments, d.segments), due_at = r.due_at, updated_at = now(), "
    "sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE d.sent_at END FROM unnest("
    "CAST(:id AS text[]), CAST(:status AS text[]), CAST(:reason AS text[]), CAST(:attempts AS int[]), "
    "CAST(:segments AS int[]), CAST(:due_at AS timestamptz[])) AS r(id, status, reason, attempts, segments, due_at) "
    "WHERE d.notification_id = r.id AND d.channel = :channel")


def settle(conn: Connection, channel: Channel, results: Sequence[Settled]) -> None:
    if results:
        conn.execute(_SETTLE, {
            "channel": channel, "id": [r.notification_id for r in results], "status": [r.status for r in results],
            "reason": [r.reason for r in results], "attempts": [r.attempts for r in results],
            "segments": [r.segments for r in results],
            "due_at": [r.due_at.isoformat() if r.due_at else None for r in results]})


def seconds_to_next_due(conn: Connection, channel: Channel) -> float | None:
    """By the database's clock, the one `claim_due` compares with."""
    return conn.execute(text("SELECT EXTRACT(EPOCH FROM min(due_at) - now()) FROM deliveries "
                             "WHERE channel = :channel AND status = 'scheduled'"), {"channel": channel}).scalar()


def waiting(conn: Connection, channel: Channel) -> int:
    """Scheduled deliveries not due yet (the partial index holds only scheduled rows)."""
    return conn.execute(text("SELECT count(*) FROM deliveries WHERE channel = :channel AND status = 'scheduled' "
                             "AND due_at > now()"), {"channel": channel}).scalar_one()


def find_deliveries(conn: Connection, *, notification: str | None = None, contact: str | None = None,
                    channel: str | None = None, status: str | None = None, limit: int = 1000) -> list[dict]:
    query = select(deliveries).order_by(deliveries.c.updated_at.desc(), deliveries.c.notification_id).limit(limit)
    for column, value in (("notification_id", notification), ("contact_id", contact), ("channel", channel),
                          ("status", status)):
        if value is not None:
            query = query.where(deliveries.c[column] == value)
    return [dict(row._mapping) for row in conn.execute(query)]


DELIVERY_KEYS = ("notification_id", "channel", "contact_id", "status", "reason", "attempts", "segments", "updated_at")


def delivery_documents(rows: Sequence[dict]) -> list[dict]:
    """Deliveries as `switchboard deliveries --json` and `GET /deliveries` print them."""
    return [{key: (row[key].isoformat() if key == "updated_at" else row[key]) for key in DELIVERY_KEYS}
            for row in rows]
