"""Event types: how a (category, name) is written, and the registry of their payload models.

Adding an event type is adding one model here, decorated with `@event_type(category, name)`:
the event-sessions consumer validates the `data` of every event of that type against it.

Names are compared in one canonical form: lower case, words separated by one space, where a
sender may write `_` for a space ("Page Interaction", "page_interaction" and
"page  interaction" are all "page interaction"). On the wire (routing keys) a space is `_`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Callable

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

MAX_TYPE_WORD = 64
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@lru_cache(maxsize=4096)  # a handful of types, seen on every event
def type_word(value: str) -> str:
    """The canonical form of a category or a name; ValueError if it cannot be one."""
    words = value.replace("_", " ").lower().split()
    canonical = " ".join(words)
    if not words or len(canonical) > MAX_TYPE_WORD or not all(_WORD.fullmatch(word) for word in words):
        raise ValueError(
            f"must be words of letters, digits and hyphens separated by spaces or '_' "
            f"(at most {MAX_TYPE_WORD} characters, e.g. 'page interaction'), got {value!r}")
    return canonical


def event_routing_key(category: str, name: str) -> str:
    """`event.<category>.<name>`, lower case, spaces as `_` (e.g. event.page_interaction.cta_click)."""
    return f"event.{type_word(category).replace(' ', '_')}.{type_word(name).replace(' ', '_')}"


# --- the registry ------------------------------------------------------------------------

EventType = tuple[str, str]  # (category, name), canonical
EVENT_TYPES: dict[EventType, type[BaseModel]] = {}


def event_type(category: str, name: str) -> Callable[[type[BaseModel]], type[BaseModel]]:
    """Register the decorated model as the payload (`data`) of events of this type."""
    key = (type_word(category), type_word(name))

    def register(model: type[BaseModel]) -> type[BaseModel]:
        if key in EVENT_TYPES:
            raise ValueError(f"event type {key} is registered twice ({EVENT_TYPES[key].__name__}, {model.__name__})")
        EVENT_TYPES[key] = model
        return model

    return register


def payload_model(category: str, name: str) -> type[BaseModel] | None:
    """The payload model of a type (canonical category and name), or None for an unknown type."""
    return EVENT_TYPES.get((category, name))


# --- payload field types -----------------------------------------------------------------

_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _host(value: str) -> str:
    if len(value) > 253 or not _HOST.fullmatch(value):
        raise ValueError(f"must be a host name such as www.example.com (optionally with :port), got {value!r}")
    return value


def _path(value: str) -> str:
    if not value.startswith("/") or _CONTROL.search(value):
        raise ValueError(f"must be a URL path starting with '/', without spaces or control characters, got {value!r}")
    return value


Host = Annotated[str, AfterValidator(_host)]
UrlPath = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_path)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class Payload(BaseModel):
    """A payload model: every field it names, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the known types (specs/sessions.md) --------------------------------------------------

@event_type("page interaction", "pageview")
class PageView(Payload):
    host: Host
    path: UrlPath


@event_type("page interaction", "cta click")
class CtaClick(Payload):
    host: Host
    path: UrlPath
    element: Text


@event_type("form interaction", "submit")
class FormSubmit(Payload):
    host: Host
    path: UrlPath
    form: dict[str, Any]
