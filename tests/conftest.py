"""Session fixtures shared by every test: a RabbitMQ vhost and a PostgreSQL database per run.

Both are created lazily, on first use, so `pytest tests/unit` needs no services, and are
deleted at the end of the session whatever the tests did. A test that needs the services
when they are down fails loudly; it is never skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from sqlalchemy import text

from tests.support import broker
from tests.support.fleet_tools import purge_fleet_queues
from tests.support.processes import ROOT, ConsumerProcess
from tests.support.leftovers import POSTGRES_URL, remove_stale, run_database_url, run_name

TESTS = Path(__file__).parent
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
    """Fails the test, with a clear message, unless RabbitMQ and PostgreSQL answer; then removes
    what killed runs left behind (tests/support/leftovers.py)."""
    require_services()
    _remove_leftovers()


def _remove_leftovers() -> None:
    from storage.database import drop_database

    server = make_url(POSTGRES_URL)
    with psycopg2.connect(server.set(drivername="postgresql").render_as_string(hide_password=False)) as db:
        with db.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'switchboard\\_test\\_%'")
            databases = [row[0] for row in cursor.fetchall()]
    db.close()
    removed = remove_stale(
        broker.list_vhosts(), databases, broker.delete_vhost,
        lambda name: drop_database(server.set(database=name).render_as_string(hide_password=False)))
    if removed:
        print(f"removed {len(removed)} vhosts and databases left by killed test runs: {', '.join(removed)}")


# --- RabbitMQ ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def test_vhost(services: None):
    """A vhost of this run, with full permissions for guest; deleted at session end."""
    vhost = run_name("switchboard-test", "-")
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

    url = run_database_url("switchboard_test")
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
        "SWITCHBOARD_METRICS_PORT": "0",  # any free port: test processes run side by side
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def settings(amqp_url: str, database_url: str):
    """Settings pointing at this run's vhost and database, for in-process use."""
    from switchboard.settings import Settings

    return Settings(amqp_url=amqp_url, database_url=database_url, log_format="json")


@pytest.fixture
def bare_vhost_url(services: None):
    """The AMQP URL of a vhost of this test alone, where nothing is declared; deleted afterwards."""
    vhost = run_name("switchboard-test-bare", "-")
    broker.create_vhost(vhost)
    try:
        yield f"amqp://guest:guest@{broker.AMQP_HOST}:{broker.AMQP_PORT}/{quote(vhost, safe='')}"
    finally:
        broker.delete_vhost(vhost)


@pytest.fixture
def spawn(tmp_path):
    """`spawn(env, name, module=..., args=...)` starts a process (tests.support.processes) that is
    stopped at the end of the test whatever happens: none may outlive its test and consume the
    next test's messages."""
    from tests.support.processes import ConsumerProcess

    started = []

    def start(env: dict, name: str, module: str = "tests.support.run_ledger", args: tuple = ()):
        process = ConsumerProcess(env, tmp_path / f"{name}.log", module=module, args=args).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


# --- the fleet as processes --------------------------------------------------------------

EFFECT_TABLES = ("priced_calls, calls, call_records, deliveries, notifications, contacts, order_events, orders, "
                 "events, sessions, event_errors, applications, plans")


@pytest.fixture
def fleet(service_env, engine, amqp_url, tmp_path):
    """Empty effect tables and queues, the topology declared by the CLI, and `start(name)` to run a
    consumer as a process (`switchboard run NAME`; `start(name, command=(...))` runs another
    switchboard command); every process is stopped afterwards."""
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {EFFECT_TABLES}"))
    subprocess.run([sys.executable, "-m", "switchboard", "topology"], env=service_env, check=True,
                   capture_output=True, timeout=60, cwd=ROOT)
    purge_fleet_queues(amqp_url)
    started: list[ConsumerProcess] = []

    def start(name: str, command: tuple[str, ...] | None = None, **env) -> ConsumerProcess:
        process = ConsumerProcess({**service_env, **env}, tmp_path / f"{name}-{len(started)}.log",
                                  module="switchboard", args=command or ("run", name))
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def providers():
    """A real SMTP server and HTTP SMS gateway that record what they receive."""
    from tests.support.providers import SmsGateway, SmtpServer

    smtp, sms = SmtpServer().start(), SmsGateway().start()
    yield smtp, sms
    smtp.stop()
    sms.stop()


@pytest.fixture
def notifications(fleet, providers):
    """Start the notifications fleet (contacts, orders, sms, email and both dispatchers) against
    the test providers: `start(**env)` returns the processes by name."""
    smtp, sms = providers

    def start(**env) -> dict[str, ConsumerProcess]:
        env = {"SWITCHBOARD_SMTP_URL": smtp.url, "SWITCHBOARD_SMS_GATEWAY_URL": sms.url,
               "SWITCHBOARD_SMS_READ_TIMEOUT_S": "1", **env}
        processes = {name: fleet(name, **env) for name in ("contacts", "orders", "sms", "email")}
        for channel in ("sms", "email"):
            processes[f"{channel}-dispatcher"] = fleet(f"{channel}-dispatcher", ("dispatch", channel), **env)
        return processes

    return start
