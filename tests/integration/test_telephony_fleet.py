"""Telephony end to end: records published to RabbitMQ, consumers running as processes,
bills read back from PostgreSQL and over AMQP (RPC)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal


import pytest
from sqlalchemy import text

from consumers.pricing import Tariff, price_call
from producers.bill_rpc import request_bill
from producers.calls import read_call_records
from broker.envelope import Outgoing
from producers.publisher import Publisher
from schemas.telephony import BillError, CallEnd, CallStart
from storage.bills import bill
from tests.support.fleet_tools import count, dead_letters
from tests.support.processes import ROOT
from tests.support.waiting import wait_until

SUBSCRIBER = "99988526423"
SAMPLE = ROOT / "examples" / "calls.jsonl"
ORIGINAL_TARIFF = Tariff(1, "original", datetime(2000, 1, 1, tzinfo=timezone.utc), Decimal("0.36"), Decimal("0.09"))


def raw_record(body: dict | str, routing_key: str, message_id: str) -> Outgoing:
    data = body if isinstance(body, str) else json.dumps(body)
    return Outgoing("telephony", routing_key, data.encode(), message_id)


@pytest.mark.timeout(180)
def test_sample_calls_shuffled_duplicated_and_dirty_give_the_right_bills(fleet, amqp_url, engine):
    sample = read_call_records(SAMPLE.read_text().splitlines()).records
    assert len(sample) == 16
    rng = random.Random(20171212)
    first_wave = sample + rng.sample(sample, 6)
    rng.shuffle(first_wave)
    fleet("call-pairing")
    fleet("billing")
    with Publisher(amqp_url) as publisher:
        publisher.publish_many(first_wave)
        wait_until(lambda: count(engine, "priced_calls") == 8, timeout=60,
                   message=lambda: f"{count(engine, 'priced_calls')} of 8 calls priced")
        publisher.publish_outgoing(_dirty_wave(sample, rng))
        publisher.publish_many(rng.sample(sample, 5))

        pairing_dead = _wait_dead_letters(amqp_url, "call-pairing", 5)

    with engine.connect() as connection:
        december = bill(connection, SUBSCRIBER, "2017-12")
        february_2016 = bill(connection, SUBSCRIBER, "2016-02")
        march_2018 = bill(connection, SUBSCRIBER, "2018-03")
    assert str(december.total) == "90.81"
    assert [(line.start_time.isoformat(), line.duration, str(line.price)) for line in december.calls] == [
        ("15:07:13", "0h7m43s", "0.99"), ("04:57:13", "1h13m43s", "1.26"), ("15:07:58", "0h4m58s", "0.72"),
        ("21:57:13", "0h13m43s", "0.54"), ("22:47:56", "0h3m0s", "0.36"), ("21:57:13", "24h13m43s", "86.94"),
    ]
    assert str(february_2016.total) == "11.16"
    assert str(march_2018.total) == "86.94", "a call from Feb 28 to Mar 1 is on March's bill"
    assert count(engine, "priced_calls") == 8, "no call priced twice, the impossible call never priced"

    reasons = sorted(headers["x-switchboard-reason"].split(":")[0] for _body, headers in pairing_dead)
    assert len(pairing_dead) == 5, reasons
    assert sum("conflicting" in r for r in reasons) == 1
    assert sum("would end before it starts" in r for r in reasons) == 1
    assert sum(r.startswith("invalid payload") for r in reasons) == 3


def _dirty_wave(sample, rng) -> list[Outgoing]:
    conflicting = next(r for r in sample if r.call_id == "71" and r.type == "start")
    conflicting = conflicting.model_copy(update={"destination": "1133334444"})
    impossible = [
        CallStart(id="90-start", type="start", call_id="90", timestamp="2017-12-20T10:00:00Z",
                  source=SUBSCRIBER, destination="9933468278"),
        CallEnd(id="90-end", type="end", call_id="90", timestamp="2017-12-20T09:00:00Z"),
    ]
    invalid = [
        raw_record({"id": "x1", "type": "start", "call_id": "91", "timestamp": "2017-12-20T10:00:00Z",
                    "source": "123", "destination": "9933468278"}, "call.start", "bad-number"),
        raw_record({"id": "x2", "type": "end", "call_id": "91", "timestamp": "2017-12-20 10:00:00"},
                   "call.end", "naive-time"),
        raw_record("{\"id\": \"x3\", \"type\": ", "call.start", "broken-json"),
    ]
    wave = [Outgoing.of(conflicting), *(Outgoing.of(r) for r in impossible), *invalid]
    rng.shuffle(wave)
    return wave


def _wait_dead_letters(amqp_url, queue, expected):
    found: list = []
    wait_until(lambda: (found.extend(dead_letters(amqp_url, queue)) or len(found) >= expected), timeout=60,
               message=lambda: f"{len(found)} of {expected} dead letters in {queue}.dead")
    return found


@pytest.mark.timeout(240)
def test_killing_consumers_mid_stream_prices_nothing_twice(fleet, amqp_url, engine):
    calls = _generated_calls(2000)
    records = [record for pair in calls for record in pair]
    random.Random(7).shuffle(records)
    pairing, billing = fleet("call-pairing"), fleet("billing")
    kills = []
    with Publisher(amqp_url) as publisher:
        publisher.publish_many(records)
        for target in (400, 900, 1400):
            wait_until(lambda target=target: count(engine, "priced_calls") >= target, timeout=90,
                       message=lambda: f"pricing stuck at {count(engine, 'priced_calls')}")
            kills += [billing.kill9(), pairing.kill9()]
            billing.start()
            pairing.start()
    wait_until(lambda: count(engine, "priced_calls") == len(calls), timeout=120,
               message=lambda: f"{count(engine, 'priced_calls')} of {len(calls)} priced")

    assert kills == [-9] * 6 and len(set(billing.pids)) == 4, "the kills must really have happened"
    expected = sum(price_call(start.timestamp, end.timestamp, ORIGINAL_TARIFF) for start, end in calls)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT sum(price), count(DISTINCT call_id), count(*) FROM priced_calls")).one()
    assert total == (expected, len(calls), len(calls))


def _generated_calls(n: int) -> list[tuple[CallStart, CallEnd]]:
    rng = random.Random(n)
    base = datetime(2017, 11, 1, tzinfo=timezone.utc)
    calls = []
    for i in range(n):
        start = base + timedelta(seconds=rng.randrange(0, 28 * 86400))
        end = start + timedelta(seconds=rng.randrange(0, 3 * 3600))
        call_id = f"gen-{i}"
        calls.append((
            CallStart(id=f"{call_id}-start", type="start", call_id=call_id, timestamp=start,
                      source="11987654321", destination="2133334444"),
            CallEnd(id=f"{call_id}-end", type="end", call_id=call_id, timestamp=end),
        ))
    return calls


@pytest.mark.timeout(120)
def test_bill_over_amqp_rpc_matches_the_database(fleet, amqp_url, engine, service_env):
    fleet("call-pairing")
    fleet("billing")
    fleet("bill-requests")
    result = subprocess.run([sys.executable, "-m", "switchboard", "publish", "calls", str(SAMPLE)],
                            env=service_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "published 16 records, rejected 0 lines" in result.stdout
    wait_until(lambda: count(engine, "priced_calls") == 8, timeout=60, message="sample calls not priced")

    reply = request_bill(amqp_url, SUBSCRIBER, "2017-12", timeout=20)
    with engine.connect() as connection:
        assert reply == bill(connection, SUBSCRIBER, "2017-12")
    assert str(reply.total) == "90.81"
    refused = request_bill(amqp_url, SUBSCRIBER, "2999-01", timeout=20)
    assert isinstance(refused, BillError) and "has not ended" in refused.error


@pytest.mark.timeout(60)
def test_cli_reports_rejected_lines_and_fails(fleet, service_env, tmp_path):
    lines = SAMPLE.read_text().splitlines()[:2] + ["{broken", json.dumps({"type": "end", "call_id": 5}), ""]
    path = tmp_path / "dirty.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = subprocess.run([sys.executable, "-m", "switchboard", "publish", "calls", str(path)],
                            env=service_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "published 2 records, rejected 2 lines" in result.stdout
    assert "line 3: rejected: invalid JSON" in result.stderr
    assert "line 4: rejected: timestamp" in result.stderr


@pytest.mark.timeout(60)
def test_bill_cli_json_and_errors(service_env):
    def bill_cli(*args):
        return subprocess.run([sys.executable, "-m", "switchboard", "bill", *args],
                              env=service_env, capture_output=True, text=True, timeout=60)

    empty = bill_cli(SUBSCRIBER, "--period", "2010-01", "--json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == {"subscriber": SUBSCRIBER, "period": "2010-01", "total": "0.00", "calls": []}
    future = bill_cli(SUBSCRIBER, "--period", "2999-01")
    assert future.returncode != 0 and "has not ended" in future.stderr
    bad = bill_cli("12ab", "--period", "2017-12")
    assert bad.returncode != 0 and "digits" in bad.stderr
    malformed = bill_cli(SUBSCRIBER, "--period", "2017-13")
    assert malformed.returncode != 0 and "2017-13" in malformed.stderr


