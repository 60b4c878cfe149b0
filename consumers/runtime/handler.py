"""What a consumer module provides to the runtime, and what it gets back.

A consumer is a queue, a decoder and a batch handler. The handler is a plain function:
it receives the validated messages of one batch and a SQLAlchemy connection inside the
batch's transaction, and returns which messages it rejects and which domain messages it
emits. The runtime owns the transaction, the dead letters, the AMQP envelope of what is
emitted (exchange, routing key, `mandatory` from the topology), the confirms and the acks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar, Union

from sqlalchemy.engine import Connection

from schemas.base import Message
from schemas.topology import QueueSpec

M = TypeVar("M")


@dataclass(frozen=True)
class Incoming(Generic[M]):
    """One validated message of a batch."""

    payload: M
    routing_key: str
    message_id: str | None
    redelivered: bool
    user_id: str | None = None
    reply_to: str | None = None
    correlation_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """An RPC answer to one incoming message: sent to its `reply_to`, never mandatory (the
    caller may have gone)."""

    message: Message
    to: Incoming

    @property
    def reply_to(self) -> str:
        return self.to.reply_to or ""


Emit = Union[Message, Reply]


@dataclass
class BatchOutcome:
    """What a handler decided: `rejected` maps a batch index to the reason it is dead-lettered."""

    emits: list[Emit] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)


Decoder = Callable[[str, bytes], Any]
"""(routing_key, body) -> validated payload; raises pydantic.ValidationError or ValueError."""

BatchHandler = Callable[[Connection, Sequence[Incoming]], BatchOutcome]


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    queue: QueueSpec
    decode: Decoder
    handle: BatchHandler
    emits: tuple[type[Message], ...] = ()  # their exchanges are declared with the queue
    requires_user_id: bool = False
