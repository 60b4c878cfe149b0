"""A message ready to publish, and its AMQP properties (the envelope)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pika

from schemas.base import Message

# A replay is published by the operator's user, which the broker checks `user_id` against: the
# user who first published the message travels in this header instead.
ORIGINAL_USER_HEADER = "x-switchboard-original-user-id"


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
    user_id: str | None = None  # None: the link's own user, which the broker checks it against
    timestamp: int | None = None  # None: now (a replay keeps the original's)
    app_id: str | None = None  # None: the link's app id (a replay keeps the original's)

    @classmethod
    def of(
        cls,
        message: Message,
        *,
        mandatory: bool = True,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        routing_key: str | None = None,
    ) -> "Outgoing":
        """The envelope of a domain message; `routing_key` overrides the contract's own (an RPC
        reply goes to the caller's queue through the default exchange)."""
        return cls(
            exchange=message.exchange.name if routing_key is None else "",
            routing_key=message.routing_key() if routing_key is None else routing_key,
            body=message.to_json_bytes(),
            message_id=message.message_id(),
            message_type=message.message_type,
            correlation_id=correlation_id,
            reply_to=reply_to,
            mandatory=mandatory,
        )

    def properties(self, app_id: str, user_id: str | None) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=self.content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=self.message_id,
            timestamp=self.timestamp if self.timestamp is not None else int(time.time()),
            type=self.message_type,
            app_id=self.app_id or app_id,
            user_id=self.user_id or user_id,
            correlation_id=self.correlation_id,
            reply_to=self.reply_to,
            headers=self.headers,
        )
