"""`switchboard bill SUBSCRIBER`: a monthly bill, from PostgreSQL or over AMQP (RPC)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from switchboard.settings import get_settings
from switchboard.store import with_store


def bill(
    subscriber: Annotated[str, typer.Argument(help="the subscriber's phone number")],
    period: Annotated[Optional[str], typer.Option(help="YYYY-MM; default: the last closed month")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    via_amqp: Annotated[bool, typer.Option("--via-amqp", help="ask the bill-requests consumer (RPC)")] = False,
) -> None:
    """Print a subscriber's monthly bill."""
    from pydantic import ValidationError

    from schemas.base import describe_errors
    from schemas.periods import bill_period
    from schemas.telephony import BillError, BillRequest

    try:
        BillRequest(subscriber=subscriber, period=period)
        closed = bill_period(period, datetime.now(timezone.utc).date())
    except ValidationError as error:
        _fail(describe_errors(error))
    except ValueError as error:
        _fail(str(error))
    result = _bill_over_amqp(subscriber, str(closed)) if via_amqp else _bill_from_database(subscriber, str(closed))
    if isinstance(result, BillError):
        _fail(result.error)
    typer.echo(result.model_dump_json() if as_json else render_bill(result))


def _bill_from_database(subscriber: str, period: str):
    from storage.bills import bill as query_bill

    return with_store(lambda connection: query_bill(connection, subscriber, period))


def _bill_over_amqp(subscriber: str, period: str):
    from producers.bill_rpc import BillUnavailable, request_bill

    try:
        return request_bill(get_settings().amqp_url, subscriber, period)
    except BillUnavailable as error:
        _fail(str(error))


def render_bill(bill) -> str:
    from consumers.pricing import format_brl

    lines = [f"Subscriber: {bill.subscriber}", f"Period:     {bill.period}", ""]
    lines.append(f"{'destination':<12} {'date':<10} {'time':<8} {'duration':>10} {'price':>10}")
    for call in bill.calls:
        lines.append(f"{call.destination:<12} {call.start_date.isoformat():<10} {call.start_time.isoformat():<8} "
                     f"{call.duration:>10} {format_brl(call.price):>10}")
    if not bill.calls:
        lines.append("(no calls in this period)")
    lines += ["", f"Total: {format_brl(bill.total)}"]
    return "\n".join(lines)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


__all__ = ["bill", "render_bill"]
