"""The provider feed end to end: a real HTTP provider in the test process, the poller and the
`plans` consumer as processes, the search read back through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from producers.poller import Poller
from producers.provider_fetch import FetchLimits
from producers.publisher import Publisher
from tests.support.fleet_tools import count
from tests.support.plan_provider import BOMB, PlanProvider, Reply, document
from tests.support.processes import ROOT
from tests.support.waiting import wait_until

EXAMPLES = ROOT / "examples"
FIRST, LATER = (EXAMPLES / "provider.xml").read_bytes(), (EXAMPLES / "provider-later.xml").read_bytes()


def switchboard(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchboard", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def search(env: dict, starts_at: str = "2021-01-01T00:00:00", ends_at: str = "2021-12-31T23:59:59") -> list[dict]:
    done = switchboard(env, "plans", "--starts-at", starts_at, "--ends-at", ends_at, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]["events"]


def stored(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT base_plan_id, plan_id, id, title, sell_mode, min_price, max_price, ever_online, last_seen "
            "FROM plans ORDER BY base_plan_id, plan_id"))]


@pytest.fixture
def provider():
    served = PlanProvider().start()
    yield served
    served.stop()


@pytest.mark.timeout(120)
def test_plans_that_disappear_or_turn_offline_stay_searchable_and_a_changed_plan_keeps_its_id(fleet, engine,
                                                                                               service_env, provider):
    fleet("plans")
    provider.script.extend([document(FIRST, '"one"'), document(LATER, '"two"')])
    first = json.loads(switchboard(service_env, "poll-provider", "--once", "--url", provider.url).stdout)
    assert (first["outcome"], first["plans_seen"], first["skipped"], first["published"]) == ("published", 5, 1, 4)
    wait_until(lambda: count(engine, "plans") == 4, timeout=30, message="the first document was not stored")
    before = {event["title"] + event["start_date"]: event for event in search(service_env)}
    assert set(before) == {"Pantomima Full2021-02-10", "Pantomima Full2021-02-11", "Camela en concierto2021-06-30"}

    later = json.loads(switchboard(service_env, "poll-provider", "--once", "--url", provider.url).stdout)
    assert (later["outcome"], later["published"]) == ("published", 3)
    wait_until(lambda: search(service_env)[-1]["max_price"] == 45.0, timeout=30, message="Camela was not updated")
    after = {event["title"] + event["start_date"]: event for event in search(service_env)}
    assert set(after) == set(before), "a plan that disappeared or turned offline is still searchable"
    assert {k: v["id"] for k, v in after.items()} == {k: v["id"] for k, v in before.items()}
    assert count(engine, "plans") == 4, "updated, not duplicated; the offline-only plan is kept but never shown"
    raw = switchboard(service_env, "plans", "--starts-at", "2021-06-30T00:00:00", "--ends-at", "2021-06-30T23:59:59",
                      "--json").stdout
    assert '"min_price" : 15.00, "max_price" : 45.00}' in raw, "prices are numbers with two decimals"


@pytest.mark.timeout(180)
def test_the_poller_survives_every_provider_fault_without_changing_anything_and_skips_unchanged_documents(
        fleet, engine, provider):
    provider.script.extend([
        document(FIRST, '"one"'),
        Reply("status", status=503),
        Reply("hang", hang_s=3.0),
        Reply("cut_off", FIRST, '"cut"'),
        document(FIRST[: len(FIRST) // 2], '"half"'),
        document(b"<html>Service Unavailable</html", '"garbage"'),
        document(BOMB.encode(), '"bomb"'),
        document(LATER, '"two"'),
    ])
    fleet("plans")
    poller = fleet("provider-poller", command=("poll-provider", "--url", provider.url, "--interval", "0.2"),
                   SWITCHBOARD_PROVIDER_READ_TIMEOUT_S="0.5", SWITCHBOARD_PROVIDER_ATTEMPTS="1")
    wait_until(lambda: count(engine, "plans") == 4, timeout=30, message="the first document was not stored")

    def failed_polls() -> list[dict]:
        return [e for e in poller.events() if e.get("event") == "provider_poll_failed"]

    wait_until(lambda: len(failed_polls()) >= 6, timeout=60, message=lambda: f"{provider.served}")
    snapshot = stored(engine)
    reasons = [e["reason"] for e in failed_polls()]
    assert provider.served[:7] == ["document", "503", "hang", "cut_off", "document", "document", "document"]
    for expected in ("HTTP 503", "timed out", "RemoteProtocolError", "not a well-formed XML document",
                     "refused XML: EntitiesForbidden"):
        assert any(expected in reason for reason in reasons), (expected, reasons)

    wait_until(lambda: "304" in provider.served, timeout=30, message=lambda: f"{provider.served}")
    wait_until(lambda: stored(engine) != snapshot, timeout=30, message="the provider's recovery was not taken in")
    assert [row[:4] for row in stored(engine)] == [row[:4] for row in snapshot], "same plans, same ids"
    settled = stored(engine)
    polls_before = provider.served.count("304")
    wait_until(lambda: provider.served.count("304") >= polls_before + 3, timeout=30, message="no more polls")
    assert stored(engine) == settled, "an unchanged document (304) is not read or published again"
    assert any(e.get("event") == "provider_polled" and e.get("outcome") == "unchanged" for e in poller.events())
    assert poller.process.poll() is None, "the poller kept going"


@pytest.mark.timeout(60)
def test_transient_failures_are_retried_with_backoff_within_one_poll(provider, amqp_url, fleet):
    provider.script.extend([Reply("status", status=503), Reply("status", status=502), document(FIRST, '"one"')])
    with Publisher(amqp_url, name="test-poller") as publisher:
        poller = Poller(provider.url, publisher, FetchLimits(1.0, 1.0, 10.0), attempts=3, max_backoff_s=0.2)
        report = poller.poll()
    assert provider.served == ["503", "502", "document"]
    assert (report.outcome, report.published) == ("published", 4)


@pytest.mark.timeout(60)
def test_search_parameter_errors_are_clear(service_env):
    for args, code in ((("--starts-at", "tomorrow", "--ends-at", "2021-01-01"), "invalid_date_time"),
                       (("--starts-at", "2021-02-01", "--ends-at", "2021-01-01"), "invalid_range"),
                       (("--ends-at", "2021-01-01"), "missing_parameter")):
        as_json = switchboard(service_env, "plans", *args, "--json")
        assert as_json.returncode == 2
        assert json.loads(as_json.stdout) == {"data": None, "error": {"code": code, "message": json.loads(
            as_json.stdout)["error"]["message"]}}
        plain = switchboard(service_env, "plans", *args)
        assert plain.returncode == 2 and plain.stderr.startswith("error: ") and plain.stdout == ""
    refused = switchboard(service_env, "poll-provider", "--once", "--url", "gopher://example.com/plans")
    assert refused.returncode == 1 and "unsupported provider URL scheme 'gopher'" in refused.stdout


@pytest.mark.timeout(120)
def test_the_readme_walk_polls_both_examples_and_finds_what_it_shows(fleet, engine, service_env):
    fleet("plans")
    for name in ("provider.xml", "provider-later.xml"):
        polled = switchboard(service_env, "poll-provider", "--once", "--url", (EXAMPLES / name).as_uri())
        assert polled.returncode == 0, polled.stderr
    wait_until(lambda: search(service_env, "2021-06-29T00:00:00", "2021-07-01T00:00:00")[0]["max_price"] == 45.0,
               timeout=30, message="the later document was not taken in")
    readme = (ROOT / "README.md").read_text()
    shown = json.loads(readme.split('```json\n{"data": {"events": [{"id": "…", ', 1)[1].split("\n```", 1)[0]
                       .join(['{"data": {"events": [{"id": "x", ', ""]))
    found = json.loads(switchboard(service_env, "plans", "--starts-at", "2021-06-29T00:00:00", "--ends-at",
                                   "2021-07-01T00:00:00", "--json").stdout)
    for event in (*found["data"]["events"], *shown["data"]["events"]):
        event["id"] = "x"
    assert found == shown
