"""The sms and email consumers: both receive every notification request (topic fan-out), and
each records what its channel will do with it, once per (notification, channel):

- not for this channel (`channels` names others): `skipped`, "channel not requested";
- otherwise `scheduled`, due at `send_at` (or now). The channel's dispatcher sends it when it is
  due, reading the contact's preferences and address then (consumers/delivery/dispatcher.py).

A request seen again changes nothing, except one replayed from the dead letters (it carries
x-switchboard-replays): that is an operator asking for a failed delivery to be tried again.

Nothing is sent from here and nothing waits here: a request is committed and acked at once,
so a million requests for next week hold no memory and no unacked message.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.engine import Connection

from consumers.runtime.deadletter import REPLAYS
from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas import topology
from schemas.notifications import Channel, NotificationRequested
from storage.deliveries import fingerprint, record_requests


def decode_request(routing_key: str, body: bytes) -> NotificationRequested:
    return NotificationRequested.model_validate_json(body)


def handler_for(channel: Channel):
    def handle_batch(conn: Connection, batch: Sequence[Incoming[NotificationRequested]]) -> BatchOutcome:
        first: dict[str, NotificationRequested] = {}
        outcome = BatchOutcome()
        for index, message in enumerate(batch):
            request = first.setdefault(message.payload.id, message.payload)
            if fingerprint(request) != fingerprint(message.payload):
                outcome.rejected[index] = f"notification {request.id} was requested twice with different content"
        replayed = [m.payload.id for m in batch if REPLAYS in m.headers]
        refused = record_requests(conn, channel, list(first.values()), retry_failed=replayed)
        outcome.rejected.update({index: refused[message.payload.id] for index, message in enumerate(batch)
                                 if message.payload.id in refused})
        return outcome

    return handle_batch


SMS = ConsumerSpec(name="sms", queue=topology.SMS, decode=decode_request, handle=handler_for("sms"))
EMAIL = ConsumerSpec(name="email", queue=topology.EMAIL, decode=decode_request, handle=handler_for("email"))
