"""The publisher API: persistent messages, pipelined publisher confirms, mandatory routing.

    with Publisher(amqp_url) as publisher:
        publisher.publish(message)               # returns once the broker confirmed it
        publisher.publish_many(messages)         # a window of unconfirmed messages in flight

A message lost with the connection before its confirm is published again with the same
message_id once the link is back, so consumers can recognize the duplicate. What retrying
cannot fix (refused credentials or permissions, an exchange that does not exist) raises
`LinkFailed` at once, with what to do in its message.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Callable, Iterable, Iterator

import structlog
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from broker.confirms import ConfirmBatch
from broker.envelope import Outgoing
from broker.errors import ConnectionLost, Nacked, PublishError
from broker.link import AmqpLink
from schemas.base import Message

log = structlog.get_logger(__name__)

RETRYABLE = (ConnectionLost, Nacked)


class _Resend(Exception):
    """Some messages of a chunk were lost with the connection or nacked: publish them again."""

    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.cause = cause


class Publisher:
    def __init__(
        self,
        amqp_url: str,
        *,
        app_id: str = "switchboard",
        window: int = 2000,
        confirm_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        retry_for: float = 120.0,
        chunk_size: int = 250,
        name: str = "publisher",
    ):
        self._chunk_size = max(1, min(chunk_size, window))
        self._chunks_in_flight = max(1, window // self._chunk_size)
        self._confirm_timeout = confirm_timeout
        self._connect_timeout = connect_timeout
        self._retry_for = retry_for
        self._link = AmqpLink(amqp_url, name=name, app_id=app_id, reconnect_budget_s=retry_for).start()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    @property
    def connections_made(self) -> int:
        """How many times the link connected (more than 1 means it recovered)."""
        return self._link.generation

    @property
    def ready(self) -> bool:
        """Connected to the broker right now."""
        return self._link.ready

    @property
    def user(self) -> str:
        """The AMQP user this publisher connects as (the broker checks `user_id` against it)."""
        return self._link.user

    def close(self) -> None:
        self._link.stop()

    def publish(self, message: Message, *, correlation_id: str | None = None, reply_to: str | None = None) -> None:
        self.publish_outgoing([Outgoing.of(message, correlation_id=correlation_id, reply_to=reply_to)])

    def publish_many(self, messages: Iterable[Message], *, on_progress: Callable[[int], None] | None = None) -> int:
        return self.publish_outgoing((Outgoing.of(m) for m in messages), on_progress=on_progress)

    def publish_outgoing(self, messages: Iterable[Outgoing], *, on_progress: Callable[[int], None] | None = None) -> int:
        """Publish everything, keeping at most `window` messages unconfirmed. Returns the count confirmed."""
        in_flight: deque[ConfirmBatch] = deque()
        confirmed = 0

        def settle_oldest() -> None:
            nonlocal confirmed
            confirmed += self._settle(in_flight.popleft())
            if on_progress is not None:
                on_progress(confirmed)

        for chunk in _chunks(messages, self._chunk_size):
            if len(in_flight) >= self._chunks_in_flight:
                settle_oldest()
            in_flight.append(self._send(chunk))
        while in_flight:
            settle_oldest()
        return confirmed

    def _send(self, chunk: list[Outgoing]) -> ConfirmBatch:
        if not self._link.wait_ready(self._connect_timeout):  # raises LinkFailed if it gave up
            raise ConnectionLost(f"RabbitMQ not reachable within {self._connect_timeout:.0f}s")
        return self._link.publish(chunk)

    def _settle(self, batch: ConfirmBatch) -> int:
        """Wait for a chunk's confirms, republishing (same message ids) what the connection lost
        or the broker nacked, with backoff, for up to `retry_for` seconds. Returns its size."""
        total = len(batch.messages)
        resend: list[Outgoing] = []

        def confirmed() -> None:
            nonlocal batch
            if resend:
                batch = self._send(resend.copy())
                resend.clear()
            self._wait_confirms(batch)
            fatal = [error for error in batch.errors.values() if not isinstance(error, RETRYABLE)]
            if fatal:
                raise fatal[0]
            if batch.errors:
                resend.extend(batch.messages[index] for index in sorted(batch.errors))
                raise _Resend(next(iter(batch.errors.values())))

        retrying = Retrying(retry=retry_if_exception_type(_Resend), wait=wait_exponential(multiplier=0.1, max=2.0),
                            stop=stop_after_delay(self._retry_for), reraise=True)
        try:
            retrying(confirmed)
        except _Resend as gave_up:
            raise gave_up.cause from None
        return total

    def _wait_confirms(self, batch: ConfirmBatch) -> None:
        """No confirm within `confirm_timeout` is an error, except while the broker blocks this
        connection (a memory or disk alarm): that is flow control, and it ends."""
        deadline = time.monotonic() + self._confirm_timeout
        warned = False
        while not batch.wait(0.5):
            if self._link.blocked:
                deadline = time.monotonic() + self._confirm_timeout
                if not warned:
                    log.warning("publish_blocked_by_broker", unconfirmed=len(batch.messages) - batch.settled)
                    warned = True
            elif time.monotonic() > deadline:
                raise PublishError(f"no confirm from RabbitMQ within {self._confirm_timeout:.0f}s")


def _chunks(items: Iterable[Outgoing], size: int) -> Iterator[list[Outgoing]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
