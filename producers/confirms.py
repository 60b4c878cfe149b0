"""Publisher-confirm bookkeeping for one confirm-mode channel. Runs on the I/O thread only."""

from __future__ import annotations

from collections import OrderedDict
from itertools import takewhile

from pika.channel import Channel
from pika.spec import Basic

from producers.errors import ConnectionLost, Nacked, Unroutable
from producers.outgoing import ConfirmBatch


class ConfirmTracker:
    """Maps delivery tags to (batch, index) and settles them on basic.ack / basic.nack.

    A mandatory message nothing is bound to comes back as basic.return *before* its ack on
    the same channel, so returns are remembered by message id until the ack arrives.
    """

    def __init__(self, app_id: str, user_id: str | None):
        self._app_id = app_id
        self._user_id = user_id
        self._channel: Channel | None = None
        self._next_tag = 1
        self._pending: OrderedDict[int, tuple[ConfirmBatch, int]] = OrderedDict()
        self._returned: dict[str, str] = {}

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
                self._settle(*entry, nacked)

    def _settle(self, batch: ConfirmBatch, index: int, nacked: bool) -> None:
        message = batch.messages[index]
        reason = self._returned.pop(message.message_id, None)
        if nacked:
            batch.settle(index, Nacked(f"broker nacked message {message.message_id}"))
        elif reason is not None:
            batch.settle(index, Unroutable(message.exchange, message.routing_key, reason))
        else:
            batch.settle(index)

    def _on_return(self, _channel, method, properties, _body) -> None:
        self._returned[properties.message_id] = f"{method.reply_code} {method.reply_text}"

    def publish(self, batch: ConfirmBatch) -> None:
        if self._channel is None or not self._channel.is_open:
            for index in range(len(batch.messages)):
                batch.settle(index, ConnectionLost("no open channel"))
            return
        for index, message in enumerate(batch.messages):
            self._pending[self._next_tag] = (batch, index)
            self._next_tag += 1
            self._channel.basic_publish(
                message.exchange,
                message.routing_key,
                message.body,
                message.properties(self._app_id, self._user_id),
                mandatory=message.mandatory,
            )

    def detach(self, reason: str) -> None:
        """The channel is gone: everything unconfirmed may or may not have arrived."""
        self._channel = None
        pending, self._pending = self._pending, OrderedDict()
        self._returned.clear()
        for batch, index in pending.values():
            batch.settle(index, ConnectionLost(reason))
