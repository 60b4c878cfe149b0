"""What an operator runs: dead-letter filters, parking after too many replays, `status --check`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pika
import pytest

from consumers.runtime import deadletter
from schemas.topology import QUEUES
from tests.support.processes import ROOT
from tests.support.waiting import wait_until


def switchboard(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "switchboard", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def dead_letter(channel, message_id: str, reason: str, age: timedelta, replays: int = 0) -> None:
    headers = {deadletter.REASON: reason, deadletter.CONSUMER: "orders",
               deadletter.DEAD_LETTERED_AT: (datetime.now(timezone.utc) - age).isoformat(),
               deadletter.ORIGINAL_EXCHANGE: "orders", deadletter.ORIGINAL_ROUTING_KEY: "order.status_changed"}
    if replays:
        headers[deadletter.REPLAYS] = replays
    channel.basic_publish("", "orders.dead", b'{"type": "status_changed"}', pika.BasicProperties(
        message_id=message_id, headers=headers, delivery_mode=2))


@pytest.fixture
def dead_letters(fleet, amqp_url):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    dead_letter(channel, "old-final", "order 1: delivered is final: an order cannot move from delivered to waiting",
                timedelta(days=3))
    dead_letter(channel, "new-final", "order 2: canceled is final: an order cannot move from canceled to ready",
                timedelta(minutes=5))
    dead_letter(channel, "other", "order 3: it belongs to customer ana, not bruno", timedelta(days=3))
    dead_letter(channel, "parked", "order 4: delivered is final", timedelta(days=3), replays=3)
    yield channel
    connection.close()


def depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


@pytest.mark.timeout(120)
def test_dead_letter_filters_dry_run_replay_parking_and_purge(dead_letters, service_env):
    listed = switchboard(service_env, "dead-letters", "list", "orders", "--reason", "FINAL", "--older-than", "1d",
                         "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(item["message_id"] for item in json.loads(listed.stdout)) == ["old-final", "parked"]
    shown = json.loads(switchboard(service_env, "dead-letters", "show", "orders", "other", "--json").stdout)
    assert shown["body"] == '{"type": "status_changed"}' and "belongs to customer" in shown["reason"]

    dry = json.loads(switchboard(service_env, "dead-letters", "replay", "orders", "--reason", "final", "--dry-run",
                                 "--json").stdout)
    assert (dry["matched"], dry["done"]) == (3, 2) and dry["kept"][0].startswith("parked: parked: replayed 3 times")
    wait_until(lambda: depth(dead_letters, "orders.dead") == 4, timeout=10, message="a dry run must leave them")

    replayed = switchboard(service_env, "dead-letters", "replay", "orders", "--reason", "final", "--json")
    assert replayed.returncode == 1, "a parked message stayed: exit 1"
    assert json.loads(replayed.stdout)["done"] == 2
    wait_until(lambda: depth(dead_letters, "orders") == 2, timeout=10, message="not back in the orders queue")
    method, props, _ = dead_letters.basic_get("orders", auto_ack=True)
    assert props.headers[deadletter.REPLAYS] == 1 and method.exchange == "orders.replay"

    purged = json.loads(switchboard(service_env, "dead-letters", "purge", "orders", "--reason", "belongs",
                                    "--json").stdout)
    assert purged["done"] == 1
    wait_until(lambda: depth(dead_letters, "orders.dead") == 1, timeout=10, message="purge left it")
    left = json.loads(switchboard(service_env, "dead-letters", "list", "orders", "--json").stdout)
    assert [item["message_id"] for item in left] == ["parked"]


@pytest.mark.timeout(60)
def test_dead_letter_arguments_are_checked(service_env):
    unknown = switchboard(service_env, "dead-letters", "list", "nope")
    assert unknown.returncode == 1 and "unknown queue 'nope'" in unknown.stderr
    garbled = switchboard(service_env, "dead-letters", "purge", "orders", "--older-than", "a week")
    assert garbled.returncode == 1 and "--older-than must be a number and a unit" in garbled.stderr


@pytest.mark.timeout(180)
def test_status_check_fails_on_a_queue_without_consumer_or_with_dead_letters(fleet, amqp_url, service_env):
    down = switchboard(service_env, "status", "--check")
    assert down.returncode == 1 and "problem: orders: no consumer" in down.stderr
    for spec in QUEUES:
        fleet(spec.name)
    wait_until(lambda: all(row["consumers"] for row in json.loads(
        switchboard(service_env, "status", "--json").stdout)["queues"]), timeout=60, message="consumers not up")
    healthy = switchboard(service_env, "status", "--check")
    assert healthy.returncode == 0, healthy.stderr

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().basic_publish("", "billing.dead", b"{}")
    connection.close()
    stuck = switchboard(service_env, "status", "--check", "--json")
    assert stuck.returncode == 1
    assert json.loads(stuck.stdout)["problems"] == ["billing: 1 dead letters (`switchboard dead-letters list billing`)"]
