"""Contacts, notification requests and order events from files: what a line must hold.

A notification request without an `id` gets one derived from its content (contact, subject,
body, send_at, channels): loading the same file twice requests each notification once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from schemas.notifications import ContactUpserted, NotificationRequested
from schemas.orders import OrderCreated, OrderStatusChanged
from schemas.orders import parse_order_event as _parse_order_event


def parse_contact(data: dict[str, Any]) -> ContactUpserted:
    return ContactUpserted.model_validate(data)


def parse_notification(data: dict[str, Any]) -> NotificationRequested:
    if "id" not in data:
        content = json.dumps({key: data.get(key) for key in ("contact_id", "subject", "body", "send_at", "channels")},
                             sort_keys=True, default=str)
        data = {**data, "id": "n-" + hashlib.sha256(content.encode()).hexdigest()[:24]}
    return NotificationRequested.model_validate(data)


def parse_order_event(data: dict[str, Any]) -> OrderCreated | OrderStatusChanged:
    return _parse_order_event(data)
