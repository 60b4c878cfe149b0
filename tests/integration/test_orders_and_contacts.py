"""Coffee-shop orders through the whole fleet; contacts converging whatever the order of their
updates; a failed delivery sent again by replaying its dead letter."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import deque

import pytest
from sqlalchemy import text

from consumers import contacts
from consumers.runtime.handler import Incoming
from producers.notifications import parse_order_event
from producers.publisher import Publisher
from schemas.notifications import ContactUpserted, NotificationRequested
from storage.deliveries import find_deliveries
from storage.orders import order_with_history
from tests.support.fleet_tools import dead_letters
from tests.support.processes import ROOT
from tests.support.providers import Answer
from tests.support.waiting import wait_until

ANA = ContactUpserted(id="ana", updated_at="2026-01-05T10:00:00Z", email="ana@example.com", phone="+5511987654321")


def event(order: str, status: str, minute: int, previous: str | None = None, customer: str = "ana"):
    data = {"type": "created" if previous is None else "status_changed", "order_id": order, "customer_id": customer,
            "status": status, "at": f"2026-01-06T09:{minute:02d}:00Z"}
    return parse_order_event({**data, "previous_status": previous} if previous else data)


LIFE = [event("123", "waiting", 0), event("123", "preparation", 1, "waiting"),
        event("123", "waiting", 2, "preparation"), event("123", "preparation", 3, "waiting"),
        event("123", "ready", 5, "preparation"), event("123", "delivered", 6, "ready")]


def sent(engine, channel: str) -> int:
    with engine.connect() as conn:
        return len(find_deliveries(conn, channel=channel, status="sent"))


@pytest.mark.timeout(120)
def test_an_order_walked_through_its_life_tells_the_customer_once_per_event_and_channel(
        notifications, providers, engine, amqp_url):
    smtp, sms = providers
    notifications()
    shuffled = LIFE[:]
    random.Random(6).shuffle(shuffled)
    invalid = event("123", "waiting", 7, "delivered")  # delivered is final
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _count(engine, "contacts") == 1, timeout=30, message="contact not stored")
        publisher.publish_many(shuffled)
        wait_until(lambda: sent(engine, "sms") == 6 and sent(engine, "email") == 6, timeout=30,
                   message=lambda: f"{sent(engine, 'sms')} SMS, {sent(engine, 'email')} e-mails sent")
        publisher.publish_many([invalid] + LIFE[::-1])  # an invalid one, and every event again, backwards
        letters = wait_until(lambda: dead_letters(amqp_url, "orders"), timeout=30, message="not dead-lettered")

    assert "delivered is final" in letters[0][1]["x-switchboard-reason"]
    wait_until(lambda: _count(engine, "order_events") == 6, timeout=10, message="events not stored")
    assert len(sms.received) == 6 and len(smtp.received) == 6, "duplicates or the invalid event told the customer"
    with engine.connect() as conn:
        order = order_with_history(conn, "123")
    assert order["status"] == "delivered"
    assert [item["status"] for item in order["history"]] == ["waiting", "preparation", "waiting", "preparation",
                                                             "ready", "delivered"]
    texts = sorted(text.payload["body"] for text in sms.received)
    assert "Your order 123 is ready for pick-up." in texts and len(set(texts)) == 5  # "preparation" twice


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.mark.timeout(60)
def test_partial_contact_updates_converge_in_any_arrival_order(engine):
    updates = [
        ContactUpserted(id="eva", updated_at="2026-01-01T00:00:00Z", name="Eva", email="eva@example.com",
                        phone="+5511911112222", sms_enabled=True),
        ContactUpserted(id="eva", updated_at="2026-01-02T00:00:00Z", email="eva.new@example.com"),
        ContactUpserted(id="eva", updated_at="2026-01-03T00:00:00Z", phone=None, sms_enabled=False),
        ContactUpserted(id="eva", updated_at="2026-01-01T12:00:00Z", email="stale@example.com", name="Eva M."),
    ]
    results = set()
    for seed in range(6):
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM contacts WHERE id = 'eva'"))
        order = updates[:]
        random.Random(seed).shuffle(order)
        for batch in (order[:2], order[2:]):  # two batches: the merge in a batch and across batches
            with engine.begin() as conn:
                contacts.handle_batch(conn, [Incoming(update, "contact.upserted", None, False) for update in batch])
        with engine.connect() as conn:
            row = conn.execute(text("SELECT name, email, phone, sms_enabled FROM contacts WHERE id = 'eva'")).one()
        results.add(tuple(row))
    assert results == {("Eva M.", "eva.new@example.com", None, False)}


@pytest.mark.timeout(120)
def test_a_failed_sms_replayed_from_its_dead_letter_after_the_fix_is_sent(notifications, providers, engine,
                                                                          amqp_url, service_env):
    _smtp, sms = providers
    sms.script = deque([Answer(400, "unknown destination")])
    notifications()
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _count(engine, "contacts") == 1, timeout=30, message="contact not stored")
        publisher.publish(NotificationRequested(id="fixed-later", contact_id="ana", subject="Hi", body="Hi.",
                                                channels=["sms"]))
    wait_until(lambda: _status(engine, "fixed-later") == "failed", timeout=30, message="never failed")
    wait_until(lambda: _depth(amqp_url, "sms.dead") == 1, timeout=10, message="not dead-lettered")

    replay = subprocess.run([sys.executable, "-m", "switchboard", "dead-letters", "replay", "sms"],
                            env=service_env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    wait_until(lambda: _status(engine, "fixed-later") == "sent", timeout=30, message="not sent after the replay")
    assert len(sms.for_reference("fixed-later")) == 2


def _status(engine, notification: str) -> str | None:
    with engine.connect() as conn:
        rows = find_deliveries(conn, notification=notification, channel="sms")
    return rows[0]["status"] if rows else None


def _depth(amqp_url: str, queue: str) -> int:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()
