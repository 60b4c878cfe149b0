"""The consumer loop: collect a batch, process it, publish what it emits, then ack.

Order per batch, which is what makes effects exactly-once under at-least-once delivery:
commit the transaction -> publish emits and dead letters, wait for their confirms ->
ack every delivery of the batch with one basic.ack(multiple). A crash anywhere before the
ack redelivers the batch; the handlers' writes are idempotent.
"""

from __future__ import annotations

import queue
import signal
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import structlog
from sqlalchemy.engine import Engine

from broker.declare import declarations
from broker.envelope import Outgoing
from broker.link import AmqpLink
from broker.management import Management
from consumers.runtime import exits
from consumers.runtime.attachment import AttachmentCheck
from consumers.runtime.deadletter import dead_letter
from consumers.runtime.decoding import decode
from consumers.runtime.handler import ConsumerSpec
from consumers.runtime.inbox import Delivery, Inbox
from consumers.runtime.metrics import ConsumerMetrics
from consumers.runtime.outbox import Outbox, envelope
from consumers.runtime.processing import Abandoned, BatchProcessor
from consumers.runtime.stopflag import StopFlag
from schemas.topology import FLEET, QueuePolicy, Topology

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
    drain_timeout_s: float = 10.0
    reconnect_budget_s: float = 300.0
    app_id: str = "switchboard"
    policy: QueuePolicy = QueuePolicy()
    topology: Topology = FLEET
    management_url: str | None = None  # the broker's management API: checks the consumer is attached


class ConsumerWorker:
    def __init__(self, spec: ConsumerSpec, *, amqp_url: str, engine: Engine, options: RuntimeOptions):
        self._spec = spec
        self._options = options
        self._stop = StopFlag()
        self._log = log.bind(consumer=spec.name, queue=spec.queue.name)
        self._metrics = ConsumerMetrics(spec.name, spec.queue.name)
        # Asked for every emitted message; a consumer emits on a handful of routes.
        self._expects_subscriber = lru_cache(maxsize=256)(options.topology.expects_subscriber)
        items = declarations([spec.queue], options.policy, [message.exchange for message in spec.emits], streams=False)
        self._inbox = Inbox(spec.queue.name, options.prefetch, items, attached_gauge=self._metrics.attached)
        self._link = AmqpLink(
            amqp_url,
            name=f"consumer-{spec.name}",
            app_id=options.app_id,
            heartbeat=options.heartbeat_s,
            declarations=items,
            on_ready=self._inbox.on_ready,
            on_lost=self._inbox.on_lost,
            reconnect_budget_s=options.reconnect_budget_s,
        )
        self._inbox.link = self._link
        self._outbox = Outbox(self._link, self._stop, consumer=spec.name, queue=spec.queue.name,
                              drain_timeout_s=options.drain_timeout_s)
        self._processor = BatchProcessor(spec, engine, attempts=options.handler_attempts, stop=self._stop,
                                         metrics=self._metrics)
        self._counts: Counter[str] = Counter()
        self._reported: Counter[str] = Counter()
        self._last_progress = time.monotonic()
        management = Management(options.management_url, amqp_url) if options.management_url else None
        self._attachment = AttachmentCheck(management, self._inbox, self._link)
        self._unsettled = False  # a batch was left unacked on a live channel: ack nothing more

    @property
    def stop_flag(self) -> StopFlag:
        return self._stop

    @property
    def link(self) -> AmqpLink:
        return self._link

    def readiness(self) -> dict[str, bool]:
        """What a readiness probe needs from the worker (the database is checked by the probe)."""
        return {"broker": self._link.ready, "consumer": self._inbox.attached}

    def stop(self, *_signal_args) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._stop.set)
        signal.signal(signal.SIGINT, self._stop.set)

    def run(self) -> int:
        self._log.info("consumer_starting")
        self._link.start()
        try:
            while not self._stop.is_set() and self._link.alive:
                batch = self._collect(block=True)
                self._process(batch)
                self._report_progress()
                self._attachment.after_batch(busy=bool(batch))
            if self._link.alive and not self._unsettled:
                self._drain()
        finally:
            self._link.stop()
        code = exits.for_link_failure(self._link.failure)
        if code != exits.OK:
            self._log.error("consumer_exiting", exit_code=code, error=str(self._link.failure))
        self._log.info("consumer_stopped", exit_code=code, broker_cancels=self._inbox.broker_cancels, **self._counts)
        return code

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
            self._log.warning("batch_abandoned", batch_size=len(batch), error=str(error))
            return self._not_settled(batch)
        dead.extend((valid[index][0], reason) for index, reason in result.rejected.items())
        outgoing = [envelope(emit, self._expects_subscriber) for emit in result.emits]
        outgoing += [self._dead_letter(delivery, reason) for delivery, reason in dead]
        if not self._outbox.send(outgoing):
            return self._not_settled(batch)
        self._inbox.ack_through(batch[-1])
        self._record(batch, len(dead), time.perf_counter() - started)
        return True

    def _record(self, batch: list[Delivery], dead: int, seconds: float) -> None:
        self._counts.update(messages=len(batch), dead_lettered=dead, batches=1)
        self._metrics.acked.inc(len(batch) - dead)
        self._metrics.dead_lettered.inc(dead)
        self._metrics.redelivered.inc(sum(delivery.redelivered for delivery in batch))
        self._metrics.batch_seconds.observe(seconds)
        self._metrics.batch_size.observe(len(batch))
        self._log.debug("batch_done", batch_size=len(batch), dead_lettered=dead, duration_ms=round(seconds * 1000, 1))

    def _not_settled(self, batch: list[Delivery]) -> bool:
        """A batch left unacked on a channel that is still open must not be covered by a later
        ack(multiple): this only happens on shutdown, so nothing more is acked, and closing the
        link returns it (once) to the queue."""
        if batch[-1].generation == self._inbox.generation and self._link.ready:
            self._unsettled = True
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
        self._log.warning("message_dead_lettered", routing_key=delivery.routing_key,
                          message_id=delivery.properties.message_id, error=reason)
        return dead_letter(delivery, consumer=self._spec.name,
                           dead_letter_queue=self._spec.queue.dead_letter_queue, reason=reason)

    def _drain(self) -> None:
        """Shutdown: stop the broker's flow, then finish what was already delivered."""
        if self._link.ready:
            self._inbox.cancel(timeout=self._options.drain_timeout_s)
        while batch := self._collect(block=False):
            if not self._process(batch):
                break  # the rest comes back to the queue when the link closes

    def _report_progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        if self._counts != self._reported:  # nothing happened: nothing to say
            self._reported = self._counts.copy()
            self._log.info("consumer_progress", **self._counts)
