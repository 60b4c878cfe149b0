"""Session fixtures shared by every test: a RabbitMQ vhost and a PostgreSQL database per run.

Both are created lazily, on first use, so `pytest tests/unit` needs no services, and are
deleted at the end of the session whatever the tests did. A test that needs the services
when they are down fails loudly; it is never skipped.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from tests.support import broker

TESTS = Path(__file__).parent
POSTGRES_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICE_MARKERS = {"integration", "reliability"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_services: under tests/integration but needs no services")


# tryfirst: the markers must be there before `-m` deselects by them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/integration and tests/reliability get the marker of their folder."""
    for item in items:
        if TESTS not in item.path.parents:
            continue
        folder = item.path.relative_to(TESTS).parts[0]
        if folder in SERVICE_MARKERS and not item.get_closest_marker("no_services"):
            item.add_marker(folder)


# --- services ----------------------------------------------------------------------------

_problems: list[str] | None = None


def service_problems() -> list[str]:
    """What is wrong with the local RabbitMQ and PostgreSQL (checked once per session)."""
    global _problems
    if _problems is None:
        _problems = []
        try:
            socket.create_connection((broker.AMQP_HOST, broker.AMQP_PORT), timeout=3).close()
        except OSError as exc:
            _problems.append(f"RabbitMQ is not answering on {broker.AMQP_HOST}:{broker.AMQP_PORT} ({exc})")
        try:
            dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
            psycopg2.connect(dsn, connect_timeout=3).close()
        except psycopg2.Error as exc:
            _problems.append(f"PostgreSQL is not answering at {make_url(POSTGRES_URL)} ({str(exc).strip()})")
    return _problems


def require_services() -> None:
    problems = service_problems()
    if problems:
        pytest.fail(
            "these tests need the local services:\n  " + "\n  ".join(problems)
            + "\nStart them with `scripts/ensure-services` (or `docker compose up -d --wait rabbitmq postgres`).",
            pytrace=False,
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if SERVICE_MARKERS & {mark.name for mark in item.iter_markers()}:
        require_services()


@pytest.fixture(scope="session")
def services() -> None:
    """Fails the test, with a clear message, unless RabbitMQ and PostgreSQL answer."""
    require_services()


# --- RabbitMQ ----------------------------------------------------------------------------

def _run_name(prefix: str, separator: str) -> str:
    return separator.join([prefix, str(os.getpid()), secrets.token_hex(3)])


@pytest.fixture(scope="session")
def test_vhost(services: None):
    """A vhost of this run, with full permissions for guest; deleted at session end."""
    vhost = _run_name("switchboard-test", "-")
    broker.create_vhost(vhost)
    try:
        yield vhost
    finally:
        broker.delete_vhost(vhost)


@pytest.fixture(scope="session")
def amqp_url(test_vhost: str) -> str:
    return f"amqp://guest:guest@{broker.AMQP_HOST}:{broker.AMQP_PORT}/{quote(test_vhost, safe='')}"


# --- PostgreSQL --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def database_url(services: None):
    """A migrated database of this run; dropped at session end."""
    from storage.database import drop_database
    from storage.migrate import upgrade

    url = make_url(POSTGRES_URL).set(database=_run_name("switchboard_test", "_"))
    url = url.render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str):
    from storage.database import make_engine

    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


# --- processes ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def service_env(amqp_url: str, database_url: str) -> dict[str, str]:
    """Environment for spawning switchboard processes against this run's vhost and database.

    Tests that change it must copy it first (`{**service_env, ...}`): it is shared.
    """
    return {
        **os.environ,
        "SWITCHBOARD_AMQP_URL": amqp_url,
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def settings(amqp_url: str, database_url: str):
    """Settings pointing at this run's vhost and database, for in-process use."""
    from switchboard.settings import Settings

    return Settings(amqp_url=amqp_url, database_url=database_url, log_format="json")
