"""The HTTP gateway as a process (`switchboard serve`) against the real broker and database:
events posted as applications, credentials refused, a broker outage, and the reads against
the CLI's own output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text

from schemas.plans import PlanSeen
from storage.plans import PLANS_CHANGED, upsert_plans
from switchboard.apps import Applications
from tests.support.fleet_tools import count
from tests.support.processes import ROOT
from tests.support.providers import free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import http_status, wait_until

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def event(session, path: str, seconds: int = 0, **extra) -> dict:
    return {"session_id": str(session), "category": "page interaction", "name": "pageview",
            "timestamp": (NOW - timedelta(hours=1) + timedelta(seconds=seconds)).isoformat(),
            "data": {"host": "shop.example.com", "path": path}, **extra}


def switchboard(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchboard", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.timeout(120)
def test_posted_events_reach_their_session_as_the_application_and_bad_ones_are_answered_per_index(
        fleet, apps, engine, serve, service_env):
    shop = apps("shop")
    fleet("event-sessions")
    base = serve()
    session = uuid4()
    batch = [event(session, "/a", 2), "not an object", event(session, "/b", 1), {**event(session, "/c"),
             "timestamp": (NOW + timedelta(days=1)).isoformat()}, {"category": "page interaction"}]
    answer = httpx.post(f"{base}/events", json=batch, auth=(shop.user, shop.password), timeout=30)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 3, 4]
    assert "in the future" in body["rejected"][1]["error"] and "name" in body["rejected"][2]["error"]
    one = httpx.post(f"{base}/events", json=event(session, "/d", 3), auth=(shop.user, shop.password), timeout=30)
    assert one.status_code == 202 and one.json() == {"accepted": 1, "rejected": []}

    wait_until(lambda: count(engine, "events") == 3, timeout=30, message="the accepted events were not stored")
    over_http = httpx.get(f"{base}/sessions/{session}", timeout=10)
    assert over_http.status_code == 200
    assert over_http.json() == json.loads(switchboard(service_env, "session", str(session), "--json").stdout)
    assert [e["data"]["path"] for e in over_http.json()["events"]] == ["/b", "/a", "/d"]
    assert {e["application"] for e in over_http.json()["events"]} == {shop.app}
    assert count(engine, "event_errors") == 0, "what the gateway refused was never published"


@pytest.mark.timeout(120)
def test_wrong_missing_and_revoked_credentials_get_401_and_bad_bodies_400_or_413(apps, serve, settings):
    shop = apps("shop")
    base = serve(SWITCHBOARD_GATEWAY_MAX_BODY_BYTES="2048")
    one = event(uuid4(), "/")
    assert httpx.post(f"{base}/events", json=one, timeout=30).status_code == 401
    assert httpx.post(f"{base}/events", json=one, auth=(shop.user, "wrong"), timeout=30).status_code == 401
    assert httpx.post(f"{base}/events", json=one, auth=("nobody-" + uuid4().hex, "x"), timeout=30).status_code == 401
    assert httpx.post(f"{base}/events", json=one, auth=(shop.user, shop.password), timeout=30).status_code == 202

    not_json = httpx.post(f"{base}/events", content=b"{oops", auth=(shop.user, shop.password), timeout=30)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    too_big = httpx.post(f"{base}/events", json=[one] * 20, auth=(shop.user, shop.password), timeout=30)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"

    Applications(settings).revoke(shop.app)
    revoked = httpx.post(f"{base}/events", json=one, auth=(shop.user, shop.password), timeout=30)
    assert revoked.status_code == 401, revoked.text


@pytest.mark.timeout(180)
def test_a_broker_outage_gives_503_then_recovery_and_no_accepted_event_is_lost(fleet, apps, engine, serve,
                                                                              amqp_url):
    shop = apps("shop")
    fleet("event-sessions")
    proxy = TcpProxy("127.0.0.1", 5672).start()
    try:
        parts = urlsplit(amqp_url)
        through = urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"))
        base = serve(SWITCHBOARD_AMQP_URL=through)
        session, accepted, statuses = uuid4(), 0, []

        def post(k: int) -> int:
            nonlocal accepted
            answer = httpx.post(f"{base}/events", json=[event(session, f"/{k}-{i}", k) for i in range(10)],
                                auth=(shop.user, shop.password), timeout=60)
            statuses.append(answer.status_code)
            if answer.status_code == 202:
                accepted += answer.json()["accepted"]
            return answer.status_code

        assert post(0) == 202
        proxy.cut()
        outage = post(1)
        assert outage == 503, statuses
        assert proxy.connections_made >= 1
        proxy.restore()
        wait_until(lambda: post(len(statuses)) == 202, timeout=60, message=lambda: f"no recovery: {statuses}")
        assert accepted >= 20
        wait_until(lambda: count(engine, "events") >= accepted, timeout=30,
                   message=lambda: f"{count(engine, 'events')} stored of {accepted} accepted")
    finally:
        proxy.close()


@pytest.mark.timeout(180)
def test_every_read_answers_what_the_cli_prints(fleet, serve, service_env):
    fleet("plans")
    fleet("orders")
    fleet("sms")
    for name in ("provider.xml", "provider-later.xml"):
        assert switchboard(service_env, "poll-provider", "--once", "--url", (ROOT / "examples" / name).as_uri()
                           ).returncode == 0
    for kind in ("contacts", "orders"):  # the examples hold a deliberately broken line or two
        assert "published" in switchboard(service_env, "publish", kind, str(ROOT / "examples" / f"{kind}.jsonl")).stdout
    base = serve()
    range_ = {"starts_at": "2021-01-01T00:00:00", "ends_at": "2021-12-31T00:00:00"}
    wait_until(lambda: len(httpx.get(f"{base}/search", params=range_, timeout=10).json()["data"]["events"]) == 3,
               timeout=30, message="the plans were not stored")
    wait_until(lambda: httpx.get(f"{base}/orders/123", timeout=10).status_code == 200, timeout=30,
               message="order 123 was not stored")
    wait_until(lambda: httpx.get(f"{base}/deliveries", timeout=10).json() != [], timeout=30,
               message="no delivery was recorded")

    def cli(*args: str):
        done = switchboard(service_env, *args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    same = [("/search", range_, ("plans", "--starts-at", range_["starts_at"], "--ends-at", range_["ends_at"])),
            ("/orders/123", {}, ("order", "123")),
            ("/deliveries", {}, ("deliveries",)),
            ("/bills/11987654321", {"period": "2026-01"}, ("bill", "11987654321", "--period", "2026-01")),
            ("/events", {"category": "page interaction"}, ("events", "--category", "page interaction"))]
    for path, params, command in same:
        answer = httpx.get(f"{base}{path}", params=params, timeout=10)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json() == cli(*command), path

    bad = httpx.get(f"{base}/search", params={"starts_at": "soon", "ends_at": "2021-01-01"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_date_time"
    assert bad.json()["data"] is None
    for path, status in (("/orders/nope", 404), ("/sessions/not-a-uuid", 400), (f"/sessions/{uuid4()}", 404),
                         ("/bills/123?period=2026-13", 400), ("/events?since=yesterday", 400)):
        answer = httpx.get(f"{base}{path}", timeout=10)
        assert answer.status_code == status and set(answer.json()["error"]) == {"code", "message"}, path
    assert httpx.get(f"{base}/openapi.json", timeout=10).json()["info"]["title"] == "Switchboard gateway"
    assert "switchboard_gateway_request_seconds" in httpx.get(f"{base}/metrics", timeout=10).text


def _plan(plan_id: str, title: str, day: int) -> PlanSeen:
    start = datetime(2031, 3, day, 20, tzinfo=timezone.utc)
    return PlanSeen(base_plan_id="cache", plan_id=plan_id, title=title, sell_mode="online", starts_at=start,
                    ends_at=start + timedelta(hours=2), zones=({"zone_id": "1", "price": "10.00"},), seen_at=NOW)


def _answers(base: str) -> dict[str, float]:
    """switchboard_gateway_search_answers by source, from the gateway's /metrics."""
    found = {"memory": 0.0, "database": 0.0}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("switchboard_gateway_search_answers_total{"):
            source = line.split('source="', 1)[1].split('"', 1)[0]
            found[source] = float(line.rsplit(" ", 1)[1])
    return found


