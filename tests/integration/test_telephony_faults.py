"""Telephony under faults: tariffs changing while billing runs, calls no tariff covers, impossible
records, and two processes of each consumer on the same queues while one of each is killed."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from broker.envelope import Outgoing
from consumers.pricing import Tariff, price_call
from producers.publisher import Publisher
from schemas.telephony import CallCompleted, CallEnd, CallStart
from tests.support.fleet_tools import count, dead_letters
from tests.support.processes import ROOT
from tests.support.waiting import wait_until

ORIGINAL = Tariff("original", "original", datetime(2000, 1, 1, tzinfo=timezone.utc), Decimal("0.36"), Decimal("0.09"))
SOURCE, DESTINATION = "11987654321", "2133334444"


def completed(call_id: str, started_at: datetime, minutes: int = 5) -> CallCompleted:
    return CallCompleted(call_id=call_id, source=SOURCE, destination=DESTINATION, started_at=started_at,
                         ended_at=started_at + timedelta(minutes=minutes))


def priced(engine) -> dict[str, tuple[Decimal, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT call_id, price, tariff_id FROM priced_calls"))
        return {row.call_id: (row.price, row.tariff_id) for row in rows}


@pytest.fixture
def test_tariffs(engine):
    """Tariffs a test adds are removed afterwards, with the prices that name them."""
    yield
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM priced_calls WHERE tariff_id <> 'original'"))
        connection.execute(text("DELETE FROM tariffs WHERE id <> 'original'"))


@pytest.mark.timeout(120)
def test_a_tariff_taking_effect_while_billing_runs_prices_the_next_calls_at_once(fleet, engine, amqp_url, service_env,
                                                                                  test_tariffs):
    fleet("billing")
    with Publisher(amqp_url) as publisher:
        publisher.publish(completed("warm-up", datetime(2017, 12, 11, 15, tzinfo=timezone.utc)))
        wait_until(lambda: "warm-up" in priced(engine), timeout=30, message="billing never priced a call")

        takes_effect = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
        added = subprocess.run(
            [sys.executable, "-m", "switchboard", "tariffs", "add", "Test tariff", "--id", "test-tariff",
             "--effective-from", takes_effect.isoformat(), "--standing-charge", "1.00", "--per-minute", "0.50",
             "--timezone", _zone_at_noon(takes_effect)],
            env=service_env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        before = completed("before", takes_effect - timedelta(minutes=30))
        after = completed("after", takes_effect + timedelta(seconds=1))
        publisher.publish_many([before, after])
        wait_until(lambda: {"before", "after"} <= set(priced(engine)), timeout=30, message="calls not priced")

    prices = priced(engine)
    assert prices["before"][1] == "original"
    assert prices["after"] == (Decimal("1.00") + 5 * Decimal("0.50"), "test-tariff"), \
        "a tariff in force when the call started must price it, not one loaded a minute ago"


def _zone_at_noon(moment: datetime) -> str:
    """A fixed-offset zone where `moment` falls about noon: a call starting then lies wholly in
    the default standard time (06:00-22:00), whatever hour of the day the test runs."""
    hours_behind_utc = moment.hour - 12  # -12 ... 11, all of them Etc/GMT zones (their sign is inverted)
    return f"Etc/GMT{'+' if hours_behind_utc >= 0 else '-'}{abs(hours_behind_utc)}"


@pytest.mark.timeout(120)
def test_a_call_before_every_tariff_is_dead_lettered_and_the_queue_keeps_going(fleet, engine, amqp_url):
    fleet("billing")
    with Publisher(amqp_url) as publisher:
        publisher.publish_many([completed("1999", datetime(1999, 12, 31, 23, tzinfo=timezone.utc)),
                                completed("2017", datetime(2017, 12, 11, 15, tzinfo=timezone.utc))])
    wait_until(lambda: "2017" in priced(engine), timeout=30, message="the call behind it was never priced")
    letters = wait_until(lambda: dead_letters(amqp_url, "billing"), timeout=30, message="nothing dead-lettered")
    assert len(letters) == 1
    assert letters[0][1]["x-switchboard-reason"] == "no tariff in force at 1999-12-31T23:00:00+00:00"
    assert "1999" not in priced(engine)


@pytest.mark.timeout(120)
def test_a_record_ending_in_9999_is_refused_at_call_pairing_and_holds_nothing_up(fleet, engine, amqp_url):
    fleet("call-pairing")
    fleet("billing")
    start = datetime(2017, 12, 20, 10, tzinfo=timezone.utc)
    impossible_end = Outgoing("telephony", "call.end", (
        b'{"type": "end", "id": "9-end", "call_id": "9", "timestamp": "9999-12-31T12:00:00Z"}'), "impossible")
    behind = [CallStart(id="10-start", call_id="10", timestamp=start, source=SOURCE, destination=DESTINATION),
              CallEnd(id="10-end", call_id="10", timestamp=start + timedelta(minutes=3))]
    with Publisher(amqp_url) as publisher:
        publisher.publish(CallStart(id="9-start", call_id="9", timestamp=start, source=SOURCE, destination=DESTINATION))
        publisher.publish_outgoing([impossible_end])
        publisher.publish_many(behind)
    wait_until(lambda: "10" in priced(engine), timeout=10, message="the call right behind was held up")
    letters = wait_until(lambda: dead_letters(amqp_url, "call-pairing"), timeout=10, message="not dead-lettered")
    assert "9999-12-31T12:00:00+00:00 is in the future" in letters[0][1]["x-switchboard-reason"]
    assert "9" not in priced(engine)


def generated_calls(n: int) -> list[tuple[CallStart, CallEnd]]:
    rng = random.Random(n)
    calls = []
    for i in range(n):
        start = datetime(2017, 10, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(0, 60 * 86400))
        end = start + timedelta(seconds=rng.randrange(0, 3 * 3600))
        calls.append((CallStart(id=f"c{i}-start", call_id=f"c{i}", timestamp=start, source=SOURCE,
                                destination=DESTINATION),
                      CallEnd(id=f"c{i}-end", call_id=f"c{i}", timestamp=end)))
    return calls


@pytest.mark.timeout(300)
def test_two_processes_of_each_consumer_with_kills_price_every_call_once(fleet, engine, amqp_url):
    calls = generated_calls(3000)
    records = [record for pair in calls for record in pair]
    random.Random(11).shuffle(records)
    pairing = [fleet("call-pairing"), fleet("call-pairing")]
    billing = [fleet("billing"), fleet("billing")]
    kills = []
    with Publisher(amqp_url) as publisher:
        publisher.publish_many(records)
        for target in (600, 1500):
            wait_until(lambda target=target: count(engine, "priced_calls") >= target, timeout=120,
                       message=lambda: f"pricing stuck at {count(engine, 'priced_calls')}")
            kills += [pairing[0].kill9(), billing[0].kill9()]
            pairing[0].start()
            billing[0].start()
    wait_until(lambda: count(engine, "priced_calls") == len(calls), timeout=180,
               message=lambda: f"{count(engine, 'priced_calls')} of {len(calls)} priced")

    assert kills == [-9] * 4, "the kills must really have happened"
    assert len(set(pairing[0].pids)) == 3 and pairing[1].process.poll() is None
    expected = sum(price_call(start.timestamp, end.timestamp, ORIGINAL) for start, end in calls)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT sum(price), count(DISTINCT call_id), count(*) FROM priced_calls")).one()
        stored = connection.execute(text("SELECT count(*) FROM calls")).scalar_one()
    assert tuple(total) == (expected, len(calls), len(calls))
    assert stored == len(calls)
