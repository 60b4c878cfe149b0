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
    archived: bool = True  # what reaches this queue also goes to its exchange's archive

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead"


@dataclass(frozen=True)
class ArchivePolicy:
    """Every exchange also feeds a stream `<exchange>.archive`, which `switchboard replay` reads.

    The stream is bound to the routing keys the fleet's queues bind on that exchange, not to `#`:
    a message with a routing key nothing expects stays unroutable, so `mandatory` still reports
    it. A replay goes through the twin exchange `<exchange>.replay`, which the queues bind the
    same way and the archive does not: a replayed message is not archived a second time.
    """

    max_age: str = "7D"  # RabbitMQ's x-max-age: Y, M, D, h, m, s
    max_bytes: int = 5_000_000_000

    def stream_arguments(self) -> dict:
        return {"x-queue-type": "stream", "x-max-age": self.max_age, "x-max-length-bytes": self.max_bytes}


def archive_of(exchange: Exchange | str) -> str:
    return f"{getattr(exchange, 'name', exchange)}.archive"


def replay_exchange_of(exchange: Exchange | str) -> str:
    return f"{getattr(exchange, 'name', exchange)}.replay"


@dataclass(frozen=True)
class QueuePolicy:
    """How queues are created: type, (quorum only) the broker-side delivery limit, and the
    archive (None: no archive streams, no replay twins)."""

    queue_type: str = "quorum"
    delivery_limit: int = 20
    archive: ArchivePolicy | None = None

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


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is exactly one word, `#` zero or more words."""
    return _words_match(pattern.split("."), routing_key.split("."))


def _words_match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_words_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _words_match(rest, words[1:])


@dataclass(frozen=True)
class Topology:
    """Exchanges and consumer queues. A route some queue is bound to is expected to have a
    subscriber: a message published to it is `mandatory`, and coming back unroutable is an error."""

    exchanges: tuple[Exchange, ...]
    queues: tuple[QueueSpec, ...]

    def expects_subscriber(self, exchange: str, routing_key: str) -> bool:
        return any(
            queue.exchange.name == exchange and topic_matches(pattern, routing_key)
            for queue in self.queues
            for pattern in queue.routing_keys
        )


TELEPHONY = Exchange("telephony")
NOTIFICATIONS = Exchange("notifications")
ORDERS = Exchange("orders")

CALL_PAIRING = QueueSpec("call-pairing", TELEPHONY, ("call.start", "call.end"))
BILLING = QueueSpec("billing", TELEPHONY, ("call.completed",))
# RPC requests are answered once, to a caller that waits: replaying them answers no one.
BILL_REQUESTS = QueueSpec("bill-requests", TELEPHONY, ("bill.requested",), archived=False)
CONTACTS = QueueSpec("contacts", NOTIFICATIONS, ("contact.upserted",))
ORDER_EVENTS = QueueSpec("orders", ORDERS, ("order.*",))
# Both channels receive every request (topic fan-out) and each decides for itself.
SMS = QueueSpec("sms", NOTIFICATIONS, ("notification.requested",))
EMAIL = QueueSpec("email", NOTIFICATIONS, ("notification.requested",))

TRACKING = Exchange("tracking")

EVENT_SESSIONS = QueueSpec("event-sessions", TRACKING, ("event.#",))

PROVIDER = Exchange("provider")
PLANS = QueueSpec("plans", PROVIDER, ("plan.seen",))

EXCHANGES: tuple[Exchange, ...] = (TELEPHONY, NOTIFICATIONS, ORDERS, TRACKING, PROVIDER)
QUEUES: tuple[QueueSpec, ...] = (CALL_PAIRING, BILLING, BILL_REQUESTS, CONTACTS, ORDER_EVENTS, SMS, EMAIL, EVENT_SESSIONS,
                                 PLANS)
FLEET = Topology(EXCHANGES, QUEUES)
