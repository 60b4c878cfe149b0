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
- It runs on the gateway's event loop, and so do its AMQP connections (broker/loop_link.py):
  a request publishes and awaits its confirms without holding a thread, so hundreds can be
  in flight at once.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from broker.envelope import Outgoing
from broker.errors import LinkFailed, PublishError
from broker.loop_link import LoopLink
from broker.urls import with_credentials
from consumers.event_rules import EventRules, InvalidEvent, judge
from producers.publisher import RETRYABLE
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


def judged(items: list[Any], rules: EventRules) -> tuple[list[Outgoing], list[dict]]:
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
        outgoing = Outgoing.of(event)
        verdict = judge(outgoing.routing_key, outgoing.body, rules)
        if isinstance(verdict, InvalidEvent):
            rejected.append({"index": index, "error": verdict.reason})
        else:
            valid.append(outgoing)
    return valid, rejected


class Collector:
    """One AMQP link per application (keyed by its user and a hash of its password), opened at
    its first request. A link whose login is refused is forgotten, so the next request with
    those credentials logs in afresh."""

    def __init__(self, amqp_url: str, rules: EventRules, *, app_id: str, connect_timeout_s: float = 5.0,
                 confirm_timeout_s: float = 10.0):
        self._amqp_url = amqp_url
        self._rules = rules
        self._app_id = app_id
        self._connect_timeout_s = connect_timeout_s
        self._confirm_timeout_s = confirm_timeout_s
        self._links: dict[tuple[str, str], LoopLink] = {}

    async def collect(self, user: str, password: str, items: list[Any]) -> Collected:
        valid, rejected = judged(items, self._rules)
        result = Collected(rejected=rejected)
        if valid:
            await self._publish(user, password, valid)
            result.accepted = len(valid)
        return result

    def close(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            link.close()

    async def _publish(self, user: str, password: str, messages: list[Outgoing]) -> None:
        """Returns once the broker confirmed every message; what the connection lost or the
        broker nacked is published again (same message ids) until the confirm timeout."""
        key = (user, hashlib.sha256(password.encode()).hexdigest())
        link = self._link(key, user, password)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._confirm_timeout_s
        try:
            while messages:
                batch = await link.publish(messages, max(0.0, deadline - loop.time()))
                fatal = [error for error in batch.errors.values() if not isinstance(error, RETRYABLE)]
                if fatal:
                    raise fatal[0]
                messages = [batch.messages[index] for index in sorted(batch.errors)]
        except LinkFailed as error:
            if self._links.get(key) is link:
                del self._links[key]
            link.close()
            if error.kind == LinkFailed.LOGIN:
                raise Unauthorized(str(error)) from None
            raise Unavailable(str(error)) from None
        except PublishError as error:
            raise Unavailable(str(error)) from None

    def _link(self, key: tuple[str, str], user: str, password: str) -> LoopLink:
        link = self._links.get(key)
        if link is None:
            link = self._links[key] = LoopLink(with_credentials(self._amqp_url, user, password),
                                               name=f"collector-{user}", app_id=self._app_id,
                                               connect_timeout_s=self._connect_timeout_s)
        return link
