"""The HTTP event collector's producer side: events judged at the door, then published as the
application that sent them, with confirms.

- Each application publishes over a connection of its own, opened with its own credentials
  (the ones `switchboard apps add` printed): RabbitMQ checks the login, and checks every
  event's `user_id` against it, exactly as for an application publishing over AMQP. So the
  collector never reads the database, and a revoked application (its user deleted, its
  connections closed) is refused by the broker at its next login.
- Every event passes the event-sessions consumer's own rules (consumers/event_rules.py)
  before it is published; one that fails is answered with its index and reason, and the
  rest of the batch is published.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from broker.errors import ConnectionLost, LinkFailed, PublishError
from broker.urls import with_credentials
from consumers.event_rules import EventRules, InvalidEvent, judge
from producers.publisher import Publisher
from schemas.events import SentEvent


class Unauthorized(Exception):
    """The broker refused the application's credentials (wrong, unknown, or revoked)."""


class Unavailable(Exception):
    """The broker could not take the events now; nothing was accepted."""


@dataclass
class Collected:
    accepted: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected}


def judged(items: list[Any], rules: EventRules) -> tuple[list[SentEvent], list[dict]]:
    """The events to publish, and {"index", "error"} for each refused one."""
    valid, rejected = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            rejected.append({"index": index, "error": "an event must be a JSON object"})
            continue
        try:
            event = SentEvent(fields=item)
        except ValidationError as error:
            reason = "; ".join(problem["msg"].removeprefix("Value error, ") for problem in error.errors())
            rejected.append({"index": index, "error": reason})
            continue
        verdict = judge(event.routing_key(), event.to_json_bytes(), rules)
        if isinstance(verdict, InvalidEvent):
            rejected.append({"index": index, "error": verdict.reason})
        else:
            valid.append(event)
    return valid, rejected


class _AppLink:
    def __init__(self, publisher: Publisher):
        self.publisher = publisher  # shared by concurrent requests: each waits for its own confirms


class Collector:
    def __init__(self, amqp_url: str, rules: EventRules, *, app_id: str, connect_timeout_s: float = 5.0,
                 confirm_timeout_s: float = 10.0):
        self._amqp_url = amqp_url
        self._rules = rules
        self._app_id = app_id
        self._connect_timeout_s = connect_timeout_s
        self._confirm_timeout_s = confirm_timeout_s
        self._links: dict[tuple[str, str], _AppLink] = {}
        self._links_lock = threading.Lock()

    def collect(self, user: str, password: str, items: list[Any]) -> Collected:
        valid, rejected = judged(items, self._rules)
        result = Collected(rejected=rejected)
        if valid:
            result.accepted = self._publish(user, password, valid)
        return result

    def close(self) -> None:
        with self._links_lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            link.publisher.close()

    def _publish(self, user: str, password: str, events: list[SentEvent]) -> int:
        key = (user, hashlib.sha256(password.encode()).hexdigest())
        link = self._link(key, user, password)
        try:
            return link.publisher.publish_many(events)
        except LinkFailed as error:
            self._forget(key, link)
            if error.kind == LinkFailed.LOGIN:
                raise Unauthorized(str(error)) from None
            raise Unavailable(str(error)) from None
        except (ConnectionLost, PublishError) as error:
            raise Unavailable(str(error)) from None

    def _link(self, key: tuple[str, str], user: str, password: str) -> _AppLink:
        with self._links_lock:
            link = self._links.get(key)
            if link is None:
                publisher = Publisher(with_credentials(self._amqp_url, user, password), app_id=self._app_id,
                                      connect_timeout=self._connect_timeout_s, confirm_timeout=self._confirm_timeout_s,
                                      retry_for=self._connect_timeout_s, name=f"collector-{user}")
                link = self._links[key] = _AppLink(publisher)
            return link

    def _forget(self, key: tuple[str, str], link: _AppLink) -> None:
        with self._links_lock:
            if self._links.get(key) is link:
                del self._links[key]
        link.publisher.close()
