"""What PostgreSQL really raises, and how the runtime classifies it (consumers/runtime/failures.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import make_url

from consumers.runtime.failures import Failure, classify, sqlstate
from storage.database import make_engine


def failure_of(engine, *statements: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    return raised.value


@pytest.mark.timeout(30)
@pytest.mark.parametrize("statements, state, expected", [
    (["SET LOCAL statement_timeout = '10ms'", "SELECT pg_sleep(1)"], "57014", Failure.CONTENTION),
    (["SELECT * FROM no_such_table"], "42P01", Failure.OUTAGE),
    (["SELECT no_such_column FROM pg_class"], "42703", Failure.OUTAGE),
    (["SELECT 1 / 0"], "22012", Failure.MESSAGE),
    (["SELECT make_date(2017, 13, 1)"], "22008", Failure.MESSAGE),
    (["SELECT 'x' || repeat('y', 10)::varchar(3)::int"], "22P02", Failure.MESSAGE),
])
def test_errors_of_one_statement(engine, statements, state, expected):
    error = failure_of(engine, *statements)
    assert (sqlstate(error), classify(error)) == (state, expected)


@pytest.mark.timeout(30)
def test_lock_not_available_is_contention(engine):
    with engine.begin() as holder:
        holder.execute(text("CREATE TEMP TABLE IF NOT EXISTS _unused (x int)"))
        holder.execute(text("LOCK TABLE pg_catalog.pg_class IN SHARE ROW EXCLUSIVE MODE"))
        error = failure_of(engine, "SET LOCAL lock_timeout = '10ms'",
                           "LOCK TABLE pg_catalog.pg_class IN SHARE ROW EXCLUSIVE MODE")
    assert (sqlstate(error), classify(error)) == ("55P03", Failure.CONTENTION)


@pytest.mark.timeout(30)
def test_a_terminated_session_is_an_outage(engine, database_url):
    victim = make_engine(database_url, pool_size=1)
    try:
        with victim.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as raised:
                connection.execute(text("SELECT 1"))
        assert classify(raised.value) is Failure.OUTAGE
    finally:
        victim.dispose()


@pytest.mark.timeout(30)
def test_a_database_that_does_not_exist_is_an_outage(database_url):
    missing = make_url(database_url).set(database="switchboard_no_such_db").render_as_string(hide_password=False)
    engine = make_engine(missing)
    try:
        with pytest.raises(DBAPIError) as raised:
            engine.connect()
        assert classify(raised.value) is Failure.OUTAGE
    finally:
        engine.dispose()
