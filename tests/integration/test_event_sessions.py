"""Event sessions end to end: applications publishing over AMQP as their own RabbitMQ users, the
event-sessions consumer running as processes, sessions and errors read back from PostgreSQL."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text

from producers.publisher import Publisher
from schemas.event_types import event_routing_key
from schemas.events import SentEvent
from storage.event_queries import session as read_session
from tests.support.apps import publish_raw
from tests.support.fleet_tools import count, dead_letters
from tests.support.processes import ROOT
from tests.support.waiting import wait_until

BASE = datetime(2021, 1, 1, 9, 0, tzinfo=timezone.utc)


def event(session: UUID, at: datetime, path: str, *, name: str = "pageview", event_id: str | None = None,
          zone: timezone = timezone.utc, **data) -> dict:
    """A valid event; `zone` only changes how its time is written (UTC ones without a zone)."""
    local = at.astimezone(zone)
    written = local.replace(tzinfo=None).isoformat(sep=" ") if zone == timezone.utc else local.isoformat()
    body = {"session_id": str(session), "category": "page interaction", "name": name,
            "data": {"host": "shop.example.com", "path": path, **data}, "timestamp": written}
    return body if event_id is None else {"id": event_id, **body}


def publish(app, bodies: list[dict]) -> None:
    with Publisher(app.amqp_url) as publisher:
        publisher.publish_many([SentEvent(fields=body) for body in bodies])


def one_sessions_events(session: UUID, app: str, rng: random.Random) -> list[tuple[dict, tuple]]:
    """(body, expected timeline key) for 18 events of `app`: those with an id share a few times
    (ties, broken by id), those without one have times of their own; half written with a zone."""
    plus_two = timezone(timedelta(hours=2))
    events = []
    for k in range(18):
        with_id = k % 2 == 0
        at = BASE + timedelta(seconds=rng.choice([10, 20, 30]) if with_id else 100 + k * 7 + rng.random())
        event_id = f"{app[-6:]}-{rng.randrange(10**6)}-{k}" if with_id else None
        path = f"/{app[-6:]}/{k}"
        body = event(session, at, path, event_id=event_id, zone=plus_two if k % 3 == 0 else timezone.utc)
        events.append((body, (at, event_id or "", app, path)))
    return events


@pytest.mark.timeout(180)
def test_shuffled_and_duplicated_events_of_a_session_give_one_ordered_timeline(fleet, apps, engine):
    shop, blog = apps("shop"), apps("blog")
    session, marker = uuid4(), uuid4()
    rng = random.Random(2021)
    sent = {app.app: one_sessions_events(session, app.app, rng) for app in (shop, blog)}
    fleet("event-sessions")
    for app in (shop, blog):
        bodies = [body for body, _key in sent[app.app]]
        wave = bodies + rng.sample(bodies, 8) + bodies[:3]
        rng.shuffle(wave)
        # the marker goes last on the same channel: once it is stored, so is everything before it
        publish(app, wave + [event(marker, BASE, "/marker")])
    wait_until(lambda: count_where(engine, "events", f"session_id = '{marker}'") == 2, timeout=60,
               message="the markers of both applications were not stored")

    expected = sorted(key for keys in sent.values() for _body, key in keys)
    with engine.connect() as connection:
        stored = read_session(connection, str(session))
    assert [(e.timestamp, e.application, e.data["path"]) for e in stored.events] == \
        [(at, app, path) for at, _id, app, path in expected]
    assert [e.id for e in stored.events if e.id.count("-") == 2] == [i for _at, i, _app, _path in expected if i]
    assert (stored.started_at, stored.ended_at) == (expected[0][0], expected[-1][0])
    assert stored.applications == sorted([shop.app, blog.app])
    with engine.connect() as connection:
        event_count = connection.execute(text("SELECT event_count FROM sessions WHERE session_id = :s"),
                                         {"s": str(session)}).scalar_one()
    assert event_count == len(expected) == 36
    assert count(engine, "event_errors") == 0


@pytest.mark.timeout(240)
def test_two_consumers_and_many_new_sessions_at_once_make_one_session_each(fleet, apps, engine):
    shop = apps("shop")
    first, second = fleet("event-sessions"), fleet("event-sessions")
    wait_until(lambda: first.saw("consumer_started") and second.saw("consumer_started"), timeout=60,
               message="both consumers must be consuming before the events go out")
    sessions = [uuid4() for _ in range(400)]
    # Each session's first two events back to back: the broker deals them round robin, one to each consumer.
    bodies = [event(session, BASE + timedelta(seconds=k), f"/{k}", event_id=f"{k}-{session}")
              for session in sessions for k in (1, 2)]
    bodies += [event(session, BASE, "/0", event_id=f"0-{session}") for session in sessions]
    publish(shop, bodies)
    wait_until(lambda: count(engine, "events") == len(bodies), timeout=120,
               message=lambda: f"{count(engine, 'events')} of {len(bodies)} events stored")

    assert count(engine, "sessions") == len(sessions)
    with engine.connect() as connection:
        wrong = connection.execute(text(
            "SELECT count(*) FROM sessions s JOIN (SELECT session_id, count(*) AS n, min(timestamp) AS first, "
            "max(timestamp) AS last FROM events GROUP BY session_id) e USING (session_id) "
            "WHERE s.event_count <> e.n OR s.started_at <> e.first OR s.ended_at <> e.last")).scalar_one()
        raced = connection.execute(text(
            "SELECT count(*) FROM events second JOIN events first ON first.application = second.application "
            "AND first.event_id = '1' || substr(second.event_id, 2) "
            "WHERE second.event_id LIKE '2-%' AND first.xmin <> second.xmin")).scalar_one()
    assert wrong == 0, "every session's count, first and last event agree with its stored events"
    codes = [first.terminate(30), second.terminate(30)]
    handled = [next(e["messages"] for e in p.events() if e.get("event") == "consumer_stopped") for p in (first, second)]
    assert codes == [0, 0] and all(handled), f"both consumers must have handled events: {handled}"
    assert raced > 0, "the first two events of some sessions were stored by different transactions"
    assert count(engine, "event_errors") == 0


def count_where(engine, table: str, condition: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table} WHERE {condition}")).scalar_one()


def invalid_events(session: UUID) -> dict[str, tuple[str, dict | bytes]]:
    """What each invalid event is refused for -> (routing key, body)."""
    good = event(session, BASE, "/")
    page = good["data"]

    def variant(**fields):
        body = {**good, **fields}
        return event_routing_key(body["category"], body["name"]), body

    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    return {
        "invalid page interaction/pageview data: host: Field required": variant(data={"path": "/"}),
        "invalid page interaction/pageview data: host: must be a host name": variant(data={**page, "host": "a b"}),
        "invalid page interaction/pageview data: path: must be a URL path": variant(data={**page, "path": "x"}),
        "invalid page interaction/pageview data: extra: Extra inputs are not permitted": variant(
            data={**page, "extra": 1}),
        "invalid page interaction/cta click data: element: Field required": variant(name="cta click"),
        "invalid page interaction/cta click data: element: String should have at least 1 character": variant(
            name="cta click", data={**page, "element": ""}),
        "invalid form interaction/submit data: form: Input should be a valid dictionary": variant(
            category="form interaction", name="submit", data={**page, "form": "plan=pro"}),
        "invalid event: data: Input should be an object": variant(data="host=shop"),
        "timestamp ": variant(timestamp=future),
        "invalid event: session_id: Input should be a valid UUID": variant(session_id="session-1"),
        "unknown event type 'video interaction'/'play'": variant(category="video interaction", name="play"),
        "routing key 'event.page_interaction.cta_click' does not match": ("event.page_interaction.cta_click", good),
        "invalid JSON": ("event.page_interaction.pageview", b'{"session_id": '),
        "data contains a NUL character": variant(data={**page, "path": "/\x00"}),
    }


@pytest.mark.timeout(180)
def test_every_invalid_event_is_kept_with_its_reason_and_the_consumer_keeps_going(fleet, apps, engine, amqp_url,
                                                                                  settings):
    shop, gone = apps("shop"), apps("gone")
    session = uuid4()
    cases = invalid_events(session)
    own = [(routing_key, body, shop.user) for routing_key, body in cases.values()]
    own.append(("event.page_interaction.pageview", event(session, BASE, "/", event_id="reused"), shop.user))
    own.append(("event.page_interaction.pageview", event(session, BASE, "/other", event_id="reused"), shop.user))
    publish_raw(shop.amqp_url, own)
    publish_raw(shop.amqp_url, [("event.page_interaction.pageview", event(session, BASE, "/no-user"), None)])
    publish_raw(amqp_url, [("event.page_interaction.pageview", event(session, BASE, "/admin"), "guest")])
    publish_raw(gone.amqp_url, [("event.page_interaction.pageview", event(session, BASE, "/gone"), gone.user)])
    from switchboard.apps import Applications

    Applications(settings).revoke(gone.app)  # its event is still queued: refused when consumed
    publish_raw(shop.amqp_url, [("event.page_interaction.pageview", event(session, BASE, "/after"), shop.user)])
    fleet("event-sessions")
    wait_until(lambda: count_where(engine, "events", "data->>'path' = '/after'") == 1, timeout=60,
               message="the valid event published after the invalid ones was not stored")

    with engine.connect() as connection:
        errors = connection.execute(text("SELECT application, user_id, reason, body FROM event_errors")).all()
    reasons = [row.reason for row in errors]
    for expected in cases:
        assert sum(reason.startswith(expected) for reason in reasons) == 1, (expected, reasons)
    assert any(r.startswith("timestamp ") and "is in the future: more than 300 s" in r for r in reasons)
    assert any(r.startswith("event id 'reused' of application") and "already used" in r for r in reasons)
    assert "no application: the AMQP user_id property is missing" in reasons
    assert "user_id 'guest' is not a registered application (`switchboard apps add`)" in reasons
    assert any(r.startswith(f"application '{gone.app}' was revoked at") for r in reasons)
    assert len(errors) == len(cases) + 4
    attributed = {row.application for row in errors if row.reason.startswith("invalid")}
    assert attributed == {shop.app}
    assert all(row.body for row in errors), "every refused event keeps its body"
    assert count(engine, "events") == 2, "the first 'reused' event and the one after"
    assert dead_letters(amqp_url, "event-sessions") == [], "nothing refused is dead-lettered"


@pytest.mark.timeout(120)
def test_unknown_types_are_stored_when_the_policy_accepts_them(fleet, apps, engine):
    shop = apps("shop")
    session = uuid4()
    play = {**event(session, BASE, "/tour"), "category": "video interaction", "name": "play"}
    not_an_object = {**play, "data": [1, 2]}
    bad_known = event(session, BASE, "/", name="cta click")
    fleet("event-sessions", SWITCHBOARD_UNKNOWN_EVENTS="accept")
    publish_raw(shop.amqp_url, [("event.video_interaction.play", play, shop.user),
                                ("event.video_interaction.play", not_an_object, shop.user),
                                ("event.page_interaction.cta_click", bad_known, shop.user),
                                ("event.page_interaction.pageview", event(session, BASE, "/last"), shop.user)])
    wait_until(lambda: count(engine, "events") == 2 and count(engine, "event_errors") == 2, timeout=60,
               message=lambda: f"{count(engine, 'events')} events, {count(engine, 'event_errors')} errors")
    with engine.connect() as connection:
        stored = read_session(connection, str(session))
        reasons = sorted(connection.execute(text("SELECT reason FROM event_errors")).scalars())
    assert sorted((e.category, e.name) for e in stored.events) == [("page interaction", "pageview"),
                                                                  ("video interaction", "play")]
    assert reasons[0].startswith("invalid event: data: Input should be an object")
    assert reasons[1].startswith("invalid page interaction/cta click data: element: Field required")


@pytest.mark.timeout(180)
def test_replayed_events_keep_their_application_and_the_header_cannot_impersonate_one(fleet, apps, engine,
                                                                                       service_env):
    shop, blog = apps("shop"), apps("blog")
    session = uuid4()
    since = (datetime.now(timezone.utc) - timedelta(seconds=2)).replace(microsecond=0).isoformat()
    fleet("event-sessions")
    publish(shop, [event(session, BASE + timedelta(seconds=k), f"/{k}") for k in range(3)])
    forged = {**event(session, BASE, "/forged"), "id": "forged-1"}
    publish_raw(blog.amqp_url, [("event.page_interaction.pageview", forged, blog.user)],
                headers={"x-switchboard-original-user-id": shop.user})
    wait_until(lambda: count(engine, "events") == 4, timeout=60, message=lambda: f"{count(engine, 'events')} events")
    with engine.begin() as connection:
        forged_by = connection.execute(text("SELECT application FROM events WHERE event_id = 'forged-1'")).scalar_one()
        connection.execute(text("DELETE FROM events WHERE application = :app"), {"app": shop.app})
        connection.execute(text("DELETE FROM sessions"))
    assert forged_by == blog.app, "an application's own user_id wins over the header"

    replayed = subprocess.run([sys.executable, "-m", "switchboard", "replay", "tracking", "--since", since,
                               "--json"], env=service_env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["republished"] >= 4
    wait_until(lambda: count_where(engine, "events", f"application = '{shop.app}'") == 3, timeout=60,
               message="the replayed events were not stored as the shop's")
    assert count_where(engine, "event_errors", f"body LIKE '%{session}%'") == 0, \
        "no replayed event was refused as the operator's"
