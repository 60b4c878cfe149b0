"""The publisher API: persistent messages, pipelined publisher confirms, mandatory routing.

    with Publisher(amqp_url) as publisher:
        publisher.publish(message)               # returns once the broker confirmed it
        publisher.publish_many(messages)         # a window of unconfirmed messages in flight

A message lost with the connection before its confirm is published again with the same
message_id once the link is back, so consumers can recognize the duplicate.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Callable, Iterable, Iterator

from producers.errors import ConnectionLost, Nacked, PublishError
from producers.link import AmqpLink
from producers.outgoing import ConfirmBatch, Outgoing
from schemas.base import Message

RETRYABLE = (ConnectionLost, Nacked)


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
        self._link = AmqpLink(amqp_url, name=name, app_id=app_id).start()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    @property
    def connections_made(self) -> int:
        """How many times the link connected (more than 1 means it recovered)."""
        return self._link.generation

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
        if not self._link.wait_ready(self._connect_timeout):
            raise ConnectionLost(f"RabbitMQ not reachable within {self._connect_timeout:.0f}s")
        return self._link.publish(chunk)

    def _settle(self, batch: ConfirmBatch) -> int:
        """Wait for a chunk's confirms, republishing what the connection lost. Returns its size."""
        total = len(batch.messages)
        give_up_at = time.monotonic() + self._retry_for
        delay = 0.1
        while True:
            if not batch.wait(self._confirm_timeout):
                raise PublishError(f"no confirm from RabbitMQ within {self._confirm_timeout:.0f}s")
            fatal = [e for e in batch.errors.values() if not isinstance(e, RETRYABLE)]
            if fatal:
                raise fatal[0]
            retry = [batch.messages[i] for i in sorted(batch.errors)]
            if not retry:
                return total
            if time.monotonic() > give_up_at:
                raise next(iter(batch.errors.values()))
            time.sleep(delay)  # back off before republishing after a nack or a lost connection
            delay = min(delay * 2, 2.0)
            batch = self._send(retry)


def _chunks(items: Iterable[Outgoing], size: int) -> Iterator[list[Outgoing]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
