"""Notifications end to end: contacts and requests published, consumers and dispatchers as
processes, a real SMTP server and SMS gateway in the test process."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone

import pytest

from producers.publisher import Publisher
from schemas.notifications import ContactUpserted, NotificationRequested
from storage.deliveries import find_deliveries
from tests.support.fleet_tools import dead_letters
from tests.support.providers import Answer
from tests.support.waiting import wait_until

ANA = ContactUpserted(id="ana", updated_at="2026-01-05T10:00:00Z", name="Ana Souza", email="ana@example.com",
                      phone="+5511987654321", email_enabled=True, sms_enabled=True)
CONTACTS = [
    ANA,
    ContactUpserted(id="bruno", updated_at="2026-01-05T10:00:00Z", email="bruno@example.com",
                    phone="+5521987654321", sms_enabled=False),
    ContactUpserted(id="carla", updated_at="2026-01-05T10:00:00Z", email="carla@example.com"),
]


def request(id_: str, contact: str = "ana", **fields) -> NotificationRequested:
    return NotificationRequested(id=id_, contact_id=contact, subject="Hello", body=f"Message {id_}.", **fields)


def deliveries(engine, **filters) -> dict[tuple[str, str], dict]:
    with engine.connect() as conn:
        return {(row["notification_id"], row["channel"]): row for row in find_deliveries(conn, **filters)}


def settled(engine, count: int, timeout: float = 30) -> dict[tuple[str, str], dict]:
    return wait_until(lambda: (found := deliveries(engine)) and
                      sum(row["status"] != "scheduled" for row in found.values()) >= count and found,
                      timeout=timeout, message=lambda: f"not settled: {deliveries(engine)}")


@pytest.mark.timeout(120)
def test_each_enabled_channel_gets_one_message_and_every_skip_has_its_reason(notifications, providers, engine,
                                                                             amqp_url):
    smtp, sms = providers
    notifications()
    requests = [request("n1"), request("n2", "bruno"), request("n3", "carla", channels=["sms"]),
                request("n4", "nobody"), request("n5", channels=["email"])]
    with Publisher(amqp_url) as publisher:
        publisher.publish_many(CONTACTS)
        wait_until(lambda: _contacts(engine) == 3, timeout=30, message="contacts not stored")
        publisher.publish_many(requests)
        found = settled(engine, 10)
        publisher.publish_many(requests)  # the same requests again: nothing more is sent

    statuses = {key: (row["status"], row["reason"]) for key, row in found.items()}
    assert statuses == {
        ("n1", "email"): ("sent", None), ("n1", "sms"): ("sent", None),
        ("n2", "email"): ("sent", None), ("n2", "sms"): ("skipped", "sms disabled by the contact"),
        ("n3", "email"): ("skipped", "channel not requested"), ("n3", "sms"): ("skipped", "no phone number on file"),
        ("n4", "email"): ("skipped", "unknown contact nobody"), ("n4", "sms"): ("skipped", "unknown contact nobody"),
        ("n5", "email"): ("sent", None), ("n5", "sms"): ("skipped", "channel not requested"),
    }
    wait_until(lambda: len(smtp.received) == 3 and len(sms.received) == 1, timeout=10,
               message=lambda: f"{len(smtp.received)} mails, {len(sms.received)} SMS")
    assert sorted(mail.recipients[0] for mail in smtp.received) == ["ana@example.com", "ana@example.com",
                                                                    "bruno@example.com"]
    assert {mail.message["Message-ID"] for mail in smtp.received} == {
        "<n1.notification@localhost>", "<n2.notification@localhost>", "<n5.notification@localhost>"}
    [text] = sms.received
    assert (text.payload, text.idempotency_key) == (
        {"to": "+5511987654321", "body": "Message n1.", "reference": "n1"}, "n1")
    assert found[("n1", "sms")]["segments"] == 1 and found[("n1", "email")]["segments"] is None
    assert len(smtp.received) == 3 and len(sms.received) == 1, "a duplicate request sent something"


def _contacts(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM contacts")).scalar_one()


@pytest.mark.timeout(120)
def test_a_gateway_answering_503_twice_then_200_gives_one_sms_after_three_attempts(notifications, providers,
                                                                                    engine, amqp_url):
    _smtp, sms = providers
    sms.script = deque([Answer(503, "busy"), Answer(503, "busy")])
    notifications()
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _contacts(engine) == 1, timeout=30, message="contact not stored")
        publisher.publish(request("retry-me", channels=["sms"]))
    row = wait_until(lambda: (r := deliveries(engine).get(("retry-me", "sms"))) and r["status"] == "sent" and r,
                     timeout=30, message=lambda: f"not sent: {deliveries(engine)}")
    attempts = sms.for_reference("retry-me")
    assert len(attempts) == 3, "the 503s must really have been answered, and then a 200"
    assert {a.idempotency_key for a in attempts} == {"retry-me"}, "every attempt carries the same key"
    assert row["attempts"] == 3 and row["reason"] is None


@pytest.mark.timeout(120)
def test_a_gateway_refusing_with_400_fails_the_sms_and_dead_letters_the_request(notifications, providers, engine,
                                                                                 amqp_url):
    _smtp, sms = providers
    sms.script = deque([Answer(400, '{"error": "invalid destination"}')])
    notifications()
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _contacts(engine) == 1, timeout=30, message="contact not stored")
        publisher.publish(request("refused", channels=["sms"]))
    row = wait_until(lambda: (r := deliveries(engine).get(("refused", "sms"))) and r["status"] == "failed" and r,
                     timeout=30, message=lambda: f"not failed: {deliveries(engine)}")
    assert row["reason"] == 'the SMS gateway refused the SMS: 400: {"error": "invalid destination"}'
    assert row["attempts"] == 1 and len(sms.for_reference("refused")) == 1
    letters = wait_until(lambda: dead_letters(amqp_url, "sms"), timeout=10, message="not dead-lettered")
    body, headers = letters[0]
    assert NotificationRequested.model_validate_json(body).id == "refused"
    assert headers["x-switchboard-reason"] == row["reason"]
    assert (headers["x-switchboard-original-exchange"], headers["x-switchboard-original-routing-key"]) == ("", "sms")


@pytest.mark.timeout(120)
def test_a_hanging_gateway_times_out_and_the_sms_is_retried(notifications, providers, engine, amqp_url):
    _smtp, sms = providers
    sms.script = deque([Answer(hang_s=3.0)])  # the dispatcher waits 1 s (SWITCHBOARD_SMS_READ_TIMEOUT_S)
    notifications()
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _contacts(engine) == 1, timeout=30, message="contact not stored")
        publisher.publish(request("slow", channels=["sms"]))
    row = wait_until(lambda: (r := deliveries(engine).get(("slow", "sms"))) and r["status"] == "sent" and r,
                     timeout=30, message=lambda: f"not sent: {deliveries(engine)}")
    attempts = sms.for_reference("slow")
    assert len(attempts) == 2 and attempts[1].at - attempts[0].at < 3.0, "the second attempt came before the hang ended"
    assert row["attempts"] == 2


@pytest.mark.timeout(120)
def test_smtp_4xx_is_retried_and_5xx_fails_and_is_dead_lettered(notifications, providers, engine, amqp_url):
    smtp, _sms = providers
    smtp.answers = deque(["451 4.3.0 try again later", "550 5.1.1 no such mailbox"])
    notifications()
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _contacts(engine) == 1, timeout=30, message="contact not stored")
        publisher.publish(request("mail-1", channels=["email"]))
        first = wait_until(lambda: (r := deliveries(engine).get(("mail-1", "email"))) and r["status"] == "failed" and r,
                           timeout=30, message=lambda: f"not failed: {deliveries(engine)}")
        publisher.publish(request("mail-2", channels=["email"]))
        second = wait_until(lambda: (r := deliveries(engine).get(("mail-2", "email"))) and r["status"] == "sent" and r,
                            timeout=30, message=lambda: f"not sent: {deliveries(engine)}")
    assert smtp.attempts == 3
    assert first["attempts"] == 2 and first["reason"] == "the SMTP server answered 550 5.1.1 no such mailbox"
    assert second["attempts"] == 1
    assert len(wait_until(lambda: dead_letters(amqp_url, "email"), timeout=10, message="not dead-lettered")) == 1


@pytest.mark.timeout(120)
def test_a_scheduled_notification_is_not_sent_early_and_is_sent_on_time(notifications, providers, engine, amqp_url):
    _smtp, sms = providers
    notifications()
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _contacts(engine) == 1, timeout=30, message="contact not stored")
        send_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
        publisher.publish(request("later", channels=["sms"], send_at=send_at))
    wait_until(lambda: ("later", "sms") in deliveries(engine), timeout=10, message="not recorded")
    assert deliveries(engine)[("later", "sms")]["status"] == "scheduled"
    wait_until(lambda: sms.for_reference("later"), timeout=30, message="never sent")
    [sent] = sms.for_reference("later")
    assert send_at.timestamp() <= sent.at <= send_at.timestamp() + 2.0, \
        f"sent {sent.at - send_at.timestamp():+.2f} s from its send_at"
