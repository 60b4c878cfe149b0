"""`switchboard replay EXCHANGE --since T ...`: publish an exchange's archived messages again."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from switchboard.settings import get_settings
from switchboard.timeargs import parse_moment


def replay(
    exchange: Annotated[str, typer.Argument(help="an exchange of the fleet, e.g. telephony")],
    since: Annotated[str, typer.Option(help="from this time (ISO 8601; no zone means UTC)")],
    until: Annotated[Optional[str], typer.Option(help="up to this time (default: everything since)")] = None,
    routing_key: Annotated[Optional[str], typer.Option(help="only these routing keys (topic pattern, e.g. call.*)")] = None,
    to_queue: Annotated[Optional[str], typer.Option(help="only into this queue, not to the exchange's consumers")] = None,
    rate: Annotated[Optional[float], typer.Option(help="at most this many messages per second")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would be replayed; publish nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Publish the archived messages of EXCHANGE again (consumers are idempotent: what they
    already processed changes nothing). Each keeps its message id, properties and body."""
    from producers.replay import NoArchive, ReplayRequest
    from producers.replay import replay as run_replay

    try:
        request = ReplayRequest(exchange, parse_moment(since, "--since"),
                                parse_moment(until, "--until") if until else None, routing_key, to_queue,
                                rate, dry_run)
    except ValueError as error:
        _fail(str(error))
    if request.until is not None and request.until < request.since:
        _fail("--until must not be before --since")
    if rate is not None and rate <= 0:
        _fail("--rate must be a positive number of messages per second")
    try:
        report = run_replay(get_settings().amqp_url, request, on_progress=_progress if sys.stderr.isatty() else None)
    except NoArchive as error:
        _fail(str(error))
    if sys.stderr.isatty():
        typer.echo("", err=True)
    if as_json:
        typer.echo(json.dumps({"exchange": exchange, "since": request.since.isoformat(),
                               "until": request.until.isoformat() if request.until else None,
                               "dry_run": dry_run, **report.as_dict()}))
    else:
        typer.echo(f"read {report.read}, matched {report.matched}, "
                   f"{'would republish' if dry_run else 'republished'} {report.matched if dry_run else report.republished}")


def _progress(report) -> None:
    typer.echo(f"\rread {report.read:,}, matched {report.matched:,}, republished {report.republished:,}",
               err=True, nl=False)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
