"""The raw baselines Switchboard is measured against, with nothing but pika and psycopg2.

- `publish_pipelined`: a bare publisher on a SelectConnection in confirm mode, keeping a
  window of unconfirmed persistent messages in flight and topping it up on every ack.
- `consume` (run as `python -m bench.baselines CASE`): a bare consumer with the same prefetch
  and batch size as Switchboard's defaults; per batch it json-decodes the bodies, upserts one
  row per message with psycopg2 `execute_values`, commits, then acks with `multiple`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

import pika
import psycopg2
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic
from psycopg2.extras import execute_values
from sqlalchemy.engine import make_url

from bench.workload import Prefill

WINDOW = 2000
PREFETCH = 1000
BATCH_SIZE = 500
BATCH_WAIT_S = 0.05


# -- publisher ---------------------------------------------------------------------------

class _Pipeline:
    """Publishes `messages` with at most `window` unconfirmed; all callbacks on the I/O loop."""

    def __init__(self, connection_url: str, messages: Sequence[Prefill], window: int):
        self._messages = messages
        self._window = window
        self._sent = 0
        self._unconfirmed: deque[int] = deque()
        self._channel = None
        self.error: str | None = None
        self.started = self.finished = 0.0
        self._connection = SelectConnection(
            pika.URLParameters(connection_url),
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=lambda _conn, error: self._fail(f"connect failed: {error}"),
            on_close_callback=lambda *_args: self._connection.ioloop.stop(),
        )

    def run(self, timeout: float) -> None:
        self._connection.ioloop.call_later(timeout, lambda: self._fail(f"not confirmed within {timeout:.0f}s"))
        self._connection.ioloop.start()

    def _on_channel(self, channel) -> None:
        self._channel = channel
        channel.add_on_return_callback(lambda *_a: self._fail("a message was returned unroutable"))
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame) -> None:
        self.started = time.perf_counter()
        self._top_up()

    def _top_up(self) -> None:
        while self._sent < len(self._messages) and len(self._unconfirmed) < self._window:
            message = self._messages[self._sent]
            self._channel.basic_publish(message.exchange, message.routing_key, message.body,
                                        message.properties, mandatory=True)
            self._sent += 1
            self._unconfirmed.append(self._sent)  # delivery tags count from 1

    def _on_confirm(self, frame) -> None:
        method = frame.method
        if isinstance(method, Basic.Nack):
            self._fail(f"broker nacked delivery tag {method.delivery_tag}")
            return
        if method.multiple:
            while self._unconfirmed and self._unconfirmed[0] <= method.delivery_tag:
                self._unconfirmed.popleft()
        else:
            self._unconfirmed.remove(method.delivery_tag)
        if self._sent == len(self._messages) and not self._unconfirmed:
            self.finished = time.perf_counter()
            self._connection.close()
        else:
            self._top_up()

    def _fail(self, error: str) -> None:
        if self.error is None and not self.finished:
            self.error = error
            if self._connection.is_open:
                self._connection.close()
            else:
                self._connection.ioloop.stop()


def publish_pipelined(amqp_url: str, messages: Sequence[Prefill], *, window: int = WINDOW,
                      timeout: float = 600.0) -> float:
    """Publish and wait for every confirm; returns the seconds from confirm mode to the last confirm."""
    if not messages:
        return 0.0
    pipeline = _Pipeline(amqp_url, messages, window)
    pipeline.run(timeout)
    if pipeline.error or not pipeline.finished:
        raise RuntimeError(f"raw publisher: {pipeline.error or 'stopped early'}")
    return pipeline.finished - pipeline.started


def bare_properties() -> pika.BasicProperties:
    """What a bare publisher sends: persistent JSON, nothing else."""
    return pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent)


# -- consumer ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RawUpsert:
    """How the bare consumer turns a decoded body into a row, and the statement that upserts rows."""

    sql: str  # INSERT ... VALUES %s ON CONFLICT ... (psycopg2 execute_values)
    row: Callable[[dict], tuple]
    count_query: str  # rows written so far


def consume(queue: str, upsert: RawUpsert, amqp_url: str, dsn: str) -> None:
    """Consume until killed: batch -> one transaction -> commit -> basic.ack(multiple)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    db = psycopg2.connect(dsn)
    print(json.dumps({"event": "consumer_started", "queue": queue}), file=sys.stderr, flush=True)
    batch: list[tuple[int, bytes]] = []
    deadline = 0.0
    for method, _properties, body in channel.consume(queue, inactivity_timeout=BATCH_WAIT_S):
        if method is not None:
            if not batch:
                deadline = time.monotonic() + BATCH_WAIT_S
            batch.append((method.delivery_tag, body))
        if batch and (method is None or len(batch) >= BATCH_SIZE or time.monotonic() >= deadline):
            _commit(db, upsert, batch)
            channel.basic_ack(batch[-1][0], multiple=True)
            batch = []


def _commit(db, upsert: RawUpsert, batch: list[tuple[int, bytes]]) -> None:
    rows = [upsert.row(json.loads(body)) for _tag, body in batch]
    with db.cursor() as cursor:
        execute_values(cursor, upsert.sql, rows, page_size=len(rows))
    db.commit()


def main(argv: list[str]) -> None:
    from bench.consumers import CASES

    case = CASES[argv[0]]
    database_url = os.environ["SWITCHBOARD_DATABASE_URL"]
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    consume(case.queue.name, case.raw, os.environ["SWITCHBOARD_AMQP_URL"], dsn)


if __name__ == "__main__":
    main(sys.argv[1:])
