"""Contacts: who can be notified, where, and by which channels they want to be.

A contact update is partial and each field keeps the value of its latest update (by the
update's `updated_at`), whatever the arrival order (schemas/notifications.py). A contact with
an invalid phone number or e-mail address is dead-lettered with the reason, and nothing of it
is stored.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.engine import Connection

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas import topology
from schemas.notifications import ContactUpserted
from storage.contacts import upsert_contacts


def decode_contact(routing_key: str, body: bytes) -> ContactUpserted:
    return ContactUpserted.model_validate_json(body)


def handle_batch(conn: Connection, batch: Sequence[Incoming[ContactUpserted]]) -> BatchOutcome:
    upsert_contacts(conn, [message.payload for message in batch])
    return BatchOutcome()


CONSUMER = ConsumerSpec(name="contacts", queue=topology.CONTACTS, decode=decode_contact, handle=handle_batch)
