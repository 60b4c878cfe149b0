"""The telephony handlers against a real PostgreSQL (no broker): pairing -> billing -> bill."""

import json
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from consumers import bill_requests, billing, call_pairing
from consumers.runtime.handler import Incoming
from producers.calls import read_call_records
from schemas.telephony import CallEnd, CallStart
from storage.bills import bill
from storage.database import drop_database, make_engine
from storage.migrate import upgrade
from storage.tables import call_records, calls, priced_calls
from tests.support.leftovers import run_database_url

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "calls.jsonl"
SUBSCRIBER = "99988526423"


@pytest.fixture(scope="module")
def db():
    url = run_database_url("switchboard_test_tel")
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(url)


@pytest.fixture(autouse=True)
def empty_tables(db):
    with db.begin() as conn:
        conn.execute(text("TRUNCATE call_records, calls, priced_calls"))


def incoming(payload, routing_key=None, **properties) -> Incoming:
    routing_key = routing_key or payload.routing_key()
    return Incoming(payload=payload, routing_key=routing_key, message_id=None, redelivered=False, **properties)


def sample_records() -> list:
    return read_call_records(EXAMPLE.read_text().splitlines()).records


def run_pairing(db, records, batch_size=5):
    completed, rejected = [], []
    for offset in range(0, len(records), batch_size):
        batch = [incoming(record) for record in records[offset : offset + batch_size]]
        with db.begin() as conn:
            outcome = call_pairing.handle_batch(conn, batch)
        completed += outcome.emits
        rejected += outcome.rejected.values()
    return completed, rejected


def run_billing(db, completed, batch_size=4):
    priced = []
    for offset in range(0, len(completed), batch_size):
        with db.begin() as conn:
            outcome = billing.handle_batch(conn, [incoming(c) for c in completed[offset : offset + batch_size]])
        assert outcome.rejected == {}
        priced += outcome.emits
    return priced


def count(db, table) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_shuffled_duplicated_records_give_the_december_2017_bill(db):
    records = sample_records()
    arrivals = records * 2 + random.Random(7).sample(records, 5)
    random.Random(42).shuffle(arrivals)

    completed, rejected = run_pairing(db, arrivals)
    assert rejected == []
    assert {c.call_id for c in completed} == {str(n) for n in range(70, 78)}
    assert count(db, call_records) == 16 and count(db, calls) == 8

    priced = run_billing(db, completed)  # re-announcements included: each call priced once
    assert {p.call_id for p in priced} == {c.call_id for c in completed}
    assert len({(p.call_id, p.price, p.tariff_id) for p in priced}) == 8  # re-emitted as stored
    assert count(db, priced_calls) == 8

    with db.connect() as conn:
        december = bill(conn, SUBSCRIBER, "2017-12")
        march = bill(conn, SUBSCRIBER, "2018-03")
    assert december.total == Decimal("90.81")
    assert [line.price for line in december.calls] == [
        Decimal(p) for p in ("0.99", "1.26", "0.72", "0.54", "0.36", "86.94")
    ]
    assert [(str(line.start_date), str(line.start_time)) for line in december.calls] == [
        ("2017-12-11", "15:07:13"),
        ("2017-12-12", "04:57:13"),
        ("2017-12-12", "15:07:58"),
        ("2017-12-12", "21:57:13"),
        ("2017-12-12", "22:47:56"),
        ("2017-12-13", "21:57:13"),
    ]
    assert december.calls[-1].duration == "24h13m43s"
    assert [(line.price, line.start_date) for line in march.calls] == [(Decimal("86.94"), date(2018, 2, 28))]


def test_conflicts_and_inverted_calls_are_rejected_with_reasons(db):
    start = CallStart(id="s", timestamp="2017-12-11T10:00:00Z", call_id="c1", source=SUBSCRIBER, destination="9933468278")
    conflicting = start.model_copy(update={"id": "s2"})
    early_end = CallEnd(id="e", timestamp="2017-12-11T09:00:00Z", call_id="c1")
    _, rejected = run_pairing(db, [start, conflicting, early_end])
    assert len(rejected) == 2
    assert "conflicting start record" in rejected[0] and "would end before it starts" in rejected[1]
    with db.connect() as conn:
        assert conn.execute(select(call_records.c.record_id)).scalars().all() == ["s"]


