"""The consuming side of the link: a channel with QoS and a consumer, feeding a thread-safe inbox.

Everything prefixed `_on` runs on the link's I/O thread; the worker thread only reads the
buffer and asks for acks through the link, tagged with the generation of the channel the
delivery came from (an ack for a channel that no longer exists must not be sent).

When the broker cancels the consumer (its queue deleted, its node gone), the queue is
declared again and consumed again on the same channel, so the batch in hand can still be
acked. If the declaration is refused, the channel closes and the link decides: rebuild the
connection, or give up for good.

The broker does not always say so: see consumers/runtime/attachment.py.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import structlog

from broker.declare import Declaration, declare_async
from broker.link import AmqpLink

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
    def __init__(self, queue_name: str, prefetch: int, declarations: Sequence[Declaration], attached_gauge=None):
        self.queue_name = queue_name
        self.prefetch = prefetch
        self.buffer: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self.generation = 0
        self.broker_cancels = 0

        self.link: AmqpLink | None = None  # set by the worker once the link exists
        self._attached_gauge = attached_gauge
        self._declarations = list(declarations)
        self._channel = None
        self._consumer_tag: str | None = None
        self._declaring = False
        self._cancelling = False
        self._cancelled = threading.Event()

    # -- hooks for AmqpLink (I/O thread) -------------------------------------------------

    def on_ready(self, connection, generation: int) -> None:
        connection.channel(on_open_callback=lambda channel: self._on_channel(channel, generation))

    def on_lost(self) -> None:
        self._channel = None
        self._set_consumer_tag(None)

    def _on_channel(self, channel, generation: int) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_cancel_callback(self._on_broker_cancel)
        channel.basic_qos(prefetch_count=self.prefetch, callback=lambda _f: self._on_qos(channel, generation))

    def _on_qos(self, channel, generation: int) -> None:
        self._channel = channel
        self.generation = generation
        self._cancelled.clear()
        self._consume(channel, generation)

    def _consume(self, channel, generation: int) -> None:
        self._declaring = False
        if self._cancelling or not channel.is_open:
            return
        def on_message(_channel, method, props, body) -> None:
            self.buffer.put(Delivery(generation, method.delivery_tag, method.exchange, method.routing_key,
                                     method.redelivered, props, body))

        self._set_consumer_tag(channel.basic_consume(self.queue_name, on_message_callback=on_message))
        log.info("consumer_started", queue=self.queue_name, prefetch=self.prefetch, generation=generation)

    def _on_broker_cancel(self, _frame) -> None:
        channel = self._channel
        self._set_consumer_tag(None)
        if self._cancelling or channel is None or not channel.is_open:
            return
        self.broker_cancels += 1
        log.warning("consumer_cancelled_by_broker", queue=self.queue_name, cancels=self.broker_cancels)
        self._declaring = True
        declare_async(channel, self._declarations, lambda: self._consume(channel, self.generation))

    def _on_channel_closed(self, _channel, reason) -> None:
        # e.g. a consumer timeout, or a refused re-declaration: the link decides what follows.
        self._channel = None
        self._set_consumer_tag(None)
        self.link.on_channel_closed(reason, declaring=self._declaring)

    def _set_consumer_tag(self, tag: str | None) -> None:
        self._consumer_tag = tag
        if self._attached_gauge is not None:
            self._attached_gauge.set(0 if tag is None else 1)

    def _ack(self, generation: int, tag: int) -> None:
        if generation != self.generation or self._channel is None or not self._channel.is_open:
            log.warning("ack_skipped_channel_gone", queue=self.queue_name, delivery_tag=tag)
            return
        self._channel.basic_ack(tag, multiple=True)

    def _cancel(self) -> None:
        self._cancelling = True
        channel, tag = self._channel, self._consumer_tag
        if channel is None or not channel.is_open or tag is None or tag not in channel.consumer_tags:
            self._cancelled.set()
            return
        channel.basic_cancel(tag, callback=lambda _f: (self._set_consumer_tag(None), self._cancelled.set()))

    # -- worker thread -------------------------------------------------------------------

    def ack_through(self, delivery: Delivery) -> None:
        """Ack `delivery` and every earlier delivery of its channel (basic.ack multiple)."""
        self.link.call_soon(lambda: self._ack(delivery.generation, delivery.tag))

    @property
    def consumer_tag(self) -> str | None:
        return self._consumer_tag

    @property
    def attached(self) -> bool:
        """The broker acknowledged this consumer and has not cancelled it since."""
        return self._consumer_tag is not None

    def cancel(self, timeout: float) -> bool:
        """Stop the broker sending more; True once it confirmed (basic.cancel-ok)."""
        self.link.call_soon(self._cancel)
        return self._cancelled.wait(timeout)
