"""The consuming side of the link: a channel with QoS and a consumer, feeding a thread-safe inbox.

Everything prefixed `_on` runs on the link's I/O thread; the worker thread only reads the
buffer and asks for acks through the link, tagged with the generation of the channel the
delivery came from (an ack for a channel that no longer exists must not be sent).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from producers.link import AmqpLink

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Delivery:
    generation: int
    tag: int
    exchange: str
    routing_key: str
    redelivered: bool
    properties: Any
    body: bytes
    received_at: float = field(default_factory=time.monotonic)  # when the I/O thread got it


class Inbox:
    def __init__(self, queue_name: str, prefetch: int):
        self.queue_name = queue_name
        self.prefetch = prefetch
        self.buffer: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self.generation = 0
        self._channel = None
        self._consumer_tag: str | None = None
        self._cancelled = threading.Event()

    # -- hooks for AmqpLink (I/O thread) -------------------------------------------------

    def on_ready(self, connection, generation: int) -> None:
        connection.channel(on_open_callback=lambda channel: self._on_channel(channel, generation))

    def on_lost(self) -> None:
        self._channel = None

    def _on_channel(self, channel, generation: int) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.basic_qos(prefetch_count=self.prefetch, callback=lambda _f: self._on_qos(channel, generation))

    def _on_qos(self, channel, generation: int) -> None:
        self._channel = channel
        self.generation = generation
        self._cancelled.clear()
        self._consumer_tag = channel.basic_consume(
            self.queue_name, on_message_callback=lambda _ch, method, props, body: self.buffer.put(
                Delivery(generation, method.delivery_tag, method.exchange, method.routing_key,
                         method.redelivered, props, body)
            ),
        )
        log.info("consumer_started", queue=self.queue_name, prefetch=self.prefetch, generation=generation)

    def _on_channel_closed(self, channel, reason) -> None:
        # e.g. the queue was deleted: rebuild the whole connection, topology and consumer.
        self._channel = None
        if channel.connection.is_open:
            log.error("consumer_channel_closed", queue=self.queue_name, error=str(reason))
            channel.connection.close()

    def _ack(self, generation: int, tag: int) -> None:
        if generation != self.generation or self._channel is None or not self._channel.is_open:
            log.warning("ack_skipped_channel_gone", queue=self.queue_name, delivery_tag=tag)
            return
        self._channel.basic_ack(tag, multiple=True)

    def _cancel(self) -> None:
        if self._channel is None or not self._channel.is_open or self._consumer_tag is None:
            self._cancelled.set()
            return
        self._channel.basic_cancel(self._consumer_tag, callback=lambda _f: self._cancelled.set())

    # -- worker thread -------------------------------------------------------------------

    def ack_through(self, link: AmqpLink, delivery: Delivery) -> None:
        """Ack `delivery` and every earlier delivery of its channel (basic.ack multiple)."""
        link.call_soon(lambda: self._ack(delivery.generation, delivery.tag))

    def cancel(self, link: AmqpLink, timeout: float) -> bool:
        """Stop the broker sending more; True once it confirmed (basic.cancel-ok)."""
        link.call_soon(self._cancel)
        return self._cancelled.wait(timeout)
