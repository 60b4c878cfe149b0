"""Orders: every valid event stored once, the current status recomputed from them, reads."""

from __future__ import annotations

import json
from typing import Collection, Sequence

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.types import Text

from schemas.orders import OrderCreated, OrderStatusChanged
from storage.notification_tables import order_events, orders

OrderEvent = OrderCreated | OrderStatusChanged
_ORDER_LOCK_SPACE = 0x0DE7  # first key of the two-int advisory lock: apart from call ids

_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) FROM "
    "(SELECT DISTINCT hashtext(x) AS k FROM unnest(:ids) AS x ORDER BY k) AS keys"
).bindparams(bindparam("ids", type_=ARRAY(Text)))

_INSERT_EVENTS = text(
    "INSERT INTO order_events (order_id, event_key, type, customer_id, status, previous_status, at, items, total) "
    "SELECT * FROM unnest(CAST(:order_id AS text[]), CAST(:event_key AS text[]), CAST(:type AS text[]), "
    "CAST(:customer_id AS text[]), CAST(:status AS text[]), CAST(:previous_status AS text[]), "
    "CAST(:at AS timestamptz[]), CAST(:items AS jsonb[]), CAST(:total AS numeric[])) "
    "ON CONFLICT (order_id, event_key) DO NOTHING")

# The latest valid event by the time it happened; at the same instant the status further along
# wins, then the event key (so the result never depends on arrival order).
_REFRESH = text(
    "INSERT INTO orders (order_id, customer_id, status, status_at) "
    "SELECT DISTINCT ON (order_id) order_id, customer_id, status, at FROM order_events "
    "WHERE order_id = ANY(:ids) ORDER BY order_id, at DESC, "
    "array_position(ARRAY['waiting','preparation','ready','delivered','canceled'], status) DESC, event_key DESC "
    "ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status, "
    "status_at = EXCLUDED.status_at, updated_at = now()"
).bindparams(bindparam("ids", type_=ARRAY(Text)))


def lock_orders(conn: Connection, order_ids: Collection[str]) -> None:
    """Serialize work on these orders until the transaction ends (sorted keys: no deadlocks)."""
    if order_ids:
        conn.execute(_LOCK, {"space": _ORDER_LOCK_SPACE, "ids": sorted(set(order_ids))})


def customers_of(conn: Connection, order_ids: Collection[str]) -> dict[str, str]:
    query = select(orders.c.order_id, orders.c.customer_id).where(orders.c.order_id.in_(set(order_ids)))
    return dict(conn.execute(query).all())


def record_events(conn: Connection, events: Sequence[OrderEvent]) -> None:
    """Store every event once (a redelivery changes nothing), then each touched order's status."""
    if not events:
        return
    ordered = sorted(events, key=lambda e: (e.order_id, e.event_key()))
    conn.execute(_INSERT_EVENTS, {
        "order_id": [e.order_id for e in ordered], "event_key": [e.event_key() for e in ordered],
        "type": [e.type for e in ordered], "customer_id": [e.customer_id for e in ordered],
        "status": [e.status for e in ordered], "previous_status": [e.previous for e in ordered],
        "at": [e.at.isoformat() for e in ordered],
        "items": [json.dumps([i.model_dump() for i in e.items]) if e.items is not None else None for e in ordered],
        "total": [e.total for e in ordered]})
    conn.execute(_REFRESH, {"ids": sorted({e.order_id for e in ordered})})


def order_with_history(conn: Connection, order_id: str) -> dict | None:
    found = conn.execute(select(orders).where(orders.c.order_id == order_id)).mappings().first()
    if found is None:
        return None
    history = conn.execute(
        select(order_events.c.status, order_events.c.at).where(order_events.c.order_id == order_id)
        .order_by(order_events.c.at, order_events.c.event_key)).mappings().all()
    return {"order_id": found["order_id"], "customer_id": found["customer_id"], "status": found["status"],
            "history": [{"status": row["status"], "at": row["at"]} for row in history]}


def order_document(conn: Connection, order_id: str) -> dict | None:
    """An order as `switchboard order --json` and `GET /orders/{id}` print it."""
    found = order_with_history(conn, order_id)
    if found is not None:
        found["history"] = [{"status": item["status"], "at": item["at"].isoformat()} for item in found["history"]]
    return found
