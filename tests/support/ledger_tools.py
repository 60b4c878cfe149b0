"""Helpers for tests that drive the ledger test consumer."""

from __future__ import annotations

from sqlalchemy import func, select, text

from tests.support.waiting import wait_until

from broker.envelope import Outgoing
from tests.support.ledger import LEDGER_QUEUE, LedgerEntry, ledger


def entry(seq: int, **fields) -> Outgoing:
    body = LedgerEntry(seq=seq, **fields).model_dump_json().encode()
    return raw(body, message_id=f"entry-{seq}")


def raw(body: bytes, message_id: str) -> Outgoing:
    return Outgoing(LEDGER_QUEUE.exchange.name, LEDGER_QUEUE.routing_keys[0], body, message_id)


def ledger_count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(ledger)).scalar_one()


def delivery_stats(engine) -> dict:
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT count(*) AS handled, count(DISTINCT pid) AS pids, "
            "count(*) FILTER (WHERE redelivered) AS redelivered, "
            "count(*) - count(DISTINCT seq) AS handled_again FROM ledger_deliveries"
        )).mappings().one()
    return dict(row)


def queue_depth(channel, name: str) -> int:
    return channel.queue_declare(name, passive=True).method.message_count


def dead_letters(channel, expected: int, timeout: float = 30) -> list:
    wait_until(lambda: queue_depth(channel, "ledger.dead") >= expected, timeout=timeout,
               message=lambda: f"{queue_depth(channel, 'ledger.dead')} of {expected} dead letters")
    found = []
    while (got := channel.basic_get("ledger.dead", auto_ack=True))[0] is not None:
        found.append(got)
    return found
