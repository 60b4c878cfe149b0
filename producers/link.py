"""One AMQP connection on its own I/O thread (pika SelectConnection), recovered with backoff.

The I/O thread services heartbeats whatever the caller's threads are doing, owns a confirm-
mode channel for publishing, and re-runs the declarations and the `on_ready` hook (used by
the consumer runtime to restore QoS and consumers) after every reconnect. Other threads act
on it only through `call_soon`.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence

import pika
import structlog
from pika.adapters.select_connection import IOLoop, SelectConnection

from producers.confirms import ConfirmTracker
from producers.declare import Declaration, declare_async
from producers.errors import ConnectionLost
from producers.outgoing import ConfirmBatch, Outgoing

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 5.0


class AmqpLink:
    def __init__(
        self,
        url: str,
        *,
        name: str,
        app_id: str = "switchboard",
        heartbeat: int = 30,
        declarations: Sequence[Declaration] = (),
        on_ready: Callable[[SelectConnection, int], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ):
        self._parameters = pika.URLParameters(url)
        self._parameters.heartbeat = heartbeat
        self._parameters.client_properties = {"connection_name": name}
        self._name = name
        self._declarations = list(declarations)
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._confirms = ConfirmTracker(app_id, self._parameters.credentials.username)
        self._ioloop = IOLoop()
        self._connection: SelectConnection | None = None
        self._thread = threading.Thread(target=self._run, name=f"amqp-{name}", daemon=True)
        self._ready = threading.Event()
        self._stopping = False
        self._backoff = 0.0
        self.generation = 0

    # -- public, thread-safe -------------------------------------------------------------

    def start(self) -> "AmqpLink":
        self._ioloop.add_callback_threadsafe(self._connect)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def call_soon(self, callback: Callable[[], None]) -> None:
        self._ioloop.add_callback_threadsafe(callback)

    def publish(self, messages: list[Outgoing]) -> ConfirmBatch:
        batch = ConfirmBatch(messages)
        if messages:
            self.call_soon(lambda: self._confirms.publish(batch))
        return batch

    def reconnect(self) -> None:
        """Drop the connection and make a new one: the broker redelivers everything unacked."""
        self.call_soon(self._force_reconnect)

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        self.call_soon(self._shutdown)
        self._thread.join(timeout)

    # -- I/O thread ----------------------------------------------------------------------

    def _run(self) -> None:
        self._ioloop.start()

    def _connect(self) -> None:
        if self._stopping:
            return
        self._connection = SelectConnection(
            parameters=self._parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_publish_channel)

    def _on_publish_channel(self, channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        declare_async(channel, self._declarations, lambda: self._select_confirms(channel))

    def _select_confirms(self, channel) -> None:
        channel.confirm_delivery(self._confirms.on_confirm, callback=lambda _f: self._became_ready(channel))

    def _became_ready(self, channel) -> None:
        self._confirms.attach(channel)
        self.generation += 1
        self._backoff = 0.0
        log.info("amqp_connected", link=self._name, host=self._parameters.host,
                 vhost=self._parameters.virtual_host, generation=self.generation)
        if self._on_ready is not None:
            self._on_ready(self._connection, self.generation)
        self._ready.set()

    def _on_channel_closed(self, _channel, reason) -> None:
        # A channel error (e.g. a declaration that conflicts) leaves the link half-working:
        # reset the whole connection so every channel is rebuilt together.
        if self._connection is not None and self._connection.is_open and not self._stopping:
            log.error("amqp_channel_closed", link=self._name, error=str(reason))
            self._connection.close()

    def _on_open_error(self, _connection, error) -> None:
        log.warning("amqp_connect_failed", link=self._name, error=str(error))
        self._schedule_reconnect()

    def _on_closed(self, _connection, reason) -> None:
        self._ready.clear()
        self._confirms.detach(str(reason))
        if self._on_lost is not None:
            self._on_lost()
        if self._stopping:
            self._ioloop.stop()
            return
        log.warning("amqp_connection_lost", link=self._name, error=str(reason))
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._stopping:
            self._ioloop.stop()
            return
        self._backoff = min(MAX_BACKOFF_S, max(0.2, self._backoff * 2))
        self._ioloop.call_later(self._backoff, self._connect)

    def _force_reconnect(self) -> None:
        if self._connection is not None and self._connection.is_open:
            log.warning("amqp_reconnecting", link=self._name)
            self._connection.close()

    def _shutdown(self) -> None:
        self._stopping = True
        if self._connection is not None and (self._connection.is_open or self._connection.is_opening):
            self._connection.close()
        else:
            self._confirms.detach("link stopped")
            self._ioloop.stop()


__all__ = ["AmqpLink", "ConnectionLost"]
