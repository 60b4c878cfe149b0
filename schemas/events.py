"""Behaviour events (specs/sessions.md): what an application sends, and how a session reads back.

On the wire an event is a JSON object published to the `tracking` exchange with routing key
`event.<category>.<name>` (lower case, spaces as `_`) and the AMQP `user_id` of the
application that sends it (checked by the broker against the connection's user):

    {"id": "optional, unique per application", "session_id": "<UUID>", "category": "page interaction",
     "name": "cta click", "data": {"host": "...", "path": "...", "element": "..."},
     "timestamp": "2021-01-01 09:15:27.243860"}

A timestamp without a time zone is UTC. The `data` of a known type is checked against its
model (schemas/event_types.py); the event-sessions consumer applies every rule.
"""

from __future__ import annotations

import json
from functools import cached_property
import re
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Iterable
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, model_validator

from schemas.base import Message
from schemas.event_types import EVENT_TYPES, event_routing_key, type_word
from schemas.topology import TRACKING, Exchange

MAX_EVENT_ID = 128
_DATE_ONLY = re.compile(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _time_text_only(value: Any) -> Any:
    # pydantic would read a number as Unix time, and a date alone as its midnight.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("timestamp must be an ISO 8601 string such as 2021-01-01 09:15:27.243860")
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        raise ValueError(f"timestamp must be a date and a time, got the date {value.strip()!r} alone")
    return value


def as_utc(value: datetime) -> datetime:
    """A time without a zone is UTC; one with a zone is converted to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _number_to_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


EventTime = Annotated[datetime, BeforeValidator(_time_text_only), AfterValidator(as_utc)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EVENT_ID), BeforeValidator(_number_to_text),
                    AfterValidator(_printable)]
TypeWord = Annotated[str, AfterValidator(type_word)]


def _payload_schemas(schema: dict[str, Any]) -> None:
    schema["x-payloads"] = {f"{category}/{name}": model.model_json_schema()
                            for (category, name), model in EVENT_TYPES.items()}


class Event(Message):
    """A behaviour event as the contract defines it: category and name in canonical form, the
    timestamp in UTC. Upstream Python code publishes these (`Publisher.publish(event)`)."""

    model_config = ConfigDict(json_schema_extra=_payload_schemas)

    message_type: ClassVar[str] = "event.v1"
    exchange: ClassVar[Exchange] = TRACKING
    routing_key_pattern: ClassVar[str] = "event.<category>.<name> (lower case, spaces as _)"

    id: EventId | None = None
    session_id: UUID
    category: TypeWord
    name: TypeWord
    data: dict[str, Any]
    timestamp: EventTime

    def routing_key(self) -> str:
        return event_routing_key(self.category, self.name)


class SentEvent(Message):
    """An event exactly as its sender wrote it, routed by its category and name: what
    `switchboard publish events` forwards. Only what routing needs is checked here; the
    event-sessions consumer judges the rest and keeps what it refuses, with the reason."""

    model_config = ConfigDict(frozen=True)

    message_type: ClassVar[str] = "event.v1"
    exchange: ClassVar[Exchange] = TRACKING

    fields: dict[str, Any]

    @model_validator(mode="after")
    def _routable(self) -> "SentEvent":
        for field in ("category", "name"):
            value = self.fields.get(field)
            if not isinstance(value, str):
                raise ValueError(f"{field}: required, a string such as 'page interaction' (it makes the routing key)")
            try:
                type_word(value)
            except ValueError as error:
                raise ValueError(f"{field}: {error}") from None
        return self

    def routing_key(self) -> str:
        return event_routing_key(self.fields["category"], self.fields["name"])

    def to_json_bytes(self) -> bytes:
        return self._json

    @cached_property
    def _json(self) -> bytes:  # frozen, and wanted twice (the body and its message id)
        return json.dumps(self.fields, separators=(",", ":")).encode()


# --- reading sessions back ------------------------------------------------------------------

class StoredEvent(BaseModel):
    """An event as stored: `id` is the sender's, or derived from its content (per application)."""

    model_config = ConfigDict(frozen=True)

    id: str
    category: str
    name: str
    timestamp: datetime
    application: str
    data: dict[str, Any]

    def timeline_key(self) -> tuple[datetime, str, str]:
        """The order of a session: by the time it happened; ties by id (then application)."""
        return (self.timestamp, self.id, self.application)


def timeline(events: Iterable[StoredEvent]) -> list[StoredEvent]:
    """A session's events in order, each once (an event is identified by application and id)."""
    unique = {(event.application, event.id): event for event in events}
    return sorted(unique.values(), key=StoredEvent.timeline_key)


class Session(BaseModel):
    session_id: UUID
    started_at: datetime
    ended_at: datetime
    applications: list[str]
    events: list[StoredEvent]
