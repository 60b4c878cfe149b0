"""A scheduled notification lives in PostgreSQL, not in a process: it survives `kill -9` of the
whole notifications fleet and is sent once, on time, by the fleet started again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from producers.publisher import Publisher
from schemas.notifications import ContactUpserted, NotificationRequested
from storage.deliveries import find_deliveries
from tests.support.waiting import wait_until

ANA = ContactUpserted(id="ana", updated_at="2026-01-05T10:00:00Z", email="ana@example.com", phone="+5511987654321")


def delivery(engine, notification: str, channel: str) -> dict | None:
    with engine.connect() as conn:
        rows = find_deliveries(conn, notification=notification, channel=channel)
    return rows[0] if rows else None


@pytest.mark.timeout(120)
def test_a_scheduled_send_survives_sigkill_of_every_process_and_is_sent_once(notifications, providers, engine,
                                                                            amqp_url):
    smtp, sms = providers
    first = notifications()
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _contact_stored(engine), timeout=30, message="contact not stored")
        send_at = datetime.now(timezone.utc) + timedelta(seconds=10)
        publisher.publish(NotificationRequested(id="wake-up", contact_id="ana", subject="Wake up",
                                                body="It is time.", send_at=send_at))
    wait_until(lambda: (d := delivery(engine, "wake-up", "sms")) and d["status"] == "scheduled", timeout=30,
               message="the request was never scheduled")
    wait_until(lambda: delivery(engine, "wake-up", "email") is not None, timeout=30, message="e-mail not scheduled")

    exits = [process.kill9() for process in first.values()]
    assert exits == [-9] * len(first), "every process of the fleet must really have died"
    assert not sms.received and not smtp.received, "nothing may go out before send_at"

    notifications()  # the fleet, started again
    wait_until(lambda: sms.for_reference("wake-up") and smtp.with_message_id("<wake-up.notification@localhost>"),
               timeout=30, message=lambda: f"not sent after the fleet restarted: sms {delivery(engine, 'wake-up', 'sms')}, "
                                           f"email {delivery(engine, 'wake-up', 'email')}")
    wait_until(lambda: delivery(engine, "wake-up", "sms")["status"] == "sent", timeout=10, message="not recorded")
    [text] = sms.for_reference("wake-up")
    assert text.at >= send_at.timestamp(), "sent before its send_at"
    assert len(smtp.with_message_id("<wake-up.notification@localhost>")) == 1


@pytest.mark.timeout(120)
def test_a_crash_after_the_gateway_accepted_resends_once_with_the_same_key(notifications, providers, engine,
                                                                         amqp_url):
    from collections import deque

    from tests.support.providers import Answer

    _smtp, sms = providers
    sms.script = deque([Answer(hang_s=5.0)])  # accepted and recorded, answered late: the dispatcher is killed first
    fleet = notifications(SWITCHBOARD_SMS_READ_TIMEOUT_S="30")
    with Publisher(amqp_url) as publisher:
        publisher.publish(ANA)
        wait_until(lambda: _contact_stored(engine), timeout=30, message="contact not stored")
        publisher.publish(NotificationRequested(id="in-flight", contact_id="ana", subject="Hi", body="Hi.",
                                                channels=["sms"]))
    wait_until(lambda: sms.for_reference("in-flight"), timeout=30, message="the gateway never got it")
    assert fleet["sms-dispatcher"].kill9() == -9, "the dispatcher must really die before its commit"
    assert delivery(engine, "in-flight", "sms")["status"] == "scheduled", "nothing may be recorded yet"

    fleet["sms-dispatcher"].start()
    wait_until(lambda: (d := delivery(engine, "in-flight", "sms")) and d["status"] == "sent", timeout=30,
               message=lambda: f"not sent after the dispatcher restarted: {delivery(engine, 'in-flight', 'sms')}, "
                               f"{len(sms.for_reference('in-flight'))} requests")
    attempts = sms.for_reference("in-flight")
    assert len(attempts) == 2, "sent once more, not more"
    assert {a.idempotency_key for a in attempts} == {"in-flight"}, "the resend carries the same key"


def _contact_stored(engine) -> bool:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM contacts WHERE id = 'ana'")).scalar_one() == 1
