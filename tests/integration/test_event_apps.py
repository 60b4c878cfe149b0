"""Trusted applications against the real broker and its management API: what an application's
credentials can and cannot do, revocation, and the CLI a new user follows in the README."""

from __future__ import annotations

import json
import subprocess
import sys
from uuid import uuid4

import pika
import pytest
from pika import exceptions as pe

from broker.errors import LinkFailed
from producers.publisher import Publisher
from schemas.events import SentEvent
from switchboard.apps import Applications
from tests.support.fleet_tools import count, error_reasons
from tests.support.processes import ROOT
from tests.support.waiting import wait_until

EXAMPLES = ROOT / "examples" / "events.jsonl"
PAGEVIEW = {"session_id": "8a1c0f0e-5a53-4d6c-9f0a-3e1b2c4d5e6f", "category": "page interaction",
            "name": "pageview", "data": {"host": "shop.example.com", "path": "/"}, "timestamp": "2021-01-01 09:15:27"}


def switchboard(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchboard", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def one_clear_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def refusal(connection: pika.BlockingConnection, action) -> tuple[int, str]:
    """Run `action(channel)` on a fresh confirm-mode channel; the broker must close it."""
    channel = connection.channel()
    channel.confirm_delivery()
    with pytest.raises(pe.ChannelClosedByBroker) as closed:
        action(channel)
    return closed.value.reply_code, closed.value.reply_text


def publish(channel, exchange: str, routing_key: str, user_id: str | None) -> None:
    channel.basic_publish(exchange, routing_key, json.dumps(PAGEVIEW).encode(),
                          pika.BasicProperties(user_id=user_id, delivery_mode=2), mandatory=True)


@pytest.mark.timeout(120)
def test_an_application_publishes_events_and_nothing_else_until_it_is_revoked(made, settings, engine):
    shop, blog = made.add("shop"), made.add("blog")
    connection = pika.BlockingConnection(pika.URLParameters(shop.amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    publish(channel, "tracking", "event.page_interaction.pageview", shop.user)  # confirmed, or it raises

    assert refusal(connection, lambda ch: publish(ch, "telephony", "call.start", shop.user))[0] == 403
    assert refusal(connection, lambda ch: publish(ch, "", "event-sessions", shop.user))[0] == 403
    code, reason = refusal(connection, lambda ch: publish(ch, "tracking", "call.start", shop.user))
    assert code == 403 and "call.start" in reason, "routing keys other than event.* are refused"
    assert refusal(connection, lambda ch: ch.basic_get("event-sessions"))[0] == 403
    assert refusal(connection, lambda ch: ch.queue_declare("", exclusive=True))[0] == 403
    code, reason = refusal(connection, lambda ch: publish(ch, "tracking", "event.page_interaction.pageview", blog.user))
    assert code == 406 and f"user_id property set to '{blog.user}'" in reason, "no application can speak for another"

    Applications(settings).revoke(shop.app)
    closed = []

    def connection_closed() -> bool:
        try:
            connection.process_data_events(time_limit=0.2)
        except pe.ConnectionClosedByBroker as error:
            closed.append(error)
        return bool(closed) or not connection.is_open

    wait_until(connection_closed, timeout=20, message="the revoked application's open connection was not closed")
    assert closed and closed[0].reply_code == 320, "the broker closed it (CONNECTION_FORCED)"
    with pytest.raises(pe.ProbableAuthenticationError):
        pika.BlockingConnection(pika.URLParameters(shop.amqp_url))
    with Publisher(shop.amqp_url, connect_timeout=20) as publisher, pytest.raises(LinkFailed, match="credentials"):
        publisher.publish(SentEvent(fields=PAGEVIEW))
    with Publisher(blog.amqp_url) as publisher:  # the other application is untouched
        publisher.publish(SentEvent(fields={**PAGEVIEW, "data": {"host": "blog.example.com", "path": "/"}}))


@pytest.mark.timeout(180)
def test_the_readme_flow_an_application_loads_the_examples_and_reads_sessions_and_errors(fleet, made, service_env,
                                                                                         engine):
    name = made.name("shop")
    added = switchboard(service_env, "apps", "add", name, "--json")
    assert added.returncode == 0, added.stderr
    credentials = json.loads(added.stdout)
    assert set(credentials) == {"app", "user", "password", "amqp_url"} and credentials["app"] == name
    assert f"{name}:{credentials['password']}@" in credentials["amqp_url"]
    assert "exists already" in one_clear_line(switchboard(service_env, "apps", "add", name))
    listed = json.loads(switchboard(service_env, "apps", "list", "--json").stdout)
    assert [row["app"] for row in listed] == [name]

    fleet_env = {**service_env, "SWITCHBOARD_AMQP_URL": credentials["amqp_url"]}
    loaded = switchboard(fleet_env, "publish", "events", str(EXAMPLES))
    assert loaded.returncode == 0, loaded.stderr
    assert "published 12 events, rejected 0 lines" in loaded.stdout
    fleet("event-sessions")
    wait_until(lambda: count(engine, "events") == 7 and count(engine, "event_errors") == 4, timeout=60,
               message=lambda: f"{count(engine, 'events')} events, {count(engine, 'event_errors')} errors stored: "
                       f"{error_reasons(engine)}")
    first = json.loads(switchboard(service_env, "session", "8a1c0f0e-5a53-4d6c-9f0a-3e1b2c4d5e6f", "--json").stdout)
    assert [e["id"] for e in first["events"]] == ["shop-1001", "shop-1002", "shop-1003", "shop-1004"]
    assert (first["started_at"], first["ended_at"]) == ("2021-01-01T09:15:27.243860Z", "2021-01-01T09:17:02.118000Z")
    assert first["applications"] == [name]
    second = json.loads(switchboard(service_env, "session", "5f3b9d4e-2c1a-4e8b-9d7f-6a5b4c3d2e1f", "--json").stdout)
    assert [(e["name"], e["timestamp"]) for e in second["events"]] == [
        ("pageview", "2021-01-01T10:02:11Z"), ("cta click", "2021-01-01T10:02:45.250000Z"),
        ("submit", "2021-01-01T10:05:30Z")], "ordered by when they happened, the +01:00 time read as 10:02:11Z"
    errors = json.loads(switchboard(service_env, "event-errors", "--json").stdout)
    assert sorted(e["reason"].split(":")[0] for e in errors) == [
        "invalid event", "invalid page interaction/cta click data", "timestamp 2999-01-01T00", "unknown event type 'video interaction'/'play'"]
    assert {e["application"] for e in errors} == {name} and all(e["body"].startswith("{") for e in errors)
    clicks = json.loads(switchboard(service_env, "events", "--category", "page_interaction", "--name", "CTA click",
                                    "--since", "2021-01-01", "--until", "2021-01-01", "--json").stdout)
    assert [e["id"] for e in clicks][0] == "shop-1003" and len(clicks) == 2
    assert json.loads(switchboard(service_env, "events", "--application", "nobody", "--json").stdout) == []

    unknown = str(uuid4())
    assert f"no session {unknown}" in one_clear_line(switchboard(service_env, "session", unknown))
    assert "SESSION_ID must be a UUID" in one_clear_line(switchboard(service_env, "session", "abc"))
    assert "--since must be an ISO 8601" in one_clear_line(switchboard(service_env, "events", "--since", "tuesday"))

    assert switchboard(service_env, "apps", "revoke", name).returncode == 0
    assert f"no application '{name}'" in one_clear_line(switchboard(service_env, "apps", "revoke", name))
    assert json.loads(switchboard(service_env, "apps", "list", "--json").stdout) == []


@pytest.mark.parametrize("url, expected", [
    ("", "SWITCHBOARD_MANAGEMENT_URL is empty"),
    ("localhost:15672", "SWITCHBOARD_MANAGEMENT_URL must be the http:// or https:// URL"),
    ("http://127.0.0.1:1", "management API not reachable at http://127.0.0.1:1"),
    ("http://127.0.0.1:15692", "no RabbitMQ management API at http://127.0.0.1:15692"),
])
@pytest.mark.timeout(60)
def test_a_wrong_or_missing_management_url_is_one_clear_error(made, service_env, url, expected):
    name = made.name("never")
    env = {**service_env, "SWITCHBOARD_MANAGEMENT_URL": url}
    assert expected in one_clear_line(switchboard(env, "apps", "add", name))
    assert expected in one_clear_line(switchboard(env, "apps", "revoke", name))


@pytest.mark.timeout(60)
def test_queries_and_apps_against_a_database_without_the_schema_say_run_migrate(service_env, database_url):
    from sqlalchemy.engine import make_url

    from storage.database import drop_database, ensure_database
    from tests.support.leftovers import run_name

    empty = make_url(database_url).set(database=run_name("switchboard_test_empty", "_")).render_as_string(
        hide_password=False)
    ensure_database(empty)
    try:
        env = {**service_env, "SWITCHBOARD_DATABASE_URL": empty}
        for args in (("events",), ("event-errors",), ("apps", "list"), ("apps", "add", "switchboard-test-never")):
            line = one_clear_line(switchboard(env, *args))
            assert "does not exist" in line and "run `switchboard migrate`" in line, (args, line)
    finally:
        drop_database(empty)
