"""The rules an event must pass before it is stored (specs/sessions.md), as pure functions.

`judge(routing_key, body, rules)` gives a `ValidEvent` or an `InvalidEvent` with the reason;
both keep the body, so a refused event is stored with it (never dead-lettered, never lost).
Who sent the event (the AMQP user_id) is checked by the handler, against the applications
registered in the database.

Identity: an event is identified by its application and its id: the sender's `id`, or one
derived from the application and the content (session_id, category, name, timestamp as a UTC
instant, data as canonical JSON). The same content sent twice by one application without an
id is one event; the same id sent by one application with another content is a conflict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Literal, NamedTuple

from pydantic import BaseModel, ValidationError

from schemas.base import describe_errors
from schemas.event_types import event_routing_key, payload_model
from schemas.events import Event

MAX_ERRORS_IN_REASON = 5
UnknownEvents = Literal["reject", "accept"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class EventRules:
    unknown_events: UnknownEvents = "reject"  # "accept": stored after the generic check only
    clock_skew: timedelta = timedelta(seconds=300)  # how far in the future a timestamp may be
    clock: Callable[[], datetime] = field(default=utc_now, compare=False)


class ValidEvent(NamedTuple):  # a tuple: made for every event, cheaply
    event: Event
    session_id: str  # the event's, in canonical text form
    data_json: str  # canonical JSON of `data`: what is stored
    fingerprint: str  # of the content, without the id
    body: bytes


class InvalidEvent(NamedTuple):
    reason: str
    body: bytes


def judge(routing_key: str, body: bytes, rules: EventRules) -> ValidEvent | InvalidEvent:
    try:
        return _valid(routing_key, body, rules)
    except _Refused as refused:
        return InvalidEvent(str(refused), body)


class _Refused(Exception):
    pass


def _valid(routing_key: str, body: bytes, rules: EventRules) -> ValidEvent:
    try:
        event = Event.model_validate_json(body)
    except ValidationError as error:
        raise _Refused(_envelope_problem(error)) from None
    expected = event_routing_key(event.category, event.name)
    if routing_key != expected:
        raise _Refused(f"routing key {routing_key!r} does not match the event's category and name "
                       f"(expected {expected!r})")
    now = rules.clock()
    if event.timestamp > now + rules.clock_skew:
        raise _Refused(f"timestamp {event.timestamp.isoformat()} is in the future: more than "
                       f"{rules.clock_skew.total_seconds():g} s after the time it was received ({now.isoformat()})")
    data_json = _storable_json(event.data)
    _check_payload(event, rules)
    session_id = str(event.session_id)
    return ValidEvent(event, session_id, data_json, fingerprint(session_id, event, data_json), body)


def _envelope_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return f"invalid JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
    if first["type"] == "model_type":
        return "expected a JSON object"
    return f"invalid event: {describe_errors(error, limit=MAX_ERRORS_IN_REASON)}"


def _storable_json(data: dict[str, Any]) -> str:
    """Canonical JSON (sorted keys, no spaces) that PostgreSQL can store as jsonb. (The JSON parser
    already refused unpaired surrogates; it lets NaN, Infinity and out-of-range numbers through.)"""
    try:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise _Refused("data contains a number that cannot be stored (NaN, Infinity, or out of range)") from None
    if "\\u0000" in text and _contains_nul(data):
        raise _Refused("data contains a NUL character (\\u0000), which cannot be stored")
    return text


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def _check_payload(event: Event, rules: EventRules) -> None:
    model = payload_model(event.category, event.name)
    if model is None:
        if rules.unknown_events == "reject":
            raise _Refused(f"unknown event type {event.category!r}/{event.name!r}: no payload model is registered "
                           "for it (SWITCHBOARD_UNKNOWN_EVENTS=reject)")
        return  # accepted: data is a JSON object PostgreSQL can store, the generic check
    _validate(model, event)


def _validate(model: type[BaseModel], event: Event) -> None:
    try:
        model.model_validate(event.data)
    except ValidationError as error:
        problems = describe_errors(error, limit=MAX_ERRORS_IN_REASON)
        raise _Refused(f"invalid {event.category}/{event.name} data: {problems}") from None


def fingerprint(session_id: str, event: Event, data_json: str) -> str:
    """A digest of what the event says, without its id."""
    content = "\n".join((session_id, event.category, event.name, event.timestamp.isoformat(), data_json))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def derived_id(application: str, event_fingerprint: str) -> str:
    """The id of an event sent without one: the same for the same application and content."""
    return hashlib.sha256(f"{application}\n{event_fingerprint}".encode()).hexdigest()[:32]
