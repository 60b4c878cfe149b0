"""Pure rules of notifications: the order status graph, what a dispatcher does with a due
delivery, Message-IDs, SMTP URLs, and contact updates converging whatever their order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from consumers.delivery.decisions import SENT, backoff, failed, outcome, refusal, retry
from consumers.delivery.smtp import SmtpSender, compose, message_id
from consumers.orders import notification_for
from schemas.notifications import ContactUpserted, NotificationRequested
from schemas.orders import NEXT, parse_order_event, transition_error
from storage.contacts import merge
from storage.deliveries import Due

STATUSES = ["waiting", "preparation", "ready", "delivered", "canceled"]
ALLOWED = {("waiting", "preparation"), ("waiting", "canceled"), ("preparation", "ready"),
           ("preparation", "waiting"), ("preparation", "canceled"), ("ready", "delivered")}


@pytest.mark.parametrize("previous, status", list(product(STATUSES, STATUSES)))
def test_the_status_graph(previous, status):
    assert (transition_error(previous, status) is None) == ((previous, status) in ALLOWED)


def test_final_statuses_say_so_and_creation_is_waiting():
    assert NEXT["delivered"] == NEXT["canceled"] == frozenset()
    assert "final" in transition_error("canceled", "waiting")
    assert transition_error(None, "waiting") is None
    assert transition_error(None, "ready") == "an order is created waiting, not ready"


def test_a_status_change_must_change_something():
    with pytest.raises(ValidationError, match="must change the status"):
        parse_order_event({"type": "status_changed", "order_id": 1, "customer_id": "a", "status": "ready",
                           "previous_status": "ready", "at": "2026-01-01T00:00:00Z"})


def test_each_event_has_one_notification_id_whatever_message_carries_it():
    data = {"type": "status_changed", "order_id": 123, "customer_id": "ana", "status": "ready",
            "previous_status": "preparation", "at": "2026-01-06T09:05:00Z", "total": "1.00"}
    one, again = parse_order_event(data), parse_order_event({**data, "total": "1.00", "items": []})
    assert notification_for(one).id == notification_for(again).id
    assert notification_for(one).body == "Your order 123 is ready for pick-up."
    other = parse_order_event({**data, "at": "2026-01-06T09:06:00Z"})
    assert notification_for(other).id != notification_for(one).id


NOW = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


def due(**fields) -> Due:
    base = dict(notification_id="n1", contact_id="ana", subject="S", body="Hello.", send_at=None, channels=None,
                attempts=0, first_due=NOW, contact_found=True, name="Ana", email="ana@example.com",
                phone="+5511987654321", email_enabled=None, sms_enabled=True)
    return Due(**{**base, **fields})


@pytest.mark.parametrize("fields, channel, reason", [
    ({"contact_found": False}, "sms", "unknown contact ana"),
    ({"sms_enabled": False}, "sms", "sms disabled by the contact"),
    ({"email_enabled": False}, "email", "email disabled by the contact"),
    ({"phone": None}, "sms", "no phone number on file"),
    ({"email": None}, "email", "no e-mail address on file"),
])
def test_skips_read_the_contact_at_send_time(fields, channel, reason):
    settled = refusal(due(**fields), channel)
    assert (settled.status, settled.reason) == ("skipped", reason)


def test_preferences_not_set_mean_enabled():
    assert refusal(due(email_enabled=None), "email") is None


def test_an_sms_over_ten_segments_fails_without_being_tried():
    settled = refusal(due(body="a" * 1531), "sms")
    assert settled.status == "failed" and "11 segments" in settled.reason and settled.segments == 11


def test_outcomes_of_an_attempt():
    assert outcome(due(), "sms", SENT, NOW, timedelta(days=1)).status == "sent"
    later = outcome(due(attempts=2), "sms", retry("503"), NOW, timedelta(days=1))
    assert (later.status, later.attempts, later.reason) == ("scheduled", 3, "retrying: 503") and later.due_at > NOW
    refused = outcome(due(), "email", failed("550 no such user"), NOW, timedelta(days=1))
    assert (refused.status, refused.reason, refused.segments) == ("failed", "550 no such user", None)
    expired = outcome(due(attempts=9, first_due=NOW - timedelta(days=2)), "sms", retry("503"), NOW, timedelta(days=1))
    assert (expired.status, expired.reason) == ("failed", "gave up after 10 attempts: 503")


@given(st.integers(min_value=1, max_value=60))
def test_backoff_grows_to_five_minutes_with_jitter(attempts):
    seconds = backoff(attempts).total_seconds()
    expected = min(300, 0.5 * 2 ** (attempts - 1))
    assert 0.8 * expected <= seconds <= 1.2 * expected


def test_message_ids_come_from_the_notification_id():
    assert message_id("listing-101-ana", "Switchboard <noreply@shop.example>") == "<listing-101-ana.notification@shop.example>"
    odd = message_id("id with spaces/and@signs", "noreply@shop.example")
    assert odd == message_id("id with spaces/and@signs", "noreply@shop.example") and " " not in odd
    mail = compose("n1", "noreply@shop.example", "Ana Souza", "ana@example.com", "Hi", "Body")
    assert (mail["To"], mail["Message-ID"]) == ("Ana Souza <ana@example.com>", "<n1.notification@shop.example>")


@pytest.mark.parametrize("url, tls, port, user", [
    ("smtp://localhost:1025", False, 1025, None),
    ("smtps://mailer:s%40cret@mail.example", True, 465, "mailer"),
    ("smtp://relay.example?starttls=required", False, 25, None),
])
def test_smtp_urls(url, tls, port, user):
    sender = SmtpSender(url, "noreply@example.com")
    assert (sender._tls, sender._port, sender._user) == (tls, port, user)


def test_an_smtp_url_of_another_scheme_is_refused():
    with pytest.raises(ValueError, match="smtp:// or smtps://"):
        SmtpSender("http://mail.example", "noreply@example.com")


def test_a_request_names_each_channel_once():
    with pytest.raises(ValidationError, match="must not repeat"):
        NotificationRequested(id="n", contact_id="c", subject="s", body="b", channels=["sms", "sms"])


UPDATE_TIMES = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 2),
                            timezones=st.just(timezone.utc))


@st.composite
def contact_updates(draw):
    fields = draw(st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["Ana", "Ana S."]), "email": st.sampled_from(["a@example.com", None]),
        "sms_enabled": st.booleans()}))
    return ContactUpserted(id="ana", updated_at=draw(UPDATE_TIMES), **fields)


@given(st.lists(contact_updates(), min_size=1, max_size=6, unique_by=lambda update: update.updated_at),
       st.randoms())
def test_merged_contact_is_the_same_whatever_the_arrival_order(updates, rng):
    shuffled = updates[:]
    rng.shuffle(shuffled)
    assert merge(shuffled) == merge(updates)
