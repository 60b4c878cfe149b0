"""What to do with a delivery that is due, and what became of an attempt: pure rules.

At send time (preferences are read then, not when the request came): an unknown contact, a
channel the contact disabled, or no address on file is `skipped` with that reason; an SMS
longer than 10 segments is `failed`. Otherwise it is sent. A transient provider error
(timeout, refused connection, 408, 429, 5xx, SMTP 4xx) is tried again with backoff, until
`retry_for` has passed since the request; a permanent one (any other 4xx, SMTP 5xx) is
`failed` at once. Both failures are dead-lettered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from consumers.delivery.segments import segments, too_long
from schemas.notifications import Channel
from storage.deliveries import Due, Settled

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 300.0


@dataclass(frozen=True)
class Attempt:
    """What a provider said: "sent", "retry" (transient) or "failed" (permanent)."""

    status: str
    reason: str | None = None


SENT = Attempt("sent")


def retry(reason: str) -> Attempt:
    return Attempt("retry", reason)


def failed(reason: str) -> Attempt:
    return Attempt("failed", reason)


def address(due: Due, channel: Channel) -> str | None:
    return due.email if channel == "email" else due.phone


def refusal(due: Due, channel: Channel) -> Settled | None:
    """The delivery settled without trying: skipped, or (an over-long SMS) failed. None: send it."""
    if not due.contact_found:
        return _settled(due, "skipped", f"unknown contact {due.contact_id}")
    if (due.email_enabled if channel == "email" else due.sms_enabled) is False:
        return _settled(due, "skipped", f"{channel} disabled by the contact")
    if not address(due, channel):
        return _settled(due, "skipped", "no e-mail address on file" if channel == "email" else "no phone number on file")
    if channel == "sms" and (reason := too_long(due.body)):
        return _settled(due, "failed", reason, segments=segments(due.body).count)
    return None


def outcome(due: Due, channel: Channel, attempt: Attempt, now: datetime, retry_for: timedelta) -> Settled:
    attempts = due.attempts + 1
    count = segments(due.body).count if channel == "sms" else None
    if attempt.status == "sent":
        return Settled(due.notification_id, "sent", None, attempts, count)
    if attempt.status == "retry" and now - due.first_due < retry_for:
        return Settled(due.notification_id, "scheduled", f"retrying: {attempt.reason}", attempts, count,
                       due_at=now + backoff(attempts))
    reason = attempt.reason if attempt.status == "failed" else f"gave up after {attempts} attempts: {attempt.reason}"
    return Settled(due.notification_id, "failed", reason, attempts, count)


def backoff(attempts: int) -> timedelta:
    """0.5 s, 1 s, 2 s, ... up to 5 minutes between attempts, with ±20 % jitter."""
    seconds = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def _settled(due: Due, status: str, reason: str, segments: int | None = None) -> Settled:
    return Settled(due.notification_id, status, reason, due.attempts, segments)
