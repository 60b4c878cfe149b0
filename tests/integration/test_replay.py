"""Replaying the archive: by time range and routing key, dry run, into one queue, into consumers
that already processed everything, and the point of it all: a store rebuilt from the archive."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone

import pika
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from producers.calls import read_call_records
from producers.publisher import Publisher
from storage.bills import bill
from storage.database import drop_database, make_engine
from storage.migrate import upgrade
from tests.support.fleet_tools import count
from tests.support.processes import ROOT
from tests.support.waiting import wait_until

SAMPLE = ROOT / "examples" / "calls.jsonl"


def switchboard(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchboard", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def stamped(year: int) -> int:
    return int(datetime(year, 6, 1, tzinfo=timezone.utc).timestamp())


@pytest.fixture
def archived(fleet, amqp_url):
    """Six call records in the telephony archive, stamped 2001, 2002 and 2003 (starts and ends),
    behind one stamped now (stream order is not timestamp order), and a queue `replayed`."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("telephony", "call.start", json.dumps({"note": "stamped now, archived first"}).encode(),
                          pika.BasicProperties(message_id="m-now", timestamp=int(time.time()), delivery_mode=2))
    for year in (2001, 2002, 2003):
        for kind in ("start", "end"):
            body = {"type": kind, "id": f"{year}-{kind}", "call_id": str(year), "timestamp": f"{year}-06-01T10:00:00Z"}
            if kind == "start":
                body.update(source="11987654321", destination="2133334444")
            channel.basic_publish("telephony", f"call.{kind}", json.dumps(body).encode(), pika.BasicProperties(
                message_id=f"m-{year}-{kind}", timestamp=stamped(year), delivery_mode=2, headers={"trace": "t1"}))
    channel.queue_declare("replayed", durable=True, arguments={"x-queue-type": "classic"})
    channel.queue_purge("replayed")
    yield channel
    channel.queue_delete("replayed")
    connection.close()


def drain(channel, queue: str) -> list:
    found = []
    while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
        found.append(got)
    return found


