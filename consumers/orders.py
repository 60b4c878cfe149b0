"""Orders: coffee-shop order events in, each order's status and history kept, the customer told.

- An event outside the status graph (schemas/orders.py) is dead-lettered with the reason and
  tells no one. So is an event for an order that belongs to another customer.
- Every valid event is stored once (a redelivery changes nothing); the order's status is
  that of its latest valid event by the time it happened, whatever the arrival order.
- Every valid event, new or seen before, is announced as one `notification.requested` with
  an id derived from the event: after a crash between the commit and the publish, the
  redelivered event announces it again, and the channel consumers record it once.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.engine import Connection

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas import topology
from schemas.notifications import NotificationRequested
from schemas.orders import OrderCreated, OrderStatusChanged, decode_order_event, transition_error
from storage import orders as store

OrderEvent = OrderCreated | OrderStatusChanged

MESSAGES = {
    ("created", "waiting"): "We got your order {id}: it is waiting to be prepared.",
    ("status_changed", "preparation"): "Your order {id} is being prepared.",
    ("status_changed", "waiting"): "Your order {id} is back in the queue: it will be prepared shortly.",
    ("status_changed", "ready"): "Your order {id} is ready for pick-up.",
    ("status_changed", "delivered"): "Your order {id} was delivered. Enjoy!",
    ("status_changed", "canceled"): "Your order {id} was canceled.",
}


def notification_for(event: OrderEvent) -> NotificationRequested:
    text = MESSAGES[(event.type, event.status)].format(id=event.order_id)
    return NotificationRequested(id=f"order-{event.order_id}-{event.event_key()[:16]}", contact_id=event.customer_id,
                                 subject=f"Order {event.order_id}", body=text)


def handle_batch(conn: Connection, batch: Sequence[Incoming[OrderEvent]]) -> BatchOutcome:
    outcome = BatchOutcome()
    events = [message.payload for message in batch]
    store.lock_orders(conn, {event.order_id for event in events})
    customers = store.customers_of(conn, {event.order_id for event in events})
    valid: dict[str, OrderEvent] = {}  # by event key: a duplicate in the batch counts once
    for index, event in enumerate(events):
        reason = transition_error(event.previous, event.status) or _other_customer(event, customers)
        if reason:
            outcome.rejected[index] = f"order {event.order_id}: {reason}"
            continue
        customers.setdefault(event.order_id, event.customer_id)
        valid.setdefault(event.event_key(), event)
    store.record_events(conn, list(valid.values()))
    outcome.emits = [notification_for(event) for event in valid.values()]
    return outcome


def _other_customer(event: OrderEvent, customers: dict[str, str]) -> str | None:
    owner = customers.get(event.order_id)
    if owner is not None and owner != event.customer_id:
        return f"it belongs to customer {owner}, not {event.customer_id}"
    return None


CONSUMER = ConsumerSpec(
    name="orders",
    queue=topology.ORDER_EVENTS,
    decode=decode_order_event,
    handle=handle_batch,
    emits=(NotificationRequested,),
)
