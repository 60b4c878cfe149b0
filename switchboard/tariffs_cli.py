"""`switchboard tariffs list|add`: the tariffs calls are priced with.

Only tariffs that take effect in the future can be added. A price, once calculated, is stored
for good; a tariff dated in the past would price the calls it covers differently depending on
whether billing met them before or after it was added.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Optional

import typer

from switchboard.store import with_store

tariffs_app = typer.Typer(no_args_is_help=True, help="List the tariffs, or add one that takes effect in the future.")


@tariffs_app.command("list")
def list_tariffs(as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False) -> None:
    """Every tariff, oldest first: which one prices a call is the latest in force when it started."""
    from storage import telephony as store

    rows = _with_database(store.all_tariffs)
    if as_json:
        typer.echo(json.dumps([_as_json(row) for row in rows]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "effective from", "standing charge", "per minute", "standard time", "zone")
    for row in rows:
        table.add_row(row["id"], row["name"], row["effective_from"].astimezone(timezone.utc).isoformat(),
                      str(row["standing_charge"]), str(row["per_minute"]),
                      f"{row['standard_start']:%H:%M}-{row['standard_end']:%H:%M}", row["timezone"])
    Console().print(table)


@tariffs_app.command("add")
def add_tariff(
    name: Annotated[str, typer.Argument(help="a name people recognise, e.g. 'Tariff of 2027'")],
    effective_from: Annotated[str, typer.Option(help="when it takes effect: ISO 8601 with a zone, in the future")],
    standing_charge: Annotated[str, typer.Option(help="paid once per call, e.g. 0.36")],
    per_minute: Annotated[str, typer.Option(help="per completed minute of standard time, e.g. 0.09")],
    standard_start: Annotated[str, typer.Option(help="standard time opens, HH:MM")] = "06:00",
    standard_end: Annotated[str, typer.Option(help="standard time closes, HH:MM")] = "22:00",
    zone: Annotated[str, typer.Option("--timezone", help="the zone the window is read in")] = "UTC",
    tariff_id: Annotated[Optional[str], typer.Option("--id", help="default: derived from the date and name")] = None,
) -> None:
    """Add a tariff that takes effect in the future (a price, once calculated, never changes, so
    a tariff dated in the past is refused)."""
    from consumers.pricing import Tariff
    from storage import telephony as store

    starts = _future_moment(effective_from)
    try:
        tariff = Tariff(id=tariff_id or _derived_id(starts, name), name=name, effective_from=starts,
                        standing_charge=_amount("standing charge", standing_charge, 2),
                        per_minute=_amount("per-minute price", per_minute, 4),
                        standard_start=_clock("standard start", standard_start),
                        standard_end=_clock("standard end", standard_end), timezone=zone)
    except (ValueError, LookupError) as error:  # an unknown zone is a LookupError (ZoneInfoNotFoundError)
        _fail(f"invalid tariff: {error}")
    if not _with_database(lambda conn: store.add_tariff(conn, tariff.__dict__), write=True):
        _fail(f"a tariff with id {tariff.id!r} or taking effect at {starts.isoformat()} exists already")
    typer.echo(f"added tariff {tariff.id}: in force from {starts.isoformat()}")


def _future_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--effective-from must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z, got {text!r}")
    if moment.tzinfo is None:
        _fail(f"--effective-from must carry a time zone (Z or an offset), got {text!r}")
    if moment <= datetime.now(timezone.utc):
        _fail(f"--effective-from {moment.isoformat()} is not in the future: prices already calculated never "
              "change, so a tariff can only take effect from a moment still to come")
    return moment.astimezone(timezone.utc)


def _amount(what: str, text: str, places: int) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        _fail(f"{what} must be a decimal number such as 0.36, got {text!r}")
    if not value.is_finite() or value < 0 or value != round(value, places):
        _fail(f"{what} must be a non-negative amount with at most {places} decimal places, got {text!r}")
    return value


def _clock(what: str, text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        _fail(f"{what} must be a time of day written HH:MM, got {text!r}")


def _derived_id(starts: datetime, name: str) -> str:
    return (f"{starts:%Y%m%dT%H%M%SZ}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))[:64]


def _with_database(action, write: bool = False):
    from sqlalchemy.exc import OperationalError

    try:
        return with_store(action, write=write)
    except OperationalError as error:
        _fail(f"PostgreSQL not reachable: {str(error.orig).strip().splitlines()[0]}")


def _as_json(row: dict) -> dict:
    return {**row, "effective_from": row["effective_from"].astimezone(timezone.utc).isoformat(),
            "standing_charge": str(row["standing_charge"]), "per_minute": str(row["per_minute"]),
            "standard_start": row["standard_start"].isoformat(), "standard_end": row["standard_end"].isoformat()}


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
