"""Billing: prices each completed call once, with the tariff in force when it started.

The price and the tariff that produced it are stored the first time; a re-announced call
keeps its stored price (later tariff changes never reprice it). Every call of a batch is
(re)announced as `call.priced` from what is stored, so a crash before publishing is harmless.
A call belongs to the bill of the UTC month in which it ended.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.engine import Connection

from consumers.pricing import Tariff, price_call, select_tariff
from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from schemas import topology
from schemas.periods import Period
from schemas.telephony import CallCompleted, CallPriced
from storage import telephony as store


def decode_call_completed(routing_key: str, body: bytes) -> CallCompleted:
    return CallCompleted.model_validate_json(body)


def price_completed_call(call: CallCompleted, tariffs: Sequence[Tariff]) -> CallPriced:
    """Pure: the priced call (raises LookupError when no tariff was in force at its start)."""
    tariff = select_tariff(tariffs, call.started_at)
    return CallPriced(
        **call.model_dump(),
        price=price_call(call.started_at, call.ended_at, tariff),
        tariff_id=tariff.id,
        period=str(Period.containing(call.ended_at)),
    )


def handle_batch(conn: Connection, batch: Sequence[Incoming[CallCompleted]]) -> BatchOutcome:
    indexes_by_call: dict[str, list[int]] = {}
    calls: dict[str, CallCompleted] = {}  # in-batch dedupe: the first announcement of each call
    for index, message in enumerate(batch):
        indexes_by_call.setdefault(message.payload.call_id, []).append(index)
        calls.setdefault(message.payload.call_id, message.payload)

    priced = store.fetch_priced_calls(conn, calls)
    outcome = BatchOutcome()
    fresh = []
    unpriced = [call for call_id, call in calls.items() if call_id not in priced]
    tariffs = _tariffs_for(conn, unpriced)
    for call in unpriced:
        try:
            fresh.append(price_completed_call(call, tariffs))
        except LookupError as error:
            outcome.rejected.update({index: str(error) for index in indexes_by_call[call.call_id]})

    inserted = store.insert_priced_calls(conn, fresh)
    priced.update({call.call_id: call for call in fresh if call.call_id in inserted})
    raced = [call.call_id for call in fresh if call.call_id not in inserted]
    priced.update(store.fetch_priced_calls(conn, raced))  # another worker priced them first

    # call.priced is a broadcast: no queue of the fleet binds it yet, so it is not mandatory.
    outcome.emits = [priced[call_id] for call_id in calls if call_id in priced]
    return outcome


def _tariffs_for(conn: Connection, calls: Sequence[CallCompleted]) -> list[Tariff]:
    if not calls:
        return []
    starts = [call.started_at for call in calls]
    return [Tariff(**row) for row in store.tariffs_in_force(conn, min(starts), max(starts))]


CONSUMER = ConsumerSpec(
    name="billing",
    queue=topology.BILLING,
    decode=decode_call_completed,
    handle=handle_batch,
    emits=(CallPriced,),
)
