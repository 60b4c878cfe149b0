"""Monthly bills, read from priced calls (prices are stored once, so a bill never changes)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable, Protocol, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection

from schemas.periods import Period
from schemas.telephony import Bill, BillLine, duration_seconds, format_duration
from storage.tables import priced_calls

BillKey = tuple[str, str]  # (subscriber, "YYYY-MM")


class PricedCall(Protocol):
    call_id: str
    destination: str
    started_at: datetime
    ended_at: datetime
    price: Decimal


def bill(conn: Connection, subscriber: str, period: Period | str) -> Bill:
    return bills(conn, [(subscriber, str(period))])[(subscriber, str(period))]


def bills(conn: Connection, keys: Sequence[BillKey]) -> dict[BillKey, Bill]:
    """Several bills in one query (an RPC batch); a key without calls gets an empty bill."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    query = select(
        priced_calls.c.source,
        priced_calls.c.period,
        priced_calls.c.call_id,
        priced_calls.c.destination,
        priced_calls.c.started_at,
        priced_calls.c.ended_at,
        priced_calls.c.price,
    ).where(tuple_(priced_calls.c.source, priced_calls.c.period).in_(wanted))
    calls_by_key: dict[BillKey, list] = defaultdict(list)
    for row in conn.execute(query):
        calls_by_key[(row.source, row.period)].append(row)
    return {key: build_bill(key[0], key[1], calls_by_key[key]) for key in wanted}


def build_bill(subscriber: str, period: Period | str, calls: Iterable[PricedCall]) -> Bill:
    """Lines in call start order (call id breaks ties); total is the sum of the line prices."""
    ordered = sorted(calls, key=lambda call: (call.started_at, call.call_id))
    lines = [_line(call) for call in ordered]
    return Bill(
        subscriber=subscriber,
        period=str(period),
        total=sum((line.price for line in lines), Decimal("0.00")),
        calls=lines,
    )


def _line(call: PricedCall) -> BillLine:
    started_at = call.started_at.astimezone(timezone.utc)  # the session time zone may differ
    return BillLine(
        destination=call.destination,
        start_date=started_at.date(),
        start_time=started_at.time(),
        duration=format_duration(duration_seconds(call.started_at, call.ended_at)),
        price=call.price,
    )
