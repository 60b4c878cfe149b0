"""Prometheus metrics of a consumer, labelled by consumer and queue (no per-message labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "switchboard_messages", "Messages settled, by outcome: acked (effect committed) or dead_lettered",
    ["consumer", "queue", "outcome"])
REDELIVERED = Counter(
    "switchboard_messages_redelivered", "Deliveries the broker marked as redelivered", ["consumer", "queue"])
BATCH_SECONDS = Histogram(
    "switchboard_batch_duration_seconds", "From decoding a batch to its ack (handler, commit, confirms)",
    ["consumer", "queue"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
BATCH_SIZE = Histogram(
    "switchboard_batch_size_messages", "Messages per batch", ["consumer", "queue"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000))
HANDLER_ERRORS = Counter(
    "switchboard_handler_errors",
    "Failed transactions of a batch or part of one, by kind: outage, contention or message",
    ["consumer", "queue", "kind"])
DATABASE_CONNECTED = Gauge(
    "switchboard_database_connected", "1 after a transaction committed, 0 while the database is out", ["consumer"])
CONSUMER_ATTACHED = Gauge(
    "switchboard_consumer_attached", "1 while the broker delivers to this consumer", ["consumer", "queue"])


class ConsumerMetrics:
    """The metrics of one consumer, with its labels bound."""

    def __init__(self, consumer: str, queue: str):
        self.acked = MESSAGES.labels(consumer, queue, "acked")
        self.dead_lettered = MESSAGES.labels(consumer, queue, "dead_lettered")
        self.redelivered = REDELIVERED.labels(consumer, queue)
        self.batch_seconds = BATCH_SECONDS.labels(consumer, queue)
        self.batch_size = BATCH_SIZE.labels(consumer, queue)
        self.database = DATABASE_CONNECTED.labels(consumer)
        self.attached = CONSUMER_ATTACHED.labels(consumer, queue)
        self._errors = {kind: HANDLER_ERRORS.labels(consumer, queue, kind) for kind in ("outage", "contention", "message")}
        self.attached.set(0)

    def handler_error(self, kind: str) -> None:
        self._errors[kind].inc()
