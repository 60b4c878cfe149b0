"""The event-sessions handler against the real PostgreSQL, without a broker: redelivered and
overlapping batches, conflicts across batches, and the SQL order against the ordering rule."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from uuid import uuid4

import pytest
from sqlalchemy import text

from consumers.event_rules import EventRules, judge
from consumers.event_sessions import handle_batch
from consumers.runtime.handler import Incoming
from schemas.events import timeline
from storage.applications import register_application
from storage.event_queries import session as read_session

RULES = EventRules()


@pytest.fixture
def store(engine):
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE events, sessions, event_errors, applications"))
        for name in ("shop", "blog"):
            register_application(connection, name)

    def handle(batch: list[Incoming]) -> None:
        with engine.begin() as connection:
            handle_batch(connection, batch)

    return handle


def incoming(session, second: int, path: str, app: str = "shop", event_id: str | None = None) -> Incoming:
    body = {"session_id": str(session), "category": "page interaction", "name": "pageview",
            "data": {"host": "shop.example.com", "path": path}, "timestamp": f"2021-01-01T09:00:{second:02d}Z"}
    if event_id is not None:
        body["id"] = event_id
    return Incoming(payload=judge("event.page_interaction.pageview", json.dumps(body).encode(), RULES),
                    routing_key="event.page_interaction.pageview", message_id=None, redelivered=False, user_id=app)


def aggregates(engine, session) -> tuple:
    with engine.connect() as connection:
        return tuple(connection.execute(text(
            "SELECT started_at, ended_at, event_count, applications, (SELECT count(*) FROM events e "
            "WHERE e.session_id = s.session_id) FROM sessions s WHERE session_id = :s"), {"s": str(session)}).one())


@pytest.mark.timeout(60)
def test_a_redelivered_or_overlapping_batch_adds_only_the_events_not_stored_yet(store, engine):
    session = uuid4()
    first = [incoming(session, 10, "/a"), incoming(session, 20, "/b", app="blog", event_id="1")]
    store(first)
    store(first)  # the batch again, as after a crash between commit and ack
    assert aggregates(engine, session)[2:] == (2, ["blog", "shop"], 2)
    store([incoming(session, 5, "/c"), *first, incoming(session, 30, "/d", event_id="1")])
    started, ended, event_count, applications, stored = aggregates(engine, session)
    assert (event_count, stored) == (4, 4), "two new events added, the two known ones not again"
    assert (started.second, ended.second, applications) == (5, 30, ["blog", "shop"])


@pytest.mark.timeout(60)
def test_an_id_reused_with_other_content_in_a_later_batch_is_refused_and_the_first_kept(store, engine):
    session = uuid4()
    store([incoming(session, 10, "/first", event_id="e1")])
    store([incoming(session, 10, "/second", event_id="e1")])
    with engine.connect() as connection:
        paths = connection.execute(text("SELECT data->>'path' FROM events")).scalars().all()
        reasons = connection.execute(text("SELECT reason FROM event_errors")).scalars().all()
    assert paths == ["/first"]
    assert reasons == ["event id 'e1' of application 'shop' was already used for an event with other content: "
                       "the first one is kept"]
    assert aggregates(engine, session)[2] == 1


@pytest.mark.timeout(60)
def test_the_stored_order_is_the_ordering_rule_even_for_ids_a_locale_would_sort_otherwise(store, engine):
    session = uuid4()
    ids = ["b", "B", "a", "_x", "Z", "é", "10", "9", "a-b", "ab"]
    store([incoming(session, 10, f"/{event_id}", event_id=event_id) for event_id in ids]
          + [incoming(session, 10, "/blog-a", app="blog", event_id="a")])
    with engine.connect() as connection:
        stored = read_session(connection, str(session))
        in_sql = connection.execute(text("SELECT event_id, application FROM events WHERE session_id = :s "
                                         "ORDER BY timestamp, event_id, application"), {"s": str(session)}).all()
    assert [(e.id, e.application) for e in timeline(stored.events)] == [tuple(row) for row in in_sql]
    assert [e.id for e in stored.events][:4] == ["10", "9", "B", "Z"], "code point order: digits, capitals, ..."
    assert stored.started_at == datetime(2021, 1, 1, 9, 0, 10, tzinfo=timezone.utc)