def test_a_price_never_changes_once_stored(db):
    completed, _ = run_pairing(db, sample_records())
    run_billing(db, completed)
    with db.begin() as conn:
        conn.execute(text("UPDATE tariffs SET per_minute = 5"))  # stored prices stand
    again = run_billing(db, completed)
    assert {p.call_id: p.price for p in again}["71"] == Decimal("0.99")
    with db.begin() as conn:
        conn.execute(text("UPDATE tariffs SET per_minute = 0.09"))


def test_bill_request_replies(db):
    completed, _ = run_pairing(db, sample_records())
    run_billing(db, completed)
    handle = bill_requests.make_handler(today=lambda: date(2018, 1, 15))

    def request(body: bytes, **properties) -> Incoming:
        payload = bill_requests.decode_bill_request("bill.requested", body)
        return incoming(payload, routing_key="bill.requested", **properties)

    batch = [
        request(b'{"subscriber": "99988526423"}', reply_to="q1", correlation_id="a"),
        request(b'{"subscriber": "99988526423", "period": "2018-01"}', reply_to="q2", correlation_id="b"),
        request(b'{"subscriber": "12"}', reply_to="q3", correlation_id="c"),
        request(b'{"subscriber": "99988526423"}'),
    ]
    with db.begin() as conn:
        outcome = handle(conn, batch)
    assert outcome.rejected == {3: "no reply_to"}
    replies = {reply.to.correlation_id: (reply.reply_to, json.loads(reply.message.to_json_bytes())) for reply in outcome.emits}
    assert replies["a"][0] == "q1" and replies["a"][1]["total"] == "90.81" and len(replies["a"][1]["calls"]) == 6
    assert replies["b"][1] == {"error": "period 2018-01 has not ended yet; bills exist only for closed months"}
    assert "subscriber" in replies["c"][1]["error"]


def test_tariffs_in_force_for_a_batch(db):
    from datetime import datetime, time, timezone

    from storage import telephony as store

    def at(year: int) -> datetime:
        return datetime(year, 1, 1, tzinfo=timezone.utc)

    later = {"id": "t2030", "name": "2030", "effective_from": at(2030), "standing_charge": Decimal("1"),
             "per_minute": Decimal("1"), "standard_start": time(6), "standard_end": time(22), "timezone": "UTC"}
    with db.begin() as conn:
        assert store.add_tariff(conn, later)
        assert not store.add_tariff(conn, {**later, "id": "again"}), "one tariff per effective_from"
    try:
        with db.connect() as conn:
            def ids(earliest: int, latest: int) -> list[str]:
                return [row["id"] for row in store.tariffs_in_force(conn, at(earliest), at(latest))]

            assert ids(2017, 2018) == ["original"]
            assert ids(1999, 2017) == ["original"], "before every tariff: from the first one"
            assert ids(1990, 1995) == []
            assert ids(2017, 2031) == ["original", "t2030"]
            assert ids(2030, 2030) == ["t2030"], "a tariff is in force from its effective_from, inclusive"
    finally:
        with db.begin() as conn:
            conn.execute(text("DELETE FROM tariffs WHERE id = 't2030'"))


def test_a_call_longer_than_68_years_fits_its_duration_column(db):
    """Records may be dated from 1970: from 2038 on, a call can last longer than 2**31 - 1 s."""
    from datetime import datetime, timezone

    started, ended = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2040, 1, 1, tzinfo=timezone.utc)
    seconds = int((ended - started).total_seconds())
    assert seconds > 2**31 - 1
    row = {"call_id": "long", "source": SUBSCRIBER, "destination": "2833777000", "started_at": started,
           "ended_at": ended, "duration_seconds": seconds, "price": Decimal("1.00"), "tariff_id": "original",
           "period": "2040-01"}
    with db.begin() as conn:
        conn.execute(priced_calls.insert().values(row))
    with db.connect() as conn:
        stored = conn.execute(select(priced_calls.c.duration_seconds).where(priced_calls.c.call_id == "long"))
        assert stored.scalar_one() == seconds
