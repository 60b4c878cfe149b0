"""Dead-letter queues for operators: what was refused and why; replay it after a fix, or purge it.

Operator tooling, not a hot path, so it uses kombu (docs/architecture.md). A pass takes the
queue's messages one by one (`basic.get`, not acked), acts on those that match the filter, and
closes the channel: every message it did not settle goes back to the queue. A dead letter is
acked only once its republish was confirmed and routed, so a replay that stops half way
loses nothing.

Two kinds of dead letters: the runtime's (headers x-switchboard-reason, -original-exchange,
-original-routing-key, ...) and the broker's own, for a message that reached the quorum
delivery limit (RabbitMQ's `x-death` names where it came from). A replayed message counts its
replays in `x-switchboard-replays`; one replayed `max_replays` times stays parked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import kombu
from kombu import Producer, Queue

from consumers.runtime import deadletter

PREVIEW_BYTES = 200


@dataclass(frozen=True)
class Filter:
    reason: str | None = None  # a substring of the reason, case-insensitive
    older_than: timedelta | None = None
    limit: int | None = None

    def accepts(self, letter: "DeadLetter", now: datetime) -> bool:
        if self.reason and self.reason.lower() not in (letter.reason or "").lower():
            return False
        if self.older_than is not None:
            when = _moment(letter.dead_lettered_at)
            return when is not None and when <= now - self.older_than
        return True


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    reason: str | None
    consumer: str | None
    dead_lettered_at: str | None
    exchange: str | None
    routing_key: str | None
    replays: int
    body_preview: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    matched: int = 0
    done: int = 0  # replayed or purged (with dry_run: would be)
    kept: list[str] = field(default_factory=list)  # why each matching message was not replayed

    def as_dict(self) -> dict:
        return asdict(self)


def origin(headers: dict) -> tuple[str, str] | None:
    """(exchange, routing key) a dead letter was first published to, or None if unknown."""
    if deadletter.ORIGINAL_ROUTING_KEY in headers:
        return headers.get(deadletter.ORIGINAL_EXCHANGE, ""), headers[deadletter.ORIGINAL_ROUTING_KEY]
    deaths = headers.get("x-death") or []
    if deaths and deaths[-1].get("routing-keys"):  # the oldest death is last
        return deaths[-1].get("exchange", ""), deaths[-1]["routing-keys"][0]
    return None


def listing(amqp_url: str, queue: str, where: Filter) -> list[DeadLetter]:
    found: list[DeadLetter] = []
    _pass(amqp_url, queue, where, lambda message, letter: found.append(letter) or False)
    return found


def find(amqp_url: str, queue: str, message_id: str) -> tuple[DeadLetter, dict, bytes] | None:
    found: list = []

    def keep(message, letter: DeadLetter) -> bool:
        if letter.message_id == message_id and not found:
            found.append((letter, dict(message.headers or {}), _body(message)))
        return False

    _pass(amqp_url, queue, Filter(), keep)
    return found[0] if found else None


def purge(amqp_url: str, queue: str, where: Filter, dry_run: bool = False,
          on_progress: Callable[[int], None] | None = None) -> Report:
    report = Report()

    def drop(message, _letter) -> bool:
        report.matched += 1
        if not dry_run:
            message.ack()
        report.done += 1
        return True

    _pass(amqp_url, queue, where, drop, on_progress)
    return report


def replay(amqp_url: str, queue: str, where: Filter, *, max_replays: int, dry_run: bool = False,
           route: Callable[[str, str], tuple[str, str]] = lambda exchange, key: (exchange, key),
           on_progress: Callable[[int], None] | None = None) -> Report:
    """Publish the matching dead letters again to where they were first sent (`route` may send
    them through an exchange's replay twin). One the broker cannot route stays, with the reason."""
    report = Report()
    returned: list[str] = []
    with kombu.Connection(amqp_url, connect_timeout=5, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.channel(), on_return=lambda _error, exchange, routing_key, _message:
                            returned.append(f"nothing is bound to routing key {routing_key!r} on exchange {exchange!r}"))

        def again(message, letter: DeadLetter) -> bool:
            report.matched += 1
            why = _cannot_replay(letter, message, max_replays)
            if why is None and not dry_run:
                returned.clear()
                _republish(producer, message, route(*origin(message.headers or {})))
                why = returned[0] if returned else None
                if why is None:
                    message.ack()
            if why is None:
                report.done += 1
            else:
                report.kept.append(f"{letter.message_id}: {why}")
            return True

        _pass(amqp_url, queue, where, again, on_progress, connection=connection)
    return report


def _pass(amqp_url: str, queue: str, where: Filter, act: Callable, on_progress: Callable[[int], None] | None = None,
          connection: kombu.Connection | None = None) -> None:
    """Hand each matching message to `act(message, letter) -> counted`, up to `where.limit`.
    Whatever `act` does not ack goes back to the queue when the channel closes."""
    own = connection is None
    connection = connection or kombu.Connection(amqp_url, connect_timeout=5)
    try:
        channel = connection.channel()
        source = Queue(queue, no_declare=True).bind(channel)
        now, seen, counted = datetime.now(timezone.utc), 0, 0
        while (where.limit is None or counted < where.limit) and (message := source.get(no_ack=False)) is not None:
            seen += 1
            letter = describe(message)
            if where.accepts(letter, now) and act(message, letter) is not False:
                counted += 1
            if on_progress is not None:
                on_progress(seen)
        channel.close()
    finally:
        if own:
            connection.release()


def _cannot_replay(letter: DeadLetter, message, max_replays: int) -> str | None:
    if letter.replays >= max_replays:
        return f"parked: replayed {letter.replays} times already (SWITCHBOARD_MAX_REPLAYS is {max_replays})"
    if origin(message.headers or {}) is None:
        return "its origin is unknown (no x-switchboard-original-* or x-death headers)"
    return None


def _republish(producer: Producer, message, where: tuple[str, str]) -> None:
    headers = message.headers or {}
    props = message.properties
    producer.publish(
        message.body,
        exchange=where[0],
        routing_key=where[1],
        content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding or "utf-8",
        headers={**{k: v for k, v in headers.items() if not k.startswith("x-switchboard-")},
                 deadletter.REPLAYS: int(headers.get(deadletter.REPLAYS, 0)) + 1},
        message_id=props.get("message_id"),
        type=props.get("type"),
        correlation_id=props.get("correlation_id"),
        reply_to=props.get("reply_to"),
        delivery_mode=2,
        mandatory=True,
    )  # with confirm_publish this returns after the broker's ack; a basic.return comes before it


def describe(message) -> DeadLetter:
    headers = message.headers or {}
    deaths = headers.get("x-death") or [{}]
    where = origin(headers) or (None, None)
    return DeadLetter(
        message_id=message.properties.get("message_id"),
        reason=headers.get(deadletter.REASON) or _broker_reason(deaths[0]),
        consumer=headers.get(deadletter.CONSUMER),
        dead_lettered_at=headers.get(deadletter.DEAD_LETTERED_AT) or _time(deaths[0].get("time")),
        exchange=where[0],
        routing_key=where[1],
        replays=int(headers.get(deadletter.REPLAYS, 0)),
        body_preview=_body(message)[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
    )


def _body(message) -> bytes:
    return message.body if isinstance(message.body, bytes) else str(message.body).encode()


def _broker_reason(death: dict) -> str | None:
    if not death:
        return None
    return f"dead-lettered by RabbitMQ from queue {death.get('queue')!r}: {death.get('reason')} (count {death.get('count')})"


def _time(value) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    return str(value) if value is not None else None


def _moment(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)
