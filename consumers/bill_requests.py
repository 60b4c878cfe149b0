"""Bill requests: an RPC server. Each request with a `reply_to` gets a reply, a bill or an error.

A malformed request is still answered (with a BillError) when the caller said where to reply:
dead-lettering it would leave the caller waiting for nothing. Without `reply_to` there is no
one to answer, so the request is dead-lettered with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, Sequence

from pydantic import ValidationError
from sqlalchemy.engine import Connection

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming, Reply
from schemas import topology
from schemas.base import describe_errors
from schemas.periods import Period, bill_period
from schemas.telephony import BillError, BillRequest
from storage.bills import bills


@dataclass(frozen=True)
class InvalidBillRequest:
    """A request body that failed validation: kept so the caller can be told why."""

    error: str


def decode_bill_request(routing_key: str, body: bytes) -> BillRequest | InvalidBillRequest:
    try:
        return BillRequest.model_validate_json(body)
    except ValidationError as error:
        return InvalidBillRequest(f"invalid bill request: {describe_errors(error)}")


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def make_handler(today: Callable[[], date] = utc_today):
    def handle_batch(conn: Connection, batch: Sequence[Incoming]) -> BatchOutcome:
        outcome = BatchOutcome()
        answerable: list[tuple[Incoming, str, Period]] = []
        for index, message in enumerate(batch):
            if not message.reply_to:
                outcome.rejected[index] = "no reply_to"
                continue
            request = message.payload
            try:
                if isinstance(request, InvalidBillRequest):
                    raise ValueError(request.error)
                answerable.append((message, request.subscriber, bill_period(request.period, today())))
            except ValueError as error:
                outcome.emits.append(Reply(BillError(error=str(error)), to=message))

        found = bills(conn, [(subscriber, str(period)) for _, subscriber, period in answerable])
        for message, subscriber, period in answerable:
            outcome.emits.append(Reply(found[(subscriber, str(period))], to=message))
        return outcome

    return handle_batch


handle_batch = make_handler()

CONSUMER = ConsumerSpec(
    name="bill-requests",
    queue=topology.BILL_REQUESTS,
    decode=decode_bill_request,
    handle=handle_batch,
)
