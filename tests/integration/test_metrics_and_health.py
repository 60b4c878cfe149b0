"""Every consumer process serves /metrics, /healthz and /readyz; the counts are what was sent,
and readiness follows the broker connection."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from broker.envelope import Outgoing
from producers.calls import read_call_records
from producers.publisher import Publisher
from tests.support.processes import ROOT, ConsumerProcess
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

SAMPLE = ROOT / "examples" / "calls.jsonl"


@pytest.fixture
def telephony(service_env, engine, amqp_url):
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE priced_calls, calls, call_records"))
    subprocess.run([sys.executable, "-m", "switchboard", "topology"], env=service_env, check=True,
                   capture_output=True, timeout=60, cwd=ROOT)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for queue in ("call-pairing", "billing", "call-pairing.dead", "billing.dead"):
        channel.queue_purge(queue)
    connection.close()


@pytest.fixture
def start_consumer(tmp_path):
    """Start `switchboard run NAME`; returns the process and the base URL of its health endpoint."""
    started: list[ConsumerProcess] = []

    def start(env: dict, name: str) -> tuple[ConsumerProcess, str]:
        process = ConsumerProcess(env, tmp_path / f"{name}.log", module="switchboard", args=("run", name)).start()
        started.append(process)
        serving = wait_until(lambda: [e for e in process.events() if e.get("event") == "metrics_serving"],
                             timeout=30, message="the process never said where it serves its metrics")
        return process, f"http://127.0.0.1:{serving[0]['port']}"

    yield start
    for process in started:
        process.stop()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def samples(base: str) -> dict[tuple[str, frozenset], float]:
    _, body = get(f"{base}/metrics")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body.decode()) for sample in family.samples}


def value(metrics: dict, name: str, **labels) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.timeout(90)
def test_metrics_count_what_was_sent(telephony, service_env, amqp_url, start_consumer):
    _process, base = start_consumer(service_env, "call-pairing")
    records = read_call_records(SAMPLE.read_text().splitlines()).records
    bad = [Outgoing("telephony", "call.start", b'{"broken', f"bad-{n}") for n in range(3)]
    with Publisher(amqp_url) as publisher:
        publisher.publish_many(records)
        publisher.publish_outgoing(bad)
    labels = {"consumer": "call-pairing", "queue": "call-pairing"}
    wait_until(lambda: value(samples(base), "switchboard_messages_total", outcome="acked", **labels) == 16,
               timeout=30, message=lambda: f"acked: {value(samples(base), 'switchboard_messages_total', outcome='acked', **labels)}")
    metrics = wait_until(lambda: (m := samples(base)) and
                         value(m, "switchboard_messages_total", outcome="dead_lettered", **labels) == 3 and m,
                         timeout=30, message="dead letters not counted")

    assert value(metrics, "switchboard_batch_size_messages_sum", **labels) == 19
    assert value(metrics, "switchboard_batch_duration_seconds_count", **labels) >= 1
    assert value(metrics, "switchboard_broker_connected", link="consumer-call-pairing") == 1
    assert value(metrics, "switchboard_consumer_attached", **labels) == 1
    assert value(metrics, "switchboard_database_connected", consumer="call-pairing") == 1
    # The 8 completed calls were emitted with confirms.
    assert value(metrics, "switchboard_publish_confirm_seconds_count", link="consumer-call-pairing") >= 1
    assert value(metrics, "switchboard_messages_redelivered_total", **labels) == 0
    assert get(f"{base}/healthz")[0] == 200
    assert get(f"{base}/nope")[0] == 404


def through(proxy: TcpProxy, amqp_url: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"))


@pytest.mark.timeout(90)
def test_readiness_follows_the_broker_connection(telephony, service_env, amqp_url, start_consumer):
    proxy = TcpProxy("127.0.0.1", 5672).start()
    try:
        env = {**service_env, "SWITCHBOARD_AMQP_URL": through(proxy, amqp_url),
               "SWITCHBOARD_MANAGEMENT_URL": "http://127.0.0.1:1"}  # no attachment checks through the cut
        process, base = start_consumer(env, "billing")
        wait_until(lambda: get(f"{base}/readyz")[0] == 200, timeout=30, message="never ready")

        proxy.cut()
        wait_until(lambda: process.saw("amqp_connection_lost"), timeout=30, message="the cut never reached it")
        status, body = get(f"{base}/readyz")
        assert status == 503
        assert json.loads(body) == {"ready": False, "broker": False, "database": True, "consumer": False}
        assert get(f"{base}/healthz")[0] == 200, "a lost broker is not a reason to restart the process"

        proxy.restore()
        wait_until(lambda: get(f"{base}/readyz")[0] == 200, timeout=30, message="not ready again after recovery")
        assert proxy.connections_made >= 2
    finally:
        proxy.close()
