"""A canary password and a canary phone number must appear nowhere in the logs (stdout and
stderr) of a run that fails in every way that used to leak them:

- consumers whose database and broker URLs carry the canary password (PostgreSQL trusts
  local connections, so a URL with a password still connects; the broker user is created
  with it);
- records carrying the canary number dead-lettered by call pairing for a conflict (a reason
  that quotes both records) and for an invalid number (a reason that quotes the value);
- a database error whose statement parameters and "Failing row contains (...)" detail carry
  the number (a check constraint in the canary test consumer, tests/support/canary.py);
- an uncaught exception whose message quotes both URLs and whose traceback holds that
  database error, whole;
- a publisher whose AMQP URL carries the canary password for a user that does not exist.

Each failure is proven to have happened (dead letters present, the error events logged)
before the canaries are looked for; the dead-letter reasons must still say what is wrong.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pika
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from broker.envelope import Outgoing
from producers.publisher import Publisher
from schemas.telephony import CallStart
from tests.support import broker
from tests.support.canary import CREATE_TABLE, CanaryNumber
from tests.support.processes import ROOT, ConsumerProcess
from tests.support.waiting import wait_until

CANARY_PASSWORD = f"Cnry{secrets.token_hex(8)}"
CANARY_PHONE = f"119{secrets.randbelow(10**8):08d}"
SWITCHBOARD = [sys.executable, "-m", "switchboard"]


@pytest.fixture
def canary_user(test_vhost):
    """A broker user whose password is the canary, deleted afterwards."""
    user = f"switchboard-canary-{secrets.token_hex(4)}"
    broker.rabbitmqctl("add_user", user, CANARY_PASSWORD)
    try:
        broker.rabbitmqctl("set_permissions", "-p", test_vhost, user, ".*", ".*", ".*")
        yield user
    finally:
        broker.rabbitmqctl("delete_user", user)


@pytest.fixture
def canary_env(service_env, canary_user, test_vhost, database_url):
    amqp_url = f"amqp://{canary_user}:{CANARY_PASSWORD}@{broker.AMQP_HOST}:{broker.AMQP_PORT}/{quote(test_vhost, safe='')}"
    db_url = make_url(database_url).set(password=CANARY_PASSWORD).render_as_string(hide_password=False)
    return {**service_env, "SWITCHBOARD_AMQP_URL": amqp_url, "SWITCHBOARD_DATABASE_URL": db_url}


@pytest.fixture
def canary_table(engine):
    with engine.begin() as connection:
        connection.execute(text(CREATE_TABLE))
    yield
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE canary_numbers"))


@pytest.fixture
def processes():
    started: list[ConsumerProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.mark.timeout(240)
def test_a_failing_run_logs_neither_the_canary_password_nor_the_canary_phone_number(
        canary_env, canary_table, processes, amqp_url, test_vhost, engine, tmp_path):
    outputs: dict[str, str] = {}
    topology = subprocess.run([*SWITCHBOARD, "topology"], env=canary_env, capture_output=True, text=True, timeout=60)
    assert topology.returncode == 0, topology.stderr
    outputs["topology"] = topology.stdout + topology.stderr
    _purge(amqp_url, "call-pairing", "call-pairing.dead")

    pairing = ConsumerProcess(canary_env, tmp_path / "pairing.log", module="switchboard", args=("run", "call-pairing"))
    canary = ConsumerProcess(canary_env, tmp_path / "canary.log", module="tests.support.canary")
    processes += [pairing.start(), canary.start()]
    for process in (pairing, canary):
        wait_until(lambda process=process: process.saw("consumer_started"), timeout=60,
                   message=lambda process=process: f"consumer not started: {_tail(process)}")

    # A letter before the hex digits: eight digits alone look like a phone number and are masked
    # at info level (2 % of random tokens), which would make the logged reason differ.
    call_id = f"canary-x{secrets.token_hex(4)}"
    kept = CallStart(id=f"{call_id}-start", type="start", call_id=call_id, timestamp="2017-12-11T15:07:13Z",
                     source=CANARY_PHONE, destination="2133334444")
    with Publisher(amqp_url) as publisher:
        publisher.publish(kept)
        wait_until(lambda: _stored(engine, call_id), timeout=60, message="the first record was not stored")
        publisher.publish(kept.model_copy(update={"id": f"{call_id}-again", "destination": "2133335555"}))
        invalid = {**kept.model_dump(mode="json"), "id": f"{call_id}-bad", "source": f"+55{CANARY_PHONE}"}
        publisher.publish_outgoing([Outgoing("telephony", "call.start", json.dumps(invalid).encode(), "bad-number")])
        publisher.publish_many([CanaryNumber(phone=CANARY_PHONE), CanaryNumber(phone="2133334444")])

    refused = _publish_as_unknown_user(canary_env, test_vhost, tmp_path)
    outputs["publisher"] = refused.stdout + refused.stderr

    # The failures happened.
    assert refused.returncode == 2, outputs["publisher"]
    assert "RabbitMQ refused the credentials" in refused.stderr
    assert any(event["event"] == "amqp_link_failed" for event in _json_events(refused.stderr))
    pairing_dead = _wait_dead_letters(amqp_url, "call-pairing.dead", 2)
    canary_dead = _wait_dead_letters(amqp_url, "canary.dead", 1)
    wait_until(lambda: _count(canary, "message_dead_lettered") == 1 and _count(pairing, "message_dead_lettered") == 2,
               timeout=30, message="the dead letters were not logged")
    assert canary.saw("message_failed") and canary.saw("batch_failed_isolating")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT phone FROM canary_numbers")).scalars().all() == ["2133334444"]

    assert pairing.terminate(timeout=30) == 0
    assert canary.terminate(timeout=30) == 1, "the canary consumer dies of its uncaught exception"
    crash = next((event for event in canary.events() if event["event"] == "uncaught_exception"), None)
    assert crash is not None, f"the uncaught exception was not logged: {_tail(canary)}"
    assert "Stopped: canary consumer stopped; it used postgresql://postgres:***@" in crash["exception"]
    assert "IntegrityError" in crash["exception"] and "Failing row contains" in crash["exception"]

    # The dead letters keep reasons that say what is wrong (the conflict quotes the records).
    reasons = sorted(headers["x-switchboard-reason"] for headers in pairing_dead)
    assert reasons[0].startswith(f"conflicting start record for call {call_id}: record (id={call_id}-again")
    assert CANARY_PHONE in reasons[0], "the dead letter travels with the record, and so may its reason"
    assert reasons[1].startswith("invalid payload: start.source: phone number must be digits only")
    (canary_reason,) = [headers["x-switchboard-reason"] for headers in canary_dead]
    assert canary_reason == ('handler failed 2 times: CheckViolation: new row for relation "canary_numbers" '
                             'violates check constraint "phone_fits" (SQLSTATE 23514)')

    # ...and their log lines say it without the personal data.
    logged = sorted(event["error"] for event in pairing.events() if event["event"] == "message_dead_lettered")
    assert logged[0] == (f"conflicting start record for call {call_id}: it differs in id, destination "
                         f"from record {call_id}-start, received first and kept")
    assert logged[1].startswith("invalid payload: start.source: phone number must be digits only") and "<phone>" in logged[1]

    outputs["call-pairing"] = (tmp_path / "pairing.log").read_text()
    outputs["canary"] = (tmp_path / "canary.log").read_text()
    for name, output in outputs.items():
        assert CANARY_PASSWORD not in output, f"the canary password is in the output of {name}"
        assert CANARY_PHONE not in output, f"the canary phone number is in the output of {name}"


@pytest.mark.timeout(60)
def test_database_errors_do_not_quote_statement_parameters(engine, canary_table):
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO canary_numbers (phone) VALUES (:phone)"), {"phone": CANARY_PHONE})
    message = str(raised.value)
    assert "violates check constraint" in message and "SQL parameters hidden" in message
    assert f"'{CANARY_PHONE}'" not in message, "the statement parameters are hidden"


def _publish_as_unknown_user(env: dict, vhost: str, tmp_path: Path) -> subprocess.CompletedProcess:
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"type": "start", "call_id": "c1", "timestamp": "2017-12-11T15:07:13Z",
                                 "source": CANARY_PHONE, "destination": "2133334444"}) + "\n")
    unknown = (f"amqp://nobody-{secrets.token_hex(4)}:{CANARY_PASSWORD}@{broker.AMQP_HOST}:{broker.AMQP_PORT}/"
               f"{quote(vhost, safe='')}")
    return subprocess.run([*SWITCHBOARD, "publish", "calls", str(calls)], env={**env, "SWITCHBOARD_AMQP_URL": unknown},
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def _purge(amqp_url: str, *queues: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for queue in queues:
        channel.queue_purge(queue)
    connection.close()


def _wait_dead_letters(amqp_url: str, queue: str, expected: int) -> list[dict]:
    found: list[dict] = []

    def drained() -> bool:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        while (message := channel.basic_get(queue, auto_ack=True))[0] is not None:
            found.append(message[1].headers)
        connection.close()
        return len(found) >= expected

    wait_until(drained, timeout=60, interval=0.5, message=lambda: f"{len(found)} of {expected} dead letters in {queue}")
    return found


def _stored(engine, call_id: str) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(text("SELECT count(*) FROM call_records WHERE call_id = :id"),
                                       {"id": call_id}).scalar_one())


def _count(process: ConsumerProcess, event: str) -> int:
    return sum(item.get("event") == event for item in process.events())


def _json_events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _tail(process: ConsumerProcess) -> str:
    return json.dumps(process.events()[-5:])
