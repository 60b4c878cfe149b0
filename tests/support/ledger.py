"""A small test consumer: records each message's effect once in a `ledger` table.

It also appends every delivery it handles to `ledger_deliveries` (not deduplicated), which
is how tests prove that redeliveries really happened, and one row per committed transaction
to `ledger_commits`, which is how they count transactions.
"""

from __future__ import annotations

import os
import time
from typing import ClassVar, Sequence

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, func, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas.base import Message
from schemas.topology import Exchange, QueueSpec, Topology

metadata = MetaData()
ledger = Table(
    "ledger", metadata,
    Column("seq", Integer, primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("committed_at", String, server_default=func.now().cast(String)),
)
ledger_deliveries = Table(
    "ledger_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("redelivered", Boolean, nullable=False),
)
ledger_commits = Table(
    "ledger_commits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_size", Integer, nullable=False),
)

LEDGER_EXCHANGE = Exchange("ledger-test")
LEDGER_QUEUE = QueueSpec("ledger", LEDGER_EXCHANGE, ("ledger.entry",))
# Where the ledger consumer's emits go. Tests that want them routable declare it; left
# undeclared, an emit comes back unroutable (the topology says it must have a subscriber).
SINK_QUEUE = QueueSpec("ledger-sink", LEDGER_EXCHANGE, ("ledger.recorded",))
LEDGER_TOPOLOGY = Topology((LEDGER_EXCHANGE,), (LEDGER_QUEUE, SINK_QUEUE))


class LedgerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int
    explode: bool = False
    pad: str = ""


class Recorded(Message):
    """What the ledger consumer emits for an entry, when told to."""

    message_type: ClassVar[str] = "ledger.recorded.v1"
    exchange: ClassVar[Exchange] = LEDGER_EXCHANGE
    seq: int


def decode(_routing_key: str, body: bytes) -> LedgerEntry:
    return LedgerEntry.model_validate_json(body)


def handle(connection: Connection, batch: Sequence[Incoming[LedgerEntry]]) -> BatchOutcome:
    exploding = [incoming.payload.seq for incoming in batch if incoming.payload.explode]
    if exploding:
        raise RuntimeError(f"ledger entry {exploding[0]} always explodes")
    if any(incoming.payload.pad == STATEMENT_TIMEOUT for incoming in batch):
        # A real QueryCanceled (SQLSTATE 57014), every time this entry is in the transaction.
        connection.execute(text("SET LOCAL statement_timeout = '50ms'"))
        connection.execute(text("SELECT pg_sleep(1)"))
    pid = os.getpid()
    slow_ms = int(os.environ.get("LEDGER_SLOW_MS", "0"))
    if slow_ms:
        time.sleep(slow_ms / 1000)  # simulates a slow handler, widening the window for faults
    seqs = sorted({incoming.payload.seq for incoming in batch})
    connection.execute(pg_insert(ledger).on_conflict_do_nothing(), [{"seq": s, "pid": pid} for s in seqs])
    connection.execute(insert(ledger_commits), {"batch_size": len(batch)})
    connection.execute(insert(ledger_deliveries), [
        {"seq": incoming.payload.seq, "pid": pid, "redelivered": incoming.redelivered} for incoming in batch
    ])
    emit_all = os.environ.get("LEDGER_EMIT") == "1"
    return BatchOutcome(emits=[Recorded(seq=i.payload.seq) for i in batch if emit_all or i.payload.pad == EMIT])


STATEMENT_TIMEOUT = "statement-timeout"
"""An entry whose `pad` says this makes its transaction exceed a statement timeout."""
EMIT = "emit"
"""An entry whose `pad` says this makes its batch emit a `Recorded` (LEDGER_EMIT=1: every entry)."""


CONSUMER = ConsumerSpec(name="ledger", queue=LEDGER_QUEUE, decode=decode, handle=handle, emits=(Recorded,))
