"""A channel's dispatcher: sends the deliveries that are due, and records what became of them.

One loop per channel, as a fleet process (`switchboard dispatch sms|email`). Each turn, one
transaction claims up to `batch_size` due deliveries (`FOR UPDATE SKIP LOCKED`: dispatchers
never take the same row), reads each contact as it is now, sends through the channel's
courier, dead-letters what failed (confirmed before the commit), and settles every row.
Between turns it sleeps until the next delivery is due, a NOTIFY of new ones, or 1 s.

A crash between the provider's acceptance and the commit leaves the row scheduled: it is
sent again, once, with the same Idempotency-Key or Message-ID. Nothing waits in memory: a
scheduled send is a row, so it survives `kill -9` of every process.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, Sequence

import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from broker.errors import PublishError
from consumers.delivery.decisions import Attempt, address, outcome, refusal
from consumers.delivery.wakeups import Wakeups
from consumers.runtime.deadletter import dead_letter_message
from consumers.runtime.failures import describe
from consumers.runtime.stopflag import StopFlag
from schemas.notifications import Channel, NotificationRequested
from storage import deliveries as store
from storage.deliveries import Due, Settled

log = structlog.get_logger(__name__)

DELIVERIES = Counter("switchboard_deliveries", "Deliveries settled, by channel and status", ["channel", "status"])
WAITING = Gauge("switchboard_scheduled_sends_waiting", "Scheduled deliveries not due yet", ["channel"])
SEND_SECONDS = Histogram("switchboard_delivery_send_seconds", "Time to hand one batch to the provider", ["channel"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

IDLE_POLL_S = 1.0
WAITING_EVERY_S = 5.0


class Courier(Protocol):
    def deliver(self, items: Sequence[tuple[Due, str]]) -> list[Attempt]:
        """Send each (due delivery, address); an Attempt per item, in order."""

    def close(self) -> None: ...


class Dispatcher:
    def __init__(self, channel: Channel, courier: Courier, engine: Engine, database_url: str, publisher, *,
                 batch_size: int, retry_for: timedelta, stop: StopFlag):
        self._channel = channel
        self._courier = courier
        self._engine = engine
        self._publisher = publisher  # for dead letters
        self._batch_size = batch_size
        self._retry_for = retry_for
        self._stop = stop
        self._wakeups = Wakeups(database_url)
        self._log = log.bind(channel=channel)
        self._waiting_checked = 0.0
        self.last_turn = time.monotonic()

    def run(self) -> int:
        self._log.info("dispatcher_started")
        try:
            while not self._stop.is_set():
                self.last_turn = time.monotonic()
                if self._turn() < self._batch_size:
                    self._wakeups.wait(self._idle_s())
        finally:
            self._wakeups.close()
            self._courier.close()
        self._log.info("dispatcher_stopped")
        return 0

    def _turn(self) -> int:
        """One transaction: claim, send, dead-letter, settle. The number of deliveries claimed."""
        try:
            with self._engine.begin() as conn:
                due = store.claim_due(conn, self._channel, self._batch_size)
                results = self._attempt(due)
                self._dead_letter(due, results)
                store.settle(conn, self._channel, results)
            self._count(results)
            return len(due)
        except DBAPIError as error:
            self._log.warning("database_unavailable", error=describe(error))
        except PublishError as error:  # the rows stay scheduled: tried again after a pause
            self._log.error("dead_letter_failed", error=str(error))
        self._stop.wait(IDLE_POLL_S)
        return 0

    def _attempt(self, due: list[Due]) -> list[Settled]:
        settled = {item.notification_id: refused for item in due if (refused := refusal(item, self._channel))}
        sendable = [(item, address(item, self._channel)) for item in due if item.notification_id not in settled]
        if sendable:
            started = time.perf_counter()
            attempts = self._courier.deliver(sendable)
            SEND_SECONDS.labels(self._channel).observe(time.perf_counter() - started)
            now = datetime.now(timezone.utc)
            for (item, _), attempt in zip(sendable, attempts, strict=True):
                settled[item.notification_id] = outcome(item, self._channel, attempt, now, self._retry_for)
        return [settled[item.notification_id] for item in due]

    def _dead_letter(self, due: list[Due], results: list[Settled]) -> None:
        failed = [(item, result) for item, result in zip(due, results, strict=True) if result.status == "failed"]
        if not failed:
            return
        letters = [dead_letter_message(_request(item), consumer=f"{self._channel}-dispatcher", queue=self._channel,
                                       dead_letter_queue=f"{self._channel}.dead", reason=result.reason or "failed")
                   for item, result in failed]
        self._publisher.publish_outgoing(letters)
        for item, result in failed:
            self._log.warning("delivery_failed", notification_id=item.notification_id, error=result.reason)

    def _count(self, results: list[Settled]) -> None:
        for result in results:
            DELIVERIES.labels(self._channel, result.status).inc()
        if results:
            self._log.debug("deliveries_settled", count=len(results),
                            sent=sum(result.status == "sent" for result in results))

    def _idle_s(self) -> float:
        """Until the next delivery is due (by the database's clock), at most IDLE_POLL_S."""
        try:
            with self._engine.connect() as conn:
                self._update_waiting(conn)
                seconds = store.seconds_to_next_due(conn, self._channel)
        except DBAPIError:
            return IDLE_POLL_S
        return IDLE_POLL_S if seconds is None else min(IDLE_POLL_S, max(0.0, float(seconds)))

    def _update_waiting(self, conn) -> None:
        if time.monotonic() - self._waiting_checked >= WAITING_EVERY_S:
            self._waiting_checked = time.monotonic()
            WAITING.labels(self._channel).set(store.waiting(conn, self._channel))


def _request(item: Due) -> NotificationRequested:
    return NotificationRequested(id=item.notification_id, contact_id=item.contact_id, subject=item.subject,
                                 body=item.body, send_at=item.send_at, channels=item.channels)
