"""Event sessions: behaviour events in (any order, duplicated, sometimes wrong), sessions kept.

Per batch, in one transaction:
- the registered applications are read once; an event is attributed to the application its
  AMQP user_id names (the broker checked it against the connection's user). No user_id, or
  one that is not a registered application (the admin user is not one), is refused. A replay
  (`switchboard replay`) is published by an operator, not an application: the application
  that first sent it is in the x-switchboard-original-user-id header, which is believed only
  when the user_id is not an application's (applications cannot impersonate each other);
- every event passes the rules of consumers/event_rules.py (decoded before the batch);
- valid events are stored once per (application, id); each touched session is created once
  and its aggregates grow by the events actually inserted (storage/event_store.py);
- an id already stored with another content is a conflict: the first stays, this one is refused.
Every refused event is stored in `event_errors` with its reason and body. Nothing is
dead-lettered: a refused event never blocks the queue and is never lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Sequence

from sqlalchemy.engine import Connection

from broker.envelope import ORIGINAL_USER_HEADER
from consumers.event_rules import EventRules, InvalidEvent, ValidEvent, derived_id, judge
from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas import topology
from storage import event_store as store
from storage.event_store import ErrorRow, EventKey, EventRow

MAX_ERROR_BODY_BYTES = 8192

Judged = ValidEvent | InvalidEvent


@dataclass
class Decisions:
    events: dict[EventKey, EventRow] = field(default_factory=dict)
    sources: dict[EventKey, Incoming] = field(default_factory=dict)  # the message each event came in
    errors: list[ErrorRow] = field(default_factory=list)

    def refuse(self, message: Incoming[Judged], application: str | None, reason: str) -> None:
        self.errors.append(error_row(message, application, reason))


def sender(message: Incoming, registered: Mapping[str, datetime | None]) -> str | None:
    """The user that sent the event: the AMQP user_id, or for a replay by an operator the original one."""
    if message.user_id in registered:
        return message.user_id
    return (message.headers or {}).get(ORIGINAL_USER_HEADER) or message.user_id


def attribution(user_id: str | None, registered: Mapping[str, datetime | None]) -> tuple[str | None, str | None]:
    """(application, None) for a registered, active application; (None, reason) otherwise."""
    if not user_id:
        return None, "no application: the AMQP user_id property is missing"
    if user_id not in registered:
        return None, f"user_id {user_id!r} is not a registered application (`switchboard apps add`)"
    revoked_at = registered[user_id]
    if revoked_at is not None:
        return None, f"application {user_id!r} was revoked at {revoked_at.isoformat()}"
    return user_id, None


def decide(batch: Sequence[Incoming[Judged]], registered: Mapping[str, datetime | None]) -> Decisions:
    decisions = Decisions()
    for message in batch:
        application, refusal = attribution(sender(message, registered), registered)
        judged = message.payload
        if refusal is not None:
            decisions.refuse(message, None, refusal)
        elif isinstance(judged, InvalidEvent):
            decisions.refuse(message, application, judged.reason)
        else:
            row = event_row(application, judged)
            kept = decisions.events.setdefault(row.key, row)
            decisions.sources.setdefault(row.key, message)
            if kept.fingerprint != row.fingerprint:
                decisions.refuse(message, application, conflict(row))
    return decisions


def event_row(application: str, valid: ValidEvent) -> EventRow:
    event = valid.event
    return EventRow(
        application=application,
        event_id=event.id if event.id is not None else derived_id(application, valid.fingerprint),
        session_id=valid.session_id,
        category=event.category,
        name=event.name,
        timestamp=event.timestamp,
        data=valid.data_json,
        fingerprint=valid.fingerprint,
    )


def conflict(row: EventRow) -> str:
    return (f"event id {row.event_id!r} of application {row.application!r} was already used for an event with "
            "other content: the first one is kept")


def error_row(message: Incoming[Judged], application: str | None, reason: str) -> ErrorRow:
    body = message.payload.body
    identity = hashlib.sha256(b"\n".join([(message.user_id or "").encode(), message.routing_key.encode(), body]))
    return ErrorRow(
        error_id=identity.hexdigest()[:32],
        application=application,
        user_id=message.user_id,
        routing_key=message.routing_key,
        reason=reason,
        body=body[:MAX_ERROR_BODY_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        body_bytes=len(body),
    )


def handle_batch(conn: Connection, batch: Sequence[Incoming[Judged]]) -> BatchOutcome:
    decisions = decide(batch, store.registered_applications(conn))
    rows = decisions.events
    inserted = store.insert_events(conn, list(rows.values()))
    already_stored = store.stored_fingerprints(conn, rows.keys() - inserted)
    for key, stored in already_stored.items():
        if stored != rows[key].fingerprint:
            decisions.refuse(decisions.sources[key], key[0], conflict(rows[key]))
    store.insert_errors(conn, decisions.errors)
    return BatchOutcome()


def make_consumer(rules: EventRules | None = None) -> ConsumerSpec:
    """The consumer, judging events by `rules` (the defaults: reject unknown types, 300 s skew)."""
    rules = rules or EventRules()

    def decode(routing_key: str, body: bytes) -> Judged:
        return judge(routing_key, body, rules)

    return ConsumerSpec(name="event-sessions", queue=topology.EVENT_SESSIONS, decode=decode, handle=handle_batch)


CONSUMER = make_consumer()
