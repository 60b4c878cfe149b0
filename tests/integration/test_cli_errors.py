"""The CLI against services that refuse or are not there: one clear line, a non-zero exit, no
traceback; and the operator commands against real queues."""

from __future__ import annotations

import json
import subprocess
import sys

import pika
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from storage.schema import metadata
from tests.support.processes import ROOT


def switchboard(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchboard", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def one_clear_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.timeout(60)
def test_bill_over_amqp_before_topology_says_run_topology(service_env, bare_vhost_url):
    done = switchboard({**service_env, "SWITCHBOARD_AMQP_URL": bare_vhost_url},
                       "bill", "99988526423", "--period", "2017-12", "--via-amqp")
    assert "exchange 'telephony' does not exist" in one_clear_line(done)


@pytest.mark.timeout(60)
def test_bill_over_amqp_with_nothing_bound_says_so(service_env, bare_vhost_url):
    connection = pika.BlockingConnection(pika.URLParameters(bare_vhost_url))
    connection.channel().exchange_declare("telephony", "topic", durable=True)
    connection.close()
    done = switchboard({**service_env, "SWITCHBOARD_AMQP_URL": bare_vhost_url},
                       "bill", "99988526423", "--period", "2017-12", "--via-amqp")
    assert "nothing is bound to routing key 'bill.requested'" in one_clear_line(done)


@pytest.mark.timeout(60)
def test_bill_against_a_database_that_does_not_exist(service_env, database_url):
    missing = make_url(database_url).set(database="switchboard_no_such_db").render_as_string(hide_password=False)
    done = switchboard({**service_env, "SWITCHBOARD_DATABASE_URL": missing}, "bill", "99988526423", "--period", "2017-12")
    line = one_clear_line(done)
    assert 'database "switchboard_no_such_db" does not exist' in line and "switchboard migrate" in line


@pytest.mark.timeout(60)
def test_publish_a_file_that_does_not_exist(service_env, tmp_path):
    done = switchboard(service_env, "publish", "calls", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2
    assert one_clear_line(done) == f"error: no such file: {tmp_path / 'nope.jsonl'}"


@pytest.mark.timeout(60)
def test_status_with_refused_credentials(service_env, bare_vhost_url):
    done = switchboard({**service_env, "SWITCHBOARD_AMQP_URL": bare_vhost_url.replace("guest:guest", "guest:wrong")},
                       "status")
    assert "refused access" in one_clear_line(done)


@pytest.mark.timeout(60)
def test_topology_against_a_conflicting_queue(service_env, bare_vhost_url):
    connection = pika.BlockingConnection(pika.URLParameters(bare_vhost_url))
    connection.channel().queue_declare("billing", durable=True)  # a classic queue, without dead-lettering
    connection.close()
    done = switchboard({**service_env, "SWITCHBOARD_AMQP_URL": bare_vhost_url}, "topology")
    line = one_clear_line(done)
    assert "inequivalent arg" in line and "queue 'billing'" in line and "must be deleted or migrated" in line


@pytest.mark.timeout(60)
def test_status_reports_what_each_queue_holds(service_env, bare_vhost_url):
    env = {**service_env, "SWITCHBOARD_AMQP_URL": bare_vhost_url}
    assert switchboard(env, "topology").returncode == 0
    connection = pika.BlockingConnection(pika.URLParameters(bare_vhost_url))
    channel = connection.channel()
    for _ in range(3):
        channel.basic_publish("", "billing", b"{}")
    channel.basic_publish("", "call-pairing.dead", b"{}")
    connection.close()
    done = switchboard(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["queue"]: row for row in json.loads(done.stdout)["queues"]}
    assert rows["billing"]["ready"] == 3 and rows["billing"]["consumers"] == 0
    assert rows["call-pairing"]["dead_lettered"] == 1
    assert all(row["exists"] for row in rows.values())
    table = switchboard(env, "status")
    assert table.returncode == 0 and "billing" in table.stdout


@pytest.mark.timeout(60)
def test_migrations_create_exactly_the_tables_the_code_declares(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == [], "storage/tables.py and the alembic migrations disagree"
