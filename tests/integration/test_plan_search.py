"""The overlap rule at its boundaries, and the store's upsert rules, against PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import text

from schemas.plan_search import PlanSearch
from schemas.plans import PlanSeen, Zone
from storage.database import drop_database, make_engine
from storage.migrate import alembic_config, upgrade
from storage.plans import SEARCH_ENTRY, search_document, search_plans, upsert_plans
from tests.support.leftovers import run_database_url

TEN = datetime(2021, 6, 30, 10, 0, tzinfo=timezone.utc)
SEEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def sighting(plan_id: str, start: datetime, end: datetime, *, sell_mode: str = "online", seen_at: datetime = SEEN,
             title: str = "Show", prices: tuple[str, ...] = ("20.00",)) -> PlanSeen:
    return PlanSeen(base_plan_id="1", plan_id=plan_id, title=title, sell_mode=sell_mode, starts_at=start, ends_at=end,
                    zones=tuple({"zone_id": str(i), "price": p} for i, p in enumerate(prices)), seen_at=seen_at)


@pytest.fixture
def store(engine):
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE plans"))
    yield engine
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE plans"))


def found(engine, start: datetime, end: datetime) -> list[str]:
    with engine.connect() as connection:
        return [plan.title for plan in search_plans(connection, start, end)]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("start", "end", "expected"), [
    (TEN + timedelta(hours=1), TEN + timedelta(hours=2), []),  # starts when the plan ends: no overlap
    (TEN - timedelta(hours=1), TEN, []),  # ends when the plan starts: no overlap
    (TEN + timedelta(minutes=59, seconds=59), TEN + timedelta(hours=2), ["ten to eleven"]),
    (TEN - timedelta(hours=1), TEN + timedelta(microseconds=1), ["ten to eleven"]),
    (TEN + timedelta(minutes=30), TEN + timedelta(minutes=30), ["ten to eleven"]),  # a moment inside
    (TEN - timedelta(days=1), TEN + timedelta(days=1), ["ten to eleven", "a moment at half past"]),
])
def test_a_plan_overlaps_when_it_starts_before_the_range_ends_and_ends_after_it_starts(store, start, end, expected):
    with store.begin() as connection:
        upsert_plans(connection, [sighting("1", TEN, TEN + timedelta(hours=1), title="ten to eleven"),
                                  sighting("2", TEN + timedelta(minutes=30), TEN + timedelta(minutes=30),
                                           title="a moment at half past"),
                                  sighting("3", TEN, TEN + timedelta(hours=1), sell_mode="offline", title="offline")])
    assert sorted(found(store, start, end)) == sorted(expected)


@pytest.mark.timeout(30)
def test_an_older_sighting_never_overwrites_a_newer_one_and_online_never_turns_off(store):
    newer = sighting("1", TEN, TEN + timedelta(hours=1), title="new title", seen_at=SEEN, prices=("10.00", "99.50"))
    older = sighting("1", TEN, TEN + timedelta(hours=1), title="old title", seen_at=SEEN - timedelta(days=1),
                     sell_mode="offline")
    with store.begin() as connection:
        upsert_plans(connection, [newer])
        upsert_plans(connection, [older, sighting("1", TEN, TEN + timedelta(hours=1), sell_mode="offline",
                                                  title="new title", seen_at=SEEN + timedelta(days=1),
                                                  prices=("10.00", "99.50"))])
    with store.connect() as connection:
        row = connection.execute(text("SELECT title, sell_mode, ever_online, first_seen, last_seen, min_price, "
                                      "max_price FROM plans")).one()
    assert (row.title, row.sell_mode, row.ever_online) == ("new title", "offline", True)
    assert (row.first_seen, row.last_seen) == (SEEN - timedelta(days=1), SEEN + timedelta(days=1))
    with store.connect() as connection:
        document = search_document(connection, TEN, TEN + timedelta(hours=1))
    assert '"min_price" : 10.00, "max_price" : 99.50}]}, "error": null}' in document, "two decimals, as numbers"
    assert json.loads(document)["data"]["events"][0]["start_time"] == "10:00:00"


@pytest.mark.timeout(30)
def test_the_search_uses_the_overlap_index(store):
    search = PlanSearch.parse("2021-06-30T00:00:00", "2021-07-07T00:00:00")
    with store.connect() as connection:
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(connection.execute(text(
            "EXPLAIN SELECT id FROM plans WHERE ever_online AND tstzrange(starts_at, ends_at, '[]') && "
            "tstzrange(:s, :e, '[]') AND starts_at < :e AND ends_at > :s"), {"s": search.starts_at,
                                                                             "e": search.ends_at}).scalars())
    assert "ix_plans_online_period" in plan


@pytest.mark.timeout(60)
def test_a_plan_stored_before_migration_0006_gets_the_entry_the_code_writes():
    url = run_database_url("switchboard_test_plans")
    upgrade(url, "0005_call_duration_bigint")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO plans (base_plan_id, plan_id, id, title, sell_mode, starts_at, ends_at, min_price, "
                "max_price, ever_online, first_seen, last_seen, content_id) VALUES ('1', '1', gen_random_uuid(), "
                "'Camela \"en\" concierto', 'online', '2021-06-30 21:00Z', '2021-06-30 22:00Z', 15, NULL, true, "
                "now(), now(), 'c')"))
        command.upgrade(alembic_config(url), "head")
        with engine.connect() as connection:
            stored, written = connection.execute(text(f"SELECT search_entry, {SEARCH_ENTRY} FROM plans")).one()
            document = search_document(connection, TEN, TEN + timedelta(days=1))
        assert stored == written
        assert json.loads(document)["data"]["events"] == [json.loads(stored)]
        assert '"title" : "Camela \\"en\\" concierto"' in document and '"max_price" : null' in document
    finally:
        engine.dispose()
        drop_database(url)


@pytest.mark.timeout(30)
def test_a_price_stored_without_its_decimals_is_searched_with_two(store):
    plain = sighting("1", TEN, TEN + timedelta(hours=1)).model_copy(
        update={"zones": (Zone.model_construct(zone_id="1", price=Decimal("20")),)})  # past the validator
    with store.begin() as connection:
        upsert_plans(connection, [plain])
        document = search_document(connection, TEN, TEN + timedelta(hours=1))
    assert '"min_price" : 20.00, "max_price" : 20.00}' in document
