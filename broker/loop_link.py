"""One AMQP connection on the running asyncio loop (pika's AsyncioConnection), for an asyncio
server that publishes with confirms: the HTTP gateway's collector.

`AmqpLink` runs pika on an I/O thread of its own, which suits blocking callers. An asyncio
server would instead hand every request's messages to that thread and be woken back by it:
two cross-thread wake-ups and a contended GIL per request, which cost the gateway more CPU
than publishing itself. Here pika's callbacks run on the server's own loop, so a request
publishes directly and awaits a future its confirms resolve.

It connects when first used and again after a loss, lazily: the requests themselves are the
retries, at most one connection attempt per `retry_interval_s`, and a request arriving in an
outage fails at once (`ConnectionLost`) instead of queueing behind it. What retrying cannot fix
(credentials refused, no permission) raises `LinkFailed`.
"""

from __future__ import annotations

import asyncio
import time

import pika
import structlog
from pika.adapters.asyncio_connection import AsyncioConnection

from broker.confirms import ConfirmBatch, ConfirmTracker
from broker.envelope import Outgoing
from broker.errors import ConnectionLost, LinkFailed, PublishError
from broker.metrics import BROKER_CONNECTED, CONFIRM_SECONDS
from broker.refusals import connect_error, is_login_refusal, refusal_on_channel, refusal_on_open

log = structlog.get_logger(__name__)


class LoopLink:
    def __init__(self, url: str, *, name: str, app_id: str = "switchboard", heartbeat: int = 30,
                 connect_timeout_s: float = 5.0, retry_interval_s: float = 1.0):
        self._parameters = pika.URLParameters(url)
        self._parameters.heartbeat = heartbeat
        self._parameters.client_properties = {"connection_name": name}
        self._name = name
        self._confirms = ConfirmTracker(app_id, self._parameters.credentials.username)
        self._connect_timeout_s = connect_timeout_s
        self._retry_interval_s = retry_interval_s
        self._connection: AsyncioConnection | None = None
        self._channel = None  # the confirm-mode channel publishes go to, once ready
        self._opening: asyncio.Future | None = None
        self._last_failure: tuple[float, Exception] | None = None
        self.failure: LinkFailed | None = None
        self._connected_gauge = BROKER_CONNECTED.labels(name)
        self._observe_confirm = CONFIRM_SECONDS.labels(name).observe

    @property
    def user(self) -> str:
        return self._parameters.credentials.username

    async def publish(self, messages: list[Outgoing], timeout_s: float) -> ConfirmBatch:
        """Publish and return once every message is settled: confirmed, or with its error in
        `batch.errors` (nacked, returned unroutable, lost with the connection)."""
        await self._connected()
        settled = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not settled.done():
                settled.set_result(None)

        batch = ConfirmBatch(messages, on_settled=self._observe_confirm, on_done=wake)
        self._confirms.publish(batch)
        try:
            await asyncio.wait_for(settled, timeout_s)
        except asyncio.TimeoutError:
            raise PublishError(f"no confirm from RabbitMQ within {timeout_s:.0f}s") from None
        return batch

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    async def _connected(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self._channel is not None:
            return
        if self._opening is None:
            if self._last_failure and time.monotonic() - self._last_failure[0] < self._retry_interval_s:
                raise ConnectionLost(f"RabbitMQ not reachable: {self._last_failure[1]}")
            self._opening = asyncio.get_running_loop().create_future()
            self._connect()
        try:
            await asyncio.wait_for(asyncio.shield(self._opening), self._connect_timeout_s)
        except asyncio.TimeoutError:
            raise ConnectionLost(f"RabbitMQ not reachable within {self._connect_timeout_s:.0f}s") from None

    def _connect(self) -> None:
        self._connection = AsyncioConnection(
            self._parameters, on_open_callback=self._on_open, on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed, custom_ioloop=asyncio.get_running_loop())

    def _on_open(self, connection: AsyncioConnection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._confirms.on_confirm, callback=lambda _frame: self._became_ready(channel))

    def _became_ready(self, channel) -> None:
        self._confirms.attach(channel)
        self._channel = channel
        self._last_failure = None
        self._connected_gauge.set(1)
        log.info("amqp_connected", link=self._name, host=self._parameters.host,
                 vhost=self._parameters.virtual_host)
        self._settle_opening(None)

    def _on_open_error(self, _connection, error: BaseException) -> None:
        refusal = refusal_on_open(error, self.user, self._parameters.virtual_host)
        if refusal is not None:
            self.failure = LinkFailed(refusal, kind=LinkFailed.LOGIN if is_login_refusal(error) else LinkFailed.REFUSED)
            self._settle_opening(self.failure)
            return
        cause = ConnectionLost(connect_error(error))
        log.warning("amqp_connect_failed", link=self._name, error=str(cause))
        self._last_failure = (time.monotonic(), cause)
        self._settle_opening(cause)

    def _on_channel_closed(self, channel, reason: BaseException) -> None:
        refusal = refusal_on_channel(reason, declaring=False, can_redeclare=False)
        if refusal is not None:
            self.failure = LinkFailed(refusal, kind=LinkFailed.REFUSED)
        if channel is self._channel:
            self._channel = None
            self._confirms.detach(self.failure or ConnectionLost(str(reason)))
        if channel.connection.is_open:
            channel.connection.close()

    def _on_closed(self, connection, reason: BaseException) -> None:
        if connection is not self._connection:
            return  # an earlier connection, replaced while it was closing
        self._connected_gauge.set(0)
        error = self.failure or ConnectionLost(str(reason))
        if self._channel is not None:
            self._channel = None
            self._confirms.detach(error)
        self._settle_opening(error)
        self._connection = None
        log.warning("amqp_connection_lost", link=self._name, error=str(reason))

    def _settle_opening(self, error: Exception | None) -> None:
        opening, self._opening = self._opening, None
        if opening is not None and not opening.done():
            if error is None:
                opening.set_result(None)
            else:
                opening.set_exception(error)
                opening.exception()  # retrieved: nobody may be awaiting it any more