@pytest.mark.timeout(120)
def test_replay_by_time_range_routing_key_dry_run_and_into_one_queue(archived, service_env):
    dry = switchboard(service_env, "replay", "telephony", "--since", "2002-01-01", "--until", "2002-12-31",
                      "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert (report["matched"], report["republished"], report["dry_run"]) == (2, 0, True)
    assert report["read"] >= 4, "read from the first message at or after --since"

    done = switchboard(service_env, "replay", "telephony", "--since", "2002-01-01", "--until", "2003-12-31",
                       "--routing-key", "call.start",
                       "--to-queue", "replayed", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["republished"] == 2
    wait_until(lambda: archived.queue_declare("replayed", passive=True).method.message_count == 2, timeout=10,
               message="not in the queue")
    messages = drain(archived, "replayed")
    assert sorted(props.message_id for _, props, _ in messages) == ["m-2002-start", "m-2003-start"]
    for _method, props, body in messages:
        assert props.timestamp == stamped(int(props.message_id[2:6])), "the original timestamp is kept"
        assert props.headers["trace"] == "t1" and "x-switchboard-replayed-at" in props.headers
        assert json.loads(body)["type"] == "start"


@pytest.mark.timeout(120)
def test_bad_replay_arguments_are_refused_clearly(service_env):
    backwards = switchboard(service_env, "replay", "telephony", "--since", "2003-01-01", "--until", "2002-01-01")
    assert backwards.returncode == 1 and "--until must not be before --since" in backwards.stderr
    garbled = switchboard(service_env, "replay", "telephony", "--since", "yesterday")
    assert garbled.returncode == 1 and "ISO 8601" in garbled.stderr
    unknown = switchboard(service_env, "replay", "nope", "--since", "2003-01-01")
    assert unknown.returncode == 1 and "no archive stream 'nope.archive'" in unknown.stderr


@pytest.mark.timeout(180)
def test_replaying_what_was_processed_changes_nothing_and_is_not_archived_twice(fleet, engine, amqp_url, service_env):
    fleet("call-pairing")
    fleet("billing")
    since = datetime.now(timezone.utc).replace(microsecond=0)
    with Publisher(amqp_url) as publisher:
        publisher.publish_many(read_call_records(SAMPLE.read_text().splitlines()).records)
    wait_until(lambda: count(engine, "priced_calls") == 8, timeout=60, message="sample not priced")
    with engine.connect() as conn:
        before = bill(conn, "99988526423", "2017-12")

    replayed = json.loads(switchboard(service_env, "replay", "telephony", "--since", since.isoformat(), "--json").stdout)
    assert replayed["republished"] >= 16  # the records and the call.completed announcements
    wait_until(lambda: _depths(amqp_url) == (0, 0), timeout=60, message="replay not consumed")
    # Call pairing announces the completed calls again (billing dedupes them); what was replayed
    # itself went through telephony.replay and is not in the archive.
    assert not any("x-switchboard-replayed-at" in (props.headers or {}) for props in _archive(amqp_url, since))
    with engine.connect() as conn:
        assert bill(conn, "99988526423", "2017-12") == before
    assert count(engine, "priced_calls") == 8 and count(engine, "call_records") == 16


def _archive(amqp_url: str, since: datetime) -> list:
    from producers.replay import ReplayRequest, read_archive

    return [props for _method, props, _body in read_archive(amqp_url, ReplayRequest("telephony", since), idle_s=1.0)]


def _depths(amqp_url: str) -> tuple[int, int]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        return tuple(channel.queue_declare(queue, passive=True).method.message_count
                     for queue in ("call-pairing", "billing"))
    finally:
        connection.close()


@pytest.fixture
def second_database(database_url):
    url = make_url(database_url)
    url = url.set(database=f"{url.database}_rebuilt").render_as_string(hide_password=False)
    yield url
    drop_database(url)


@pytest.mark.timeout(240)
def test_the_store_is_rebuilt_from_the_archive_with_the_same_bills(fleet, amqp_url, service_env, second_database,
                                                                  tmp_path):
    env = {**service_env, "SWITCHBOARD_DATABASE_URL": second_database}
    upgrade(second_database)
    since = datetime.now(timezone.utc).replace(microsecond=0)
    consumers = [fleet("call-pairing", **{"SWITCHBOARD_DATABASE_URL": second_database}),
                 fleet("billing", **{"SWITCHBOARD_DATABASE_URL": second_database})]
    loaded = switchboard(env, "publish", "calls", str(SAMPLE))
    assert loaded.returncode == 0, loaded.stderr
    engine = make_engine(second_database)
    try:
        wait_until(lambda: count(engine, "priced_calls") == 8, timeout=60, message="sample not priced")
        bills = _bills(engine)
    finally:
        engine.dispose()
    for process in consumers:
        process.terminate(timeout=30)

    drop_database(second_database)  # the store is lost
    upgrade(second_database)  # a new, empty one
    engine = make_engine(second_database)
    try:
        assert count(engine, "priced_calls") == 0
        fleet("call-pairing", **{"SWITCHBOARD_DATABASE_URL": second_database})
        fleet("billing", **{"SWITCHBOARD_DATABASE_URL": second_database})
        rebuilt = switchboard(env, "replay", "telephony", "--since", since.isoformat(), "--routing-key", "call.*",
                              "--json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        wait_until(lambda: count(engine, "priced_calls") == 8, timeout=60, message="not rebuilt")
        assert _bills(engine) == bills
    finally:
        engine.dispose()


def _bills(engine) -> dict:
    with engine.connect() as conn:
        periods = conn.execute(text("SELECT DISTINCT source, period FROM priced_calls")).all()
        return {(source, period): bill(conn, source, period) for source, period in periods}
