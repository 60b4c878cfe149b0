"""What a batch sends, its emits and its dead letters, published and confirmed before its ack.

A batch whose messages cannot be confirmed yet is held, never given up: giving up the channel
returns the whole prefetch to the queue, and a quorum queue counts every return against its
delivery limit (seen on RabbitMQ 3.10: closing a channel with a message unacked, nack and
reject with requeue all raise `x-delivery-count`), so repeated give-ups would dead-letter
healthy messages. Only a lost link (the broker redelivers whatever happens) or a shutdown
that cannot wait any longer ends a hold.
"""

from __future__ import annotations

import time
from typing import Callable

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from broker.confirms import ConfirmBatch
from broker.envelope import Outgoing
from broker.errors import ConnectionLost, LinkFailed
from broker.link import AmqpLink
from consumers.runtime.handler import Emit, Reply
from consumers.runtime.stopflag import StopFlag

log = structlog.get_logger(__name__)

SLOW_CONFIRM_S = 10.0
MAX_HOLD_BACKOFF_S = 5.0


class _Held(Exception):
    """Some messages of a batch came back unroutable or nacked: the batch is held."""

    def __init__(self, reason: str, count: int):
        super().__init__(reason)
        self.reason = reason
        self.count = count


def envelope(emit: Emit, expects_subscriber: Callable[[str, str], bool]) -> Outgoing:
    """A domain message's AMQP envelope: mandatory where the topology binds a queue to its route
    (`expects_subscriber(exchange, routing_key)`, e.g. `Topology.expects_subscriber`)."""
    if isinstance(emit, Reply):
        return Outgoing.of(emit.message, routing_key=emit.reply_to, correlation_id=emit.to.correlation_id,
                           mandatory=False)
    return Outgoing.of(emit, mandatory=expects_subscriber(emit.exchange.name, emit.routing_key()))


class Outbox:
    def __init__(self, link: AmqpLink, stop: StopFlag, *, consumer: str, queue: str, drain_timeout_s: float):
        self._link = link
        self._stop = stop
        self._log = log.bind(consumer=consumer, queue=queue)
        self._drain_timeout_s = drain_timeout_s

    def send(self, outgoing: list[Outgoing]) -> bool:
        """True once the broker confirmed every message; False if the link was lost or a
        shutdown cannot wait any longer. Unroutable or nacked messages are retried with backoff."""
        if not outgoing:
            return True
        pending = [outgoing]

        def settled() -> bool:
            batch = self._link.publish(pending[0])
            if not self._confirmed(batch):
                return False
            if not batch.errors:
                return True
            if any(isinstance(error, (ConnectionLost, LinkFailed)) for error in batch.errors.values()):
                return False
            pending[0] = [pending[0][index] for index in sorted(batch.errors)]
            raise _Held(str(next(iter(batch.errors.values()))), len(batch.errors))

        retrying = Retrying(retry=retry_if_exception_type(_Held), wait=wait_exponential(0.2, max=MAX_HOLD_BACKOFF_S),
                            stop=lambda _state: self._stop.is_set(), sleep=self._stop.wait,
                            before_sleep=self._log_held, reraise=True)
        try:
            return retrying(settled)
        except _Held:  # a shutdown while held
            return False

    def _log_held(self, state: RetryCallState) -> None:
        held = state.outcome.exception()
        self._log.error("emit_failed", error=held.reason, held=held.count,
                        retry_in_s=round(state.next_action.sleep, 1))

    def _confirmed(self, batch: ConfirmBatch) -> bool:
        """Wait for the confirms for as long as the link lives (a lost link settles the batch with
        ConnectionLost), but no longer than the drain timeout once a stop was requested."""
        started = time.monotonic()
        warn_at = started + SLOW_CONFIRM_S
        give_up_at = None
        while not batch.wait(0.1):
            now = time.monotonic()
            if self._stop.is_set():
                give_up_at = give_up_at or now + self._drain_timeout_s
                if now >= give_up_at:
                    self._log.warning("confirm_wait_abandoned", unconfirmed=len(batch.messages) - batch.settled)
                    return False
            if now >= warn_at:
                self._log.warning("confirm_wait_slow", waited_s=round(now - started), blocked=self._link.blocked,
                                  unconfirmed=len(batch.messages) - batch.settled)
                warn_at = now + SLOW_CONFIRM_S
        return True
