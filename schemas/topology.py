"""Exchanges, queues and bindings as data: the single place the fleet's topology is written down.

Declaring it (over AMQP) lives with the AMQP link; this module only describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str = "topic"


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's queue, its bindings, and its dead-letter queue `<name>.dead`."""

    name: str
    exchange: Exchange
    routing_keys: tuple[str, ...]
    extra_arguments: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead"


@dataclass(frozen=True)
class QueuePolicy:
    """How queues are created: type and (quorum only) the broker-side delivery limit."""

    queue_type: str = "quorum"
    delivery_limit: int = 20

    def arguments(self, spec: QueueSpec) -> dict:
        args = {
            "x-queue-type": self.queue_type,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": spec.dead_letter_queue,
        }
        if self.queue_type == "quorum":
            # Without an explicit limit, RabbitMQ 3.10 redelivers a poison message forever.
            args["x-delivery-limit"] = self.delivery_limit
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
        return {**args, **spec.extra_arguments}

    def dead_letter_arguments(self) -> dict:
        return {"x-queue-type": self.queue_type}


TELEPHONY = Exchange("telephony")

CALL_PAIRING = QueueSpec("call-pairing", TELEPHONY, ("call.start", "call.end"))
BILLING = QueueSpec("billing", TELEPHONY, ("call.completed",))
BILL_REQUESTS = QueueSpec("bill-requests", TELEPHONY, ("bill.requested",))

EXCHANGES: tuple[Exchange, ...] = (TELEPHONY,)
QUEUES: tuple[QueueSpec, ...] = (CALL_PAIRING, BILLING, BILL_REQUESTS)