def _listening(base: str) -> bool:
    return "switchboard_gateway_search_cache_listening 1.0" in httpx.get(f"{base}/metrics", timeout=10).text


@pytest.mark.timeout(120)
def test_search_answers_from_memory_until_the_plans_change_and_never_without_its_listener(serve, engine):
    base = serve()
    window = {"starts_at": "2031-03-01T00:00:00", "ends_at": "2031-03-31T00:00:00"}

    def titles() -> list[str]:
        return [plan["title"] for plan in httpx.get(f"{base}/search", params=window, timeout=10).json()["data"]["events"]]

    def store(*plans: PlanSeen) -> None:
        with engine.begin() as connection:
            upsert_plans(connection, plans)

    wait_until(lambda: _listening(base), timeout=30, message="the gateway never listened for plan changes")
    store(_plan("a", "First", 3))
    wait_until(lambda: titles() == ["First"], timeout=10, message=lambda: f"search answered {titles()}")
    before = _answers(base)
    assert titles() == ["First"]
    assert _answers(base)["memory"] == before["memory"] + 1, "the same search again was not answered from memory"

    store(_plan("b", "Second", 5))  # its NOTIFY empties the gateway's cache
    wait_until(lambda: titles() == ["First", "Second"], timeout=10, message=lambda: f"still {titles()}")

    with engine.connect() as connection:  # the listening connection killed under the gateway
        killed = connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = current_database() AND query = 'LISTEN {PLANS_CHANGED}'")).scalars().all()
    assert killed == [True], killed
    wait_until(lambda: not _listening(base), timeout=10, message="the gateway did not notice its listener was gone")
    before = _answers(base)
    store(_plan("c", "Third", 7))
    assert titles() == ["First", "Second", "Third"], "answered from memory without a listener"
    assert _answers(base)["memory"] == before["memory"]

    wait_until(lambda: _listening(base), timeout=30, message="the gateway did not listen again")
    titles()
    before = _answers(base)
    assert titles() == ["First", "Second", "Third"]
    assert _answers(base)["memory"] == before["memory"] + 1, "memory not used again once listening"


@pytest.mark.timeout(60)
def test_a_stopped_gateway_shuts_down_gracefully_and_exits_0(fleet):
    port = free_port()
    gateway = fleet("gateway", command=("serve", "--port", str(port)))
    wait_until(lambda: http_status(f"http://127.0.0.1:{port}/readyz") == 200, timeout=30,
               message="the gateway never got ready")
    assert gateway.terminate(timeout=20) == 0, "SIGTERM: not a clean exit"
    assert gateway.saw("Application shutdown complete.")
