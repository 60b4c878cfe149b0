"""Behaviour events from files (`switchboard publish events FILE`): forwarded as sent.

The loader is a collector: it checks only what routing needs (a category and a name that make
the routing key) and publishes the event unchanged, as the user of its AMQP URL (the Publisher
sets `user_id` to it: that is the application the event is attributed to). Every other rule is
the event-sessions consumer's, which stores what it refuses with the reason, so an invalid
event is found in one place (`switchboard event-errors`) whoever sent it and however.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schemas.events import SentEvent


def forward_event(data: dict[str, Any]) -> SentEvent:
    try:
        return SentEvent(fields=data)
    except ValidationError as error:
        raise ValueError("; ".join(item["msg"].removeprefix("Value error, ") for item in error.errors())) from None
