"""The base of every message contract: a pydantic model that knows where it is published."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.topology import Exchange


class Message(BaseModel):
    """A message body. Subclasses set `message_type` ("name.vN") and `exchange`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_type: ClassVar[str]
    exchange: ClassVar[Exchange]

    def routing_key(self) -> str:
        return self.message_type.rsplit(".v", 1)[0]

    def message_id(self) -> str:
        """Stable across retries: derived from the type and the content."""
        digest = hashlib.sha256(self.message_type.encode() + b"\0" + self.to_json_bytes()).hexdigest()
        return digest[:32]

    def to_json_bytes(self) -> bytes:
        """The AMQP body: the JSON payload itself. (Not `body()`: contracts may have a `body` field.)"""
        return self.model_dump_json(exclude_none=True).encode()


def describe_errors(error: ValidationError, limit: int | None = None) -> str:
    """One line naming each problem: `field: what is wrong; field: ...` (at most `limit`)."""
    items = error.errors(include_url=False)
    shown = items if limit is None else items[:limit]
    parts = [
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg'].removeprefix('Value error, ')}"
        for item in shown
    ]
    more = len(items) - len(shown)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
