"""One AMQP connection on its own I/O thread (pika SelectConnection), recovered with backoff.

The I/O thread services heartbeats whatever the caller's threads are doing, owns a confirm-
mode channel for publishing, and re-runs the declarations and the `on_ready` hook (used by
the consumer runtime to restore QoS and consumers) after every reconnect. Other threads act
on it only through `call_soon`.

The link gives up for good, and says why in `failure`, when retrying cannot help: the broker
refused the credentials, the permissions, an exchange that does not exist or a conflicting
declaration; when it could not reconnect within its budget; or when its I/O thread died.
Whoever waits on it is woken with that failure.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from typing import Callable, Sequence

import pika
import structlog
from pika.adapters.select_connection import IOLoop, SelectConnection

from broker.confirms import ConfirmBatch, ConfirmTracker
from broker.declare import Declaration, declare_async
from broker.envelope import Outgoing
from broker.errors import ConnectionLost, LinkFailed
from broker.metrics import BROKER_BLOCKED, BROKER_CONNECTED, CONFIRM_SECONDS
from broker.refusals import connect_error, is_login_refusal, refusal_on_channel, refusal_on_open

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 5.0
MAX_LOSSES_IN_BUDGET = 20  # a link that keeps losing its connection is flapping, not recovering


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
        reconnect_budget_s: float = 300.0,
    ):
        self._parameters = pika.URLParameters(url)
        self._parameters.heartbeat = heartbeat
        self._parameters.client_properties = {"connection_name": name}
        self._name = name
        self._declarations = list(declarations)
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._budget_s = reconnect_budget_s
        self._confirms = ConfirmTracker(app_id, self._parameters.credentials.username)
        self._ioloop = IOLoop()
        self._connection: SelectConnection | None = None
        self._thread = threading.Thread(target=self._run, name=f"amqp-{name}", daemon=True)
        self._ready = threading.Event()  # also set when the link fails, to wake waiters
        self._batches: weakref.WeakSet[ConfirmBatch] = weakref.WeakSet()
        self._batches_lock = threading.Lock()
        self._stopping = False
        self._declaring = False
        self._backoff = 0.0
        self._reconnect_timer = None
        self._outage_since: float | None = None
        self._losses: deque[float] = deque()
        self.failure: LinkFailed | None = None
        self.blocked = False  # the broker blocks publishing connections during a resource alarm
        self.generation = 0
        self._connected_gauge = BROKER_CONNECTED.labels(name)
        self._blocked_gauge = BROKER_BLOCKED.labels(name)
        self._observe_confirm = CONFIRM_SECONDS.labels(name).observe
        self._connected_gauge.set(0)

    # -- public, thread-safe -------------------------------------------------------------

    def start(self) -> "AmqpLink":
        self._ioloop.add_callback_threadsafe(self._connect)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once connected and declared; raises `failure` if the link gave up."""
        ready = self._ready.wait(timeout)
        if self.failure is not None:
            raise self.failure
        return ready

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.failure is None

    @property
    def alive(self) -> bool:
        """Not given up: running, or not started yet."""
        return self.failure is None and (self._thread.is_alive() or self._thread.ident is None)

    @property
    def user(self) -> str:
        return self._parameters.credentials.username

    def call_soon(self, callback: Callable[[], None]) -> None:
        self._ioloop.add_callback_threadsafe(callback)

    def publish(self, messages: list[Outgoing]) -> ConfirmBatch:
        batch = ConfirmBatch(messages, on_settled=self._observe_confirm)
        if self.failure is not None:
            batch.fail_unsettled(self.failure)
        elif messages:
            with self._batches_lock:
                self._batches.add(batch)
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

    # -- for the consumer runtime's channel (I/O thread) --------------------------------

    def on_channel_closed(self, reason: BaseException, *, declaring: bool = False) -> None:
        """A channel the broker closed: give up if retrying cannot help, else rebuild the
        connection so every channel comes back together."""
        if self._stopping:
            return
        refusal = refusal_on_channel(reason, declaring=declaring, can_redeclare=bool(self._declarations))
        if refusal is not None:
            self._fail(refusal, LinkFailed.REFUSED)
        elif self._connection is not None and self._connection.is_open:
            log.error("amqp_channel_closed", link=self._name, error=str(reason))
            self._connection.close()

    # -- I/O thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._ioloop.start()
            self._ioloop.close()
        except BaseException as error:  # noqa: BLE001 - the watchdog: a dead I/O thread must be loud
            log.error("amqp_io_thread_died", link=self._name, error=f"{type(error).__name__}: {error}", exc_info=True)
            _close_socket(self._connection)
            self._give_up(LinkFailed(f"the AMQP I/O thread died: {type(error).__name__}: {error}",
                                    kind=LinkFailed.CRASHED))

    def _connect(self) -> None:
        self._reconnect_timer = None
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
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        connection.channel(on_open_callback=self._on_publish_channel)

    def _on_publish_channel(self, channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        self._declaring = True
        declare_async(channel, self._declarations, lambda: self._select_confirms(channel))

    def _select_confirms(self, channel) -> None:
        self._declaring = False
        channel.confirm_delivery(self._confirms.on_confirm, callback=lambda _f: self._became_ready(channel))

    def _became_ready(self, channel) -> None:
        self._confirms.attach(channel)
        self.generation += 1
        self._backoff = 0.0
        self._outage_since = None
        log.info("amqp_connected", link=self._name, host=self._parameters.host,
                 vhost=self._parameters.virtual_host, generation=self.generation)
        if self._on_ready is not None:
            self._on_ready(self._connection, self.generation)
        self._ready.set()
        self._connected_gauge.set(1)

    def _on_channel_closed(self, _channel, reason) -> None:
        self.on_channel_closed(reason, declaring=self._declaring)

    def _on_blocked(self, _connection, frame) -> None:
        self.blocked = True
        self._blocked_gauge.set(1)
        log.warning("amqp_connection_blocked", link=self._name, reason=getattr(frame.method, "reason", None))

    def _on_unblocked(self, _connection, _frame) -> None:
        self.blocked = False
        self._blocked_gauge.set(0)
        log.info("amqp_connection_unblocked", link=self._name)

    def _on_open_error(self, _connection, error) -> None:
        if self._stopping:
            self._finish()
            return
        refusal = refusal_on_open(error, self.user, self._parameters.virtual_host)
        if refusal is not None:
            self._fail(refusal, LinkFailed.LOGIN if is_login_refusal(error) else LinkFailed.REFUSED)
            return
        cause = connect_error(error)
        log.warning("amqp_connect_failed", link=self._name, error=cause)
        self._schedule_reconnect(cause)

    def _on_closed(self, _connection, reason) -> None:
        self._ready.clear()
        self.blocked = False
        self._connected_gauge.set(0)
        self._blocked_gauge.set(0)
        self._confirms.detach(self.failure or ConnectionLost(str(reason)))
        if self._on_lost is not None:
            self._on_lost()
        if self._stopping:
            self._finish()
            return
        log.warning("amqp_connection_lost", link=self._name, error=str(reason))
        self._losses.append(time.monotonic())
        self._schedule_reconnect(reason)

    def _schedule_reconnect(self, error) -> None:
        now = time.monotonic()
        self._outage_since = self._outage_since or now
        while self._losses and now - self._losses[0] > self._budget_s:
            self._losses.popleft()
        if now - self._outage_since > self._budget_s:
            self._fail(f"RabbitMQ not reachable for {self._budget_s:.0f}s (last error: {error})")
        elif len(self._losses) > MAX_LOSSES_IN_BUDGET:
            self._fail(f"connection lost {len(self._losses)} times in {self._budget_s:.0f}s (last error: {error})")
        else:
            self._backoff = min(MAX_BACKOFF_S, max(0.2, self._backoff * 2))
            self._reconnect_timer = self._ioloop.call_later(self._backoff, self._connect)

    def _force_reconnect(self) -> None:
        if self._connection is not None and self._connection.is_open:
            log.warning("amqp_reconnecting", link=self._name)
            self._connection.close()

    def _fail(self, reason: str, kind: str = LinkFailed.UNREACHABLE) -> None:
        log.error("amqp_link_failed", link=self._name, error=reason, kind=kind)
        self.failure = LinkFailed(reason, kind=kind)
        self._shutdown()

    def _shutdown(self) -> None:
        self._stopping = True
        if self._reconnect_timer is not None:
            self._ioloop.remove_timeout(self._reconnect_timer)
            self._reconnect_timer = None
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()
        elif connection is None or connection.is_closed or not connection.is_closing:
            # Closed, or still opening: pika 1.4 cannot abort a connection during its AMQP
            # handshake (close() and every abort path trip assertions inside pika), so the loop
            # just stops; the half-open socket closes with the connection object.
            self._connection = None
            self._finish()
        # else: closing already; _on_closed finishes

    def _finish(self) -> None:
        self._give_up(self.failure or ConnectionLost("link stopped"))
        self._ioloop.stop()

    def _give_up(self, error: Exception) -> None:
        """Fail everything still waiting on the link, and wake whoever waits for it to be ready."""
        self._confirms.detach(error)
        with self._batches_lock:
            waiting = [batch for batch in self._batches if not batch.done]
        for batch in waiting:
            batch.fail_unsettled(error)
        if isinstance(error, LinkFailed):
            self.failure = self.failure or error
            self._ready.set()


def _close_socket(connection: SelectConnection | None) -> None:
    """The I/O loop died, so nothing will close the connection: close its socket, or the broker
    keeps it (and its unacked messages) until the heartbeat times out. pika exposes no way to
    do this without its loop, hence the private attributes."""
    sock = getattr(getattr(connection, "_transport", None), "_sock", None)
    if sock is not None:
        sock.close()


__all__ = ["AmqpLink", "ConnectionLost", "LinkFailed"]
