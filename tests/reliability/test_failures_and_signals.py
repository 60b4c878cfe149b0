"""Failures a message causes are isolated fast; signals and outages never deadlock or lose anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from consumers.runtime import deadletter, exits
from tests.support.ledger import STATEMENT_TIMEOUT, ledger_commits
from tests.support.ledger_tools import dead_letters, delivery_stats, entry, ledger_count, queue_depth
from tests.support.processes import ROOT
from tests.support.waiting import wait_until


@pytest.mark.timeout(120)
def test_a_message_that_always_times_out_is_isolated_in_few_transactions(consumer, publisher, ledger_db,
                                                                          ledger_queue):
    batch = [entry(s) for s in range(300)] + [entry(300, pad=STATEMENT_TIMEOUT)] + [entry(s) for s in range(301, 500)]
    publisher.publish_outgoing(batch)
    process = consumer(LEDGER_BATCH_SIZE="500", LEDGER_PREFETCH="500")

    letters = dead_letters(ledger_queue, 1)
    wait_until(lambda: ledger_count(ledger_db) == 499, timeout=30, message="the rest of the batch did not commit")
    reason = letters[0][1].headers[deadletter.REASON]
    assert letters[0][1].message_id == "entry-300"
    assert "QueryCanceled" in reason and "SQLSTATE 57014" in reason and "handler failed 2 times" in reason
    with ledger_db.connect() as connection:
        commits = connection.execute(select(func.count()).select_from(ledger_commits)).scalar_one()
    # Bisection: about one commit per level (log2(500) ~ 9); one transaction per message would be 499.
    assert commits <= 25, f"{commits} transactions to isolate one message"
    assert process.saw("batch_failed_isolating")


@pytest.mark.timeout(240)
def test_two_sigterms_10ms_apart_always_end_in_a_clean_exit(service_env, publisher, ledger_db, ledger_queue, spawn):
    total = 6000
    publisher.publish_outgoing([entry(s) for s in range(total)])
    for round_ in range(6):
        process = spawn({**service_env, "LEDGER_SLOW_MS": "30"}, f"round-{round_}")
        before = ledger_count(ledger_db)
        wait_until(lambda before=before: ledger_count(ledger_db) > before, timeout=30,
                   message=f"round {round_}: the consumer made no progress")
        process.process.send_signal(signal.SIGTERM)
        time.sleep(0.01)  # the fault itself: a second SIGTERM 10 ms after the first
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=30) == 0, f"round {round_}: no clean exit"
        assert process.saw("consumer_stopped")

    spawn(service_env, "finisher")
    wait_until(lambda: ledger_count(ledger_db) == total, timeout=60, message="the rest was not processed")
    assert delivery_stats(ledger_db)["handled_again"] == 0, "a drained message came back and was handled again"


def _set_connections(engine, database: str, allowed: bool) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :db AND application_name = 'switchboard-ledger'"), {"db": database})


@pytest.mark.timeout(180)
def test_sigterm_during_a_database_outage_exits_cleanly_and_loses_nothing(consumer, publisher, ledger_db, ledger_queue,
                                                                         database_url):
    total = 2000
    publisher.publish_outgoing([entry(s) for s in range(total)])
    process = consumer(LEDGER_SLOW_MS="100")
    wait_until(lambda: ledger_count(ledger_db) > 0, timeout=30, message="consumer never started")
    database = make_url(database_url).database
    from sqlalchemy import create_engine

    admin = create_engine(make_url(database_url).set(database="postgres", drivername="postgresql+psycopg2"))
    try:
        _set_connections(admin, database, allowed=False)  # the outage: no session, no new connection
        wait_until(lambda: process.saw("database_unavailable"), timeout=30, message="the outage never reached it")
        assert process.terminate(timeout=40) == 0
        assert process.saw("batch_abandoned"), "the batch in hand must be given back, not committed or lost"
    finally:
        _set_connections(admin, database, allowed=True)
        admin.dispose()

    done = ledger_count(ledger_db)
    assert done < total
    consumer()  # a successor finishes the rest
    wait_until(lambda: ledger_count(ledger_db) == total, timeout=90, message="the successor did not finish")
    assert queue_depth(ledger_queue, "ledger.dead") == 0, "an outage must dead-letter nothing"


SUPERVISE = """
import sys
from switchboard.logs import configure_logging
from switchboard.supervisor import ChildSpec, Supervisor
configure_logging("INFO", "json")
child = ChildSpec("child", [sys.executable, "-c", "import sys; sys.exit(%d)"])
sys.exit(Supervisor([child], max_restarts=3, restart_window_s=60, first_backoff_s=0.05).run())
"""


def supervise(child_exit_status: int) -> tuple[int, list[dict]]:
    done = subprocess.run([sys.executable, "-c", SUPERVISE % child_exit_status], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.returncode, [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]


@pytest.mark.timeout(90)
def test_supervisor_gives_up_a_process_that_keeps_crashing_and_says_why():
    status, events = supervise(3)
    starts = [e for e in events if e["event"] == "process_started"]
    given_up = [e for e in events if e["event"] == "process_not_restarted"]
    assert status == 1
    assert len(starts) == 4, "the first start and 3 restarts, then the budget is spent"
    assert given_up and "exited 4 times" in given_up[0]["error"]


@pytest.mark.timeout(90)
def test_supervisor_does_not_restart_what_a_restart_cannot_fix():
    status, events = supervise(exits.CONFIG)
    assert status == 1
    assert [e["event"] for e in events].count("process_started") == 1
    assert any("cannot start as configured" in e.get("error", "") for e in events)
