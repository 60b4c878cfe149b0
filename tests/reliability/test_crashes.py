"""Fault injection: the consumer is killed, its connections closed, its database session
terminated, while messages flow. Every message's effect must end up committed exactly once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from tests.support import broker
from tests.support.ledger_tools import delivery_stats, entry, ledger_count, queue_depth
from tests.support.waiting import wait_until

TOTAL = 12_000


def publish_in_background(publisher, seqs, chunk=500):
    """Publish `seqs` chunk by chunk on a thread; returns (thread, errors)."""
    errors: list[BaseException] = []

    def work():
        try:
            for start in range(0, len(seqs), chunk):
                publisher.publish_outgoing([entry(s) for s in seqs[start:start + chunk]])
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, errors


def assert_exactly_once(engine, channel, total):
    wait_until(lambda: ledger_count(engine) == total, timeout=120,
               message=lambda: f"ledger has {ledger_count(engine)} of {total} effects")
    wait_until(lambda: queue_depth(channel, "ledger") == 0, timeout=30, message="ledger queue never drained")
    assert ledger_count(engine) == total


@pytest.mark.timeout(240)
def test_kill_9_mid_batch_loses_and_duplicates_nothing(consumer, publisher, ledger_db, ledger_queue):
    publisher.publish_outgoing([entry(s) for s in range(TOTAL // 2)])
    feeder, errors = publish_in_background(publisher, list(range(TOTAL // 2, TOTAL)))
    process = consumer(LEDGER_SLOW_MS="40")
    exit_codes = []
    for round_ in range(1, 5):
        target = round_ * TOTAL // 6
        wait_until(lambda target=target: ledger_count(ledger_db) >= target, timeout=60, message=f"no progress to {target}")
        exit_codes.append(process.kill9())
        process.start()
    feeder.join(timeout=120)
    assert not errors, errors

    assert_exactly_once(ledger_db, ledger_queue, TOTAL)
    stats = delivery_stats(ledger_db)
    assert exit_codes == [-9] * 4, "each kill must really have killed the process"
    assert len(set(process.pids)) == 5 and stats["pids"] == 5, (process.pids, stats)
    assert stats["redelivered"] > 0, f"kills mid-batch must cause redeliveries: {stats}"


@pytest.mark.timeout(240)
def test_closed_connections_recover_publisher_and_consumer(consumer, publisher, ledger_db, ledger_queue, test_vhost):
    process = consumer(LEDGER_SLOW_MS="20")
    feeder, errors = publish_in_background(publisher, list(range(TOTAL)), chunk=250)
    for round_ in range(1, 3):
        target = round_ * TOTAL // 4
        wait_until(lambda target=target: ledger_count(ledger_db) >= target, timeout=60, message=f"no progress to {target}")
        closed = broker.close_connections(test_vhost, {"test-publisher", "consumer-ledger"})
        assert closed == 2, f"expected to close the publisher's and the consumer's connections, closed {closed}"
    feeder.join(timeout=120)
    assert not errors, errors

    assert_exactly_once(ledger_db, ledger_queue, TOTAL)
    assert publisher.connections_made >= 2, "the publisher's connection was never closed"
    assert process.saw("amqp_connection_lost"), "the consumer's connection was never closed"
    assert process.process.poll() is None, "the consumer must survive, not crash"


@pytest.mark.timeout(180)
def test_terminated_database_session_acks_nothing_before_commit(consumer, publisher, ledger_db, ledger_queue):
    total = 3000
    publisher.publish_outgoing([entry(s) for s in range(total)])
    process = consumer(LEDGER_SLOW_MS="300")
    for round_ in range(3):
        wait_until(lambda: _terminate_consumer_backend(ledger_db) > 0, timeout=30,
                   message=f"round {round_}: never caught the consumer's session inside a transaction")

    assert_exactly_once(ledger_db, ledger_queue, total)
    assert process.saw("database_unavailable"), "the consumer never noticed the lost session"


CONSUMER_SESSION = (
    "FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name = 'switchboard-ledger' AND xact_start IS NOT NULL"
)


def _terminate_consumer_backend(engine) -> int:
    with engine.connect() as connection:
        killed = connection.execute(text(f"SELECT pg_terminate_backend(pid) {CONSUMER_SESSION}")).scalars().all()
    return sum(bool(k) for k in killed)
