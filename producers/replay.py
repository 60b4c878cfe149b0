"""Replaying an exchange's archive: read its stream from a time, keep what matches, publish it
again, with confirms, keeping each message's id, properties and body.

- The stream is read from the first chunk at or after `since` (RabbitMQ's `x-stream-offset`
  with a timestamp) and until it has nothing more to give (`idle_s` without a message).
- A message matches when its `timestamp` property is in [since, until] and its routing key
  matches the `routing_key` pattern (AMQP topic syntax). A message without a timestamp is
  judged by its place in the stream. Reading never stops early at a message stamped after
  `until`: upstream publishers may set their own timestamps (a batch of old records, a skewed
  clock), so stream order says nothing certain about them.
- It is published to `<exchange>.replay` with its routing key (the queues bind the twin as
  they bind the exchange, the archive does not: a replay is not archived again), or, with
  `to_queue`, straight into that queue. A header says it was replayed, and when.
- The `user_id` property names the connection's user, and the broker refuses any other: a
  message published by someone else keeps its user in `x-switchboard-original-user-id`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

import pika

from broker.envelope import ORIGINAL_USER_HEADER, Outgoing
from producers.publisher import Publisher
from schemas.topology import archive_of, replay_exchange_of, topic_matches

REPLAYED_AT = "x-switchboard-replayed-at"
CHUNK = 500


@dataclass(frozen=True)
class ReplayRequest:
    exchange: str
    since: datetime
    until: datetime | None = None
    routing_key: str | None = None
    to_queue: str | None = None
    rate: float | None = None  # messages per second
    dry_run: bool = False


@dataclass
class ReplayReport:
    read: int = 0
    matched: int = 0
    republished: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class NoArchive(Exception):
    """The exchange has no archive stream (the archive is off, or `switchboard topology` never ran)."""


def replay(amqp_url: str, request: ReplayRequest, *, on_progress: Callable[[ReplayReport], None] | None = None,
           idle_s: float = 1.0) -> ReplayReport:
    report = ReplayReport()
    with Publisher(amqp_url, name="replay") as publisher:
        pending: list[Outgoing] = []
        started = time.monotonic()
        for method, props, body in read_archive(amqp_url, request, idle_s):
            report.read += 1
            if not _matches(method.routing_key, props, request):
                continue
            report.matched += 1
            if not request.dry_run:
                pending.append(_again(method.routing_key, props, body, request, publisher.user))
            if len(pending) >= CHUNK:
                report.republished += publisher.publish_outgoing(pending)
                pending.clear()
                _keep_rate(request.rate, report.republished, started)
            if on_progress is not None and report.read % CHUNK == 0:
                on_progress(report)
        if pending:
            report.republished += publisher.publish_outgoing(pending)
    if on_progress is not None:
        on_progress(report)
    return report


def read_archive(amqp_url: str, request: ReplayRequest, idle_s: float) -> Iterator[tuple]:
    """(method, properties, body) from the archive stream, from `since` to the end."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=CHUNK * 2)  # a stream consumer must set one
        unacked = 0
        try:
            messages = channel.consume(archive_of(request.exchange), inactivity_timeout=idle_s,
                                       arguments={"x-stream-offset": request.since})
            for method, props, body in messages:
                if method is None:
                    break  # caught up with the end of the stream
                yield method, props, body
                unacked += 1
                if unacked >= CHUNK:  # acks only keep the stream flowing: nothing is removed
                    channel.basic_ack(method.delivery_tag, multiple=True)
                    unacked = 0
        except pika.exceptions.ChannelClosedByBroker as error:
            if error.reply_code == 404:
                raise NoArchive(f"exchange {request.exchange!r} has no archive stream {archive_of(request.exchange)!r}: "
                                "is SWITCHBOARD_ARCHIVE on, and did `switchboard topology` run?") from None
            raise
    finally:
        _close(connection)


def _close(connection: pika.BlockingConnection) -> None:
    """pika cancels the consumer by rejecting what it has buffered, which a stream queue refuses
    (540 NOT_IMPLEMENTED): harmless here, as acks on a stream remove nothing."""
    try:
        if connection.is_open:
            connection.close()
    except pika.exceptions.AMQPError:
        pass


def _matches(routing_key: str, props, request: ReplayRequest) -> bool:
    if request.routing_key is not None and not topic_matches(request.routing_key, routing_key):
        return False
    if props.timestamp is None:
        return True
    if props.timestamp < int(request.since.timestamp()):
        return False
    return request.until is None or props.timestamp <= request.until.timestamp()


def _again(routing_key: str, props, body: bytes, request: ReplayRequest, user: str) -> Outgoing:
    headers = {**(props.headers or {}), REPLAYED_AT: datetime.now(timezone.utc).isoformat()}
    if props.user_id and props.user_id != user:
        headers[ORIGINAL_USER_HEADER] = props.user_id
    return Outgoing(
        exchange="" if request.to_queue else replay_exchange_of(request.exchange),
        routing_key=request.to_queue or routing_key,
        body=body,
        message_id=props.message_id or "",
        message_type=props.type,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        headers=headers,
        content_type=props.content_type or "application/json",
        timestamp=props.timestamp,
        app_id=props.app_id,
    )


def _keep_rate(rate: float | None, sent: int, started: float) -> None:
    if rate:
        time.sleep(max(0.0, started + sent / rate - time.monotonic()))
