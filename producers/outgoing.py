"""A message ready to publish, and its AMQP properties (the envelope)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pika

from schemas.base import Message


@dataclass(frozen=True)
class Outgoing:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    message_type: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    headers: dict[str, Any] | None = None
    mandatory: bool = True
    content_type: str = "application/json"

    @classmethod
    def of(
        cls,
        message: Message,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        mandatory: bool = True,
    ) -> "Outgoing":
        """`mandatory=False` only for broadcast events that may have no subscriber yet."""
        return cls(
            exchange=message.exchange.name,
            routing_key=message.routing_key(),
            body=message.body(),
            message_id=message.message_id(),
            message_type=message.message_type,
            correlation_id=correlation_id,
            reply_to=reply_to,
            mandatory=mandatory,
        )

    @classmethod
    def reply(cls, message: Message, reply_to: str, correlation_id: str | None) -> "Outgoing":
        """An RPC reply through the default exchange; not mandatory: the caller may be gone."""
        return cls(
            exchange="",
            routing_key=reply_to,
            body=message.body(),
            message_id=message.message_id(),
            message_type=message.message_type,
            correlation_id=correlation_id,
            mandatory=False,
        )

    def properties(self, app_id: str, user_id: str | None) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=self.content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=self.message_id,
            timestamp=int(time.time()),
            type=self.message_type,
            app_id=app_id,
            user_id=user_id,
            correlation_id=self.correlation_id,
            reply_to=self.reply_to,
            headers=self.headers,
        )


@dataclass
class ConfirmBatch:
    """Confirmation state of a group of publishes, settled by the I/O thread."""

    messages: list[Outgoing]
    errors: dict[int, Exception] = field(default_factory=dict)
    settled: int = 0

    def __post_init__(self) -> None:
        self._done = threading.Event()
        if not self.messages:
            self._done.set()

    def settle(self, index: int, error: Exception | None = None) -> None:
        if error is not None:
            self.errors[index] = error
        self.settled += 1
        if self.settled >= len(self.messages):
            self._done.set()

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()
