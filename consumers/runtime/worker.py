"""The consumer loop: collect a batch, process it, publish what it emits, then ack.

Order per batch, which is what makes effects exactly-once under at-least-once delivery:
commit the transaction -> publish emits and dead letters, wait for their confirms ->
ack every delivery of the batch with one basic.ack(multiple). A crash anywhere before the
ack redelivers the batch; the handlers' writes are idempotent.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import Engine

from consumers.runtime.deadletter import dead_letter
from consumers.runtime.decoding import decode
from consumers.runtime.handler import ConsumerSpec
from consumers.runtime.inbox import Delivery, Inbox
from consumers.runtime.processing import Abandoned, BatchProcessor
from producers.declare import declarations
from producers.errors import ConnectionLost
from producers.link import AmqpLink
from producers.outgoing import Outgoing
from schemas.topology import QueuePolicy

log = structlog.get_logger(__name__)

PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class RuntimeOptions:
    prefetch: int = 1000
    batch_size: int = 500
    batch_max_wait_s: float = 0.05
    handler_attempts: int = 3
    max_body_bytes: int = 256 * 1024
    heartbeat_s: int = 30
    confirm_timeout_s: float = 30.0
    drain_timeout_s: float = 10.0
    app_id: str = "switchboard"
    policy: QueuePolicy = QueuePolicy()


class ConsumerWorker:
    def __init__(self, spec: ConsumerSpec, *, amqp_url: str, engine: Engine, options: RuntimeOptions):
        self._spec = spec
        self._options = options
        self._stop = threading.Event()
        self._inbox = Inbox(spec.queue.name, options.prefetch)
        self._processor = BatchProcessor(spec, engine, attempts=options.handler_attempts, stop=self._stop)
        self._link = AmqpLink(
            amqp_url,
            name=f"consumer-{spec.name}",
            app_id=options.app_id,
            heartbeat=options.heartbeat_s,
            declarations=declarations([spec.queue], options.policy),
            on_ready=self._inbox.on_ready,
            on_lost=self._inbox.on_lost,
        )
        self._counts = {"messages": 0, "dead_lettered": 0, "batches": 0}
        self._last_progress = time.monotonic()

    def stop(self, *_args) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> int:
        log.info("consumer_starting", consumer=self._spec.name, queue=self._spec.queue.name)
        self._link.start()
        try:
            while not self._stop.is_set():
                self._process(self._collect(block=True))
                self._report_progress()
            self._drain()
        finally:
            self._link.stop()
        log.info("consumer_stopped", consumer=self._spec.name, **self._counts)
        return 0

    # -- batches -------------------------------------------------------------------------

    def _collect(self, block: bool) -> list[Delivery]:
        batch: list[Delivery] = []
        deadline = None
        while len(batch) < self._options.batch_size:
            try:
                if not block:
                    delivery = self._inbox.buffer.get_nowait()
                elif deadline is None:
                    delivery = self._inbox.buffer.get(timeout=0.2)
                else:
                    delivery = self._inbox.buffer.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if delivery.generation != self._inbox.generation:
                continue  # its channel is gone: the broker redelivers it on the new one
            batch.append(delivery)
            if deadline is None:
                # The wait counts from when the first message arrived, not from when this loop
                # got to it: a message that waited in the inbox during the previous batch has
                # used up its share of batch_max_wait already.
                deadline = delivery.received_at + self._options.batch_max_wait_s
        return batch

    def _process(self, batch: list[Delivery]) -> bool:
        """Handle, settle and ack one batch. False if it could not be settled."""
        if not batch:
            return True
        started = time.perf_counter()
        valid, dead = self._decode(batch)
        try:
            result = self._processor.run([incoming for _, incoming in valid])
        except Abandoned as error:
            log.warning("batch_abandoned", queue=self._spec.queue.name, batch_size=len(batch), error=str(error))
            return self._give_up_channel()
        dead.extend((valid[index][0], reason) for index, reason in result.rejected.items())
        outgoing = result.emits + [self._dead_letter(delivery, reason) for delivery, reason in dead]
        if not self._publish(outgoing):
            return self._give_up_channel()
        self._inbox.ack_through(self._link, batch[-1])
        self._counts["messages"] += len(batch)
        self._counts["dead_lettered"] += len(dead)
        self._counts["batches"] += 1
        log.debug("batch_done", queue=self._spec.queue.name, batch_size=len(batch),
                  dead_lettered=len(dead), duration_ms=round((time.perf_counter() - started) * 1000, 1))
        return True

    def _give_up_channel(self) -> bool:
        """An unsettled batch stays unacked, so no later ack(multiple) on its channel may cover
        it: drop the connection and let the broker redeliver everything the channel held."""
        self._link.reconnect()
        return False

    def _decode(self, batch: list[Delivery]):
        valid, dead = [], []
        for delivery in batch:
            decoded = decode(self._spec, delivery, self._options.max_body_bytes)
            if isinstance(decoded, str):
                dead.append((delivery, decoded))
            else:
                valid.append((delivery, decoded))
        return valid, dead

    def _dead_letter(self, delivery: Delivery, reason: str) -> Outgoing:
        log.warning("message_dead_lettered", queue=self._spec.queue.name, routing_key=delivery.routing_key,
                    message_id=delivery.properties.message_id, error=reason)
        return dead_letter(delivery, consumer=self._spec.name,
                           dead_letter_queue=self._spec.queue.dead_letter_queue, reason=reason)

    def _publish(self, outgoing: list[Outgoing]) -> bool:
        """Publish and wait for confirms. False if they cannot be had: link lost, confirm timeout,
        or a shutdown while the broker refuses them (the caller gives the channel up)."""
        delay = 0.2
        while outgoing:
            confirm = self._link.publish(outgoing)
            if not confirm.wait(self._options.confirm_timeout_s):
                log.error("confirm_timeout", queue=self._spec.queue.name, batch_size=len(outgoing))
                return False
            if not confirm.errors:
                return True
            if any(isinstance(e, ConnectionLost) for e in confirm.errors.values()):
                return False
            # Unroutable or nacked: the topology is wrong or the broker refuses; hold the batch.
            log.error("emit_failed", queue=self._spec.queue.name, error=str(next(iter(confirm.errors.values()))))
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, 5.0)
            outgoing = [outgoing[i] for i in sorted(confirm.errors)]
        return True

    def _drain(self) -> None:
        """Shutdown: stop the broker's flow, then finish what was already delivered."""
        if self._link.ready:
            self._inbox.cancel(self._link, timeout=self._options.drain_timeout_s)
        while batch := self._collect(block=False):
            if not self._process(batch):
                break  # the rest comes back to the queue with the dropped channel

    def _report_progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_EVERY_S:
            self._last_progress = now
            log.info("consumer_progress", consumer=self._spec.name, queue=self._spec.queue.name, **self._counts)
