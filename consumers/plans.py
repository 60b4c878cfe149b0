"""Plans: every plan the provider ever showed, kept (../shared/specs/plans.md).

A `plan.seen` upserts its plan by (base_plan_id, plan_id): the content of the latest sighting
wins, `ever_online` only ever turns on, first and last seen widen. Nothing is deleted: a plan
that disappears from the feed or turns offline stays searchable if it was ever online.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.engine import Connection

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas import topology
from schemas.plans import PlanSeen
from storage.plans import upsert_plans


def decode_plan(routing_key: str, body: bytes) -> PlanSeen:
    return PlanSeen.model_validate_json(body)


def handle_batch(conn: Connection, batch: Sequence[Incoming[PlanSeen]]) -> BatchOutcome:
    upsert_plans(conn, [message.payload for message in batch])
    return BatchOutcome()


CONSUMER = ConsumerSpec(name="plans", queue=topology.PLANS, decode=decode_plan, handle=handle_batch)
