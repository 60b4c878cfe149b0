"""Publisher-confirm bookkeeping for one confirm-mode channel. Runs on the I/O thread only."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Callable

from pika.channel import Channel
from pika.spec import Basic

from broker.envelope import Outgoing
from broker.errors import ConnectionLost, Nacked, Unroutable

Route = tuple[str, str, str]  # (exchange, routing_key, message_id): all a basic.return tells


@dataclass(eq=False)  # identity, not content: batches are tracked in sets
class ConfirmBatch:
    """Confirmation state of a group of publishes, settled by the I/O thread."""

    messages: list[Outgoing]
    errors: dict[int, Exception] = field(default_factory=dict)
    settled: int = 0
    on_settled: Callable[[float], None] | None = None  # called with the seconds it took
    on_done: Callable[[], None] | None = None  # called once settled or failed, on the settling thread

    def __post_init__(self) -> None:
        self._done = threading.Event()
        self._started = time.monotonic()
        if not self.messages:
            self._set_done()

    def settle(self, index: int, error: Exception | None = None) -> None:
        if error is not None:
            self.errors[index] = error
        self.settled += 1
        if self.settled >= len(self.messages):
            if self.on_settled is not None:
                self.on_settled(time.monotonic() - self._started)
            self._set_done()

    def fail_unsettled(self, error: Exception) -> None:
        """Called when the link is gone for good: wake whoever waits on this batch."""
        for index in range(len(self.messages)):
            self.errors.setdefault(index, error)
        self._set_done()

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _set_done(self) -> None:
        if not self._done.is_set():
            self._done.set()
            if self.on_done is not None:
                self.on_done()


class ConfirmTracker:
    """Maps delivery tags to (batch, index) and settles them on basic.ack / basic.nack.

    A mandatory message nothing is bound to comes back as basic.return *before* its ack on
    the same channel. The return carries no delivery tag, so it is matched to the oldest
    unconfirmed mandatory publish with the same exchange, routing key and message id, and
    remembered by that publish's tag until the ack settles it. (Two unconfirmed publishes with
    the same route and id are equally routable, short of a binding change between them.)
    Returns are rare, so the search happens when one arrives; publishing pays nothing for it.
    """

    def __init__(self, app_id: str, user_id: str | None):
        self._app_id = app_id
        self._user_id = user_id
        self._channel: Channel | None = None
        self._next_tag = 1
        self._pending: OrderedDict[int, tuple[ConfirmBatch, int]] = OrderedDict()
        self._returned: dict[int, str] = {}

    @property
    def attached(self) -> bool:
        return self._channel is not None

    def attach(self, channel: Channel) -> None:
        """Call once the channel is in confirm mode (after Confirm.SelectOk)."""
        self._channel = channel
        self._next_tag = 1
        channel.add_on_return_callback(self._on_return)

    def on_confirm(self, frame) -> None:
        method = frame.method
        if method.multiple:
            # Pending tags are in publish order, ascending: stop at the first one not covered.
            tags = list(takewhile(lambda tag: tag <= method.delivery_tag, self._pending))
        else:
            tags = [method.delivery_tag]
        nacked = isinstance(method, Basic.Nack)
        for tag in tags:
            entry = self._pending.pop(tag, None)
            if entry is not None:
                self._settle(tag, *entry, nacked)

    def _settle(self, tag: int, batch: ConfirmBatch, index: int, nacked: bool) -> None:
        message = batch.messages[index]
        reason = self._returned.pop(tag, None) if self._returned else None
        if nacked:
            batch.settle(index, Nacked(f"broker nacked message {message.message_id}"))
        elif reason is not None:
            batch.settle(index, Unroutable(message.exchange, message.routing_key, reason))
        else:
            batch.settle(index)

    def _on_return(self, _channel, method, properties, _body) -> None:
        route = (method.exchange, method.routing_key, properties.message_id)
        for tag, (batch, index) in self._pending.items():  # oldest first
            message = batch.messages[index]
            if message.mandatory and tag not in self._returned and _route(message) == route:
                self._returned[tag] = f"{method.reply_code} {method.reply_text}"
                return

    def publish(self, batch: ConfirmBatch) -> None:
        if self._channel is None or not self._channel.is_open:
            for index in range(len(batch.messages)):
                batch.settle(index, ConnectionLost("no open channel"))
            return
        for index, message in enumerate(batch.messages):
            tag = self._next_tag
            self._next_tag += 1
            self._pending[tag] = (batch, index)
            self._channel.basic_publish(
                message.exchange,
                message.routing_key,
                message.body,
                message.properties(self._app_id, self._user_id),
                mandatory=message.mandatory,
            )

    def detach(self, error: Exception) -> None:
        """The channel is gone: everything unconfirmed may or may not have arrived."""
        self._channel = None
        pending, self._pending = self._pending, OrderedDict()
        self._returned.clear()
        for batch, index in pending.values():
            batch.settle(index, error)


def _route(message: Outgoing) -> Route:
    return (message.exchange, message.routing_key, message.message_id)
