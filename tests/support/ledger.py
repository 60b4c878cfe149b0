"""A small test consumer: records each message's effect once in a `ledger` table.

It also appends every delivery it handles to `ledger_deliveries` (not deduplicated), which
is how tests prove that redeliveries really happened.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, func, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming, Outgoing
from schemas.topology import Exchange, QueueSpec

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

LEDGER_EXCHANGE = Exchange("ledger-test")
LEDGER_QUEUE = QueueSpec("ledger", LEDGER_EXCHANGE, ("ledger.entry",))


class LedgerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int
    explode: bool = False
    pad: str = ""


def decode(_routing_key: str, body: bytes) -> LedgerEntry:
    return LedgerEntry.model_validate_json(body)


def handle(connection: Connection, batch: Sequence[Incoming[LedgerEntry]]) -> BatchOutcome:
    exploding = [incoming.payload.seq for incoming in batch if incoming.payload.explode]
    if exploding:
        raise RuntimeError(f"ledger entry {exploding[0]} always explodes")
    pid = os.getpid()
    slow_ms = int(os.environ.get("LEDGER_SLOW_MS", "0"))
    if slow_ms:
        time.sleep(slow_ms / 1000)  # simulates a slow handler, widening the window for faults
    seqs = sorted({incoming.payload.seq for incoming in batch})
    connection.execute(pg_insert(ledger).on_conflict_do_nothing(), [{"seq": s, "pid": pid} for s in seqs])
    connection.execute(insert(ledger_deliveries), [
        {"seq": incoming.payload.seq, "pid": pid, "redelivered": incoming.redelivered} for incoming in batch
    ])
    return BatchOutcome(emits=[UNROUTABLE_EMIT] if any(i.payload.pad == EMIT_UNROUTABLE for i in batch) else [])


EMIT_UNROUTABLE = "emit-unroutable"
"""An entry whose `pad` says this makes its batch emit a message nothing is bound to."""
UNROUTABLE_EMIT = Outgoing(LEDGER_EXCHANGE.name, "nobody.home", b"{}", "unroutable-emit")


CONSUMER = ConsumerSpec(name="ledger", queue=LEDGER_QUEUE, decode=decode, handle=handle)
