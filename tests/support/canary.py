"""A test consumer that fails in the ways that leak personal data and secrets into logs.

Each message carries a phone number that it writes to `canary_numbers`, whose check
constraint refuses numbers of more than 10 digits: a database error whose statement
parameters (and psycopg2's "Failing row contains (...)" detail) carry the number, so the
runtime isolates the message and dead-letters it. When the consumer stops, the process dies
of an uncaught exception that quotes its database and broker URLs, caused by the last
database error (so the traceback holds both, whole).

Run as a process: `python -m tests.support.canary` with SWITCHBOARD_AMQP_URL and
SWITCHBOARD_DATABASE_URL set.
"""

from __future__ import annotations

import os
import sys
from typing import ClassVar, Sequence

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.engine import Connection

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas.base import Message
from schemas.topology import Exchange, QueueSpec, Topology

CANARY_EXCHANGE = Exchange("canary-test")
CANARY_QUEUE = QueueSpec("canary", CANARY_EXCHANGE, ("canary.number",))
CANARY_TOPOLOGY = Topology((CANARY_EXCHANGE,), (CANARY_QUEUE,))
MAX_DIGITS = 10

metadata = MetaData()
canary_numbers = Table(
    "canary_numbers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String, nullable=False),
)
CREATE_TABLE = (f"CREATE TABLE IF NOT EXISTS canary_numbers (id serial PRIMARY KEY, "
                f"phone text NOT NULL CONSTRAINT phone_fits CHECK (char_length(phone) <= {MAX_DIGITS}))")


class CanaryNumber(Message):
    message_type: ClassVar[str] = "canary.number.v1"
    exchange: ClassVar[Exchange] = CANARY_EXCHANGE
    phone: str


class Stopped(RuntimeError):
    pass


last_error: BaseException | None = None


def decode(_routing_key: str, body: bytes) -> CanaryNumber:
    return CanaryNumber.model_validate_json(body)


def handle(connection: Connection, batch: Sequence[Incoming[CanaryNumber]]) -> BatchOutcome:
    global last_error
    try:
        connection.execute(insert(canary_numbers), [{"phone": incoming.payload.phone} for incoming in batch])
    except Exception as error:
        last_error = error
        raise
    return BatchOutcome()


CONSUMER = ConsumerSpec(name="canary", queue=CANARY_QUEUE, decode=decode, handle=handle)


def main() -> None:
    from consumers.runtime.runner import run_consumer
    from consumers.runtime.worker import RuntimeOptions
    from schemas.topology import QueuePolicy
    from switchboard.logs import configure_logging

    configure_logging("INFO", "json")
    amqp_url, database_url = os.environ["SWITCHBOARD_AMQP_URL"], os.environ["SWITCHBOARD_DATABASE_URL"]
    options = RuntimeOptions(handler_attempts=2, policy=QueuePolicy("quorum"), topology=CANARY_TOPOLOGY)
    code = run_consumer(CONSUMER, amqp_url=amqp_url, database_url=database_url, options=options)
    if code != 0:
        sys.exit(code)
    raise Stopped(f"canary consumer stopped; it used {database_url} and {amqp_url}") from last_error


if __name__ == "__main__":
    main()
