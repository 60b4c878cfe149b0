"""`switchboard dead-letters list|show|replay|purge QUEUE`: what was refused, why, and what to do."""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from typing import Annotated, Optional

import typer

from switchboard.settings import get_settings

dead_letters_app = typer.Typer(no_args_is_help=True, help="What a queue refused and why; replay it after a fix, or purge it.")

QueueArg = Annotated[str, typer.Argument(help="a consumer queue, e.g. call-pairing (its dead letters are in <queue>.dead)")]
Reason = Annotated[Optional[str], typer.Option(help="only those whose reason contains this (any case)")]
OlderThan = Annotated[Optional[str], typer.Option(help="only those dead-lettered longer ago than this: 90s, 15m, 2h, 7d")]
Limit = Annotated[Optional[int], typer.Option(help="at most this many")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="say what would be done; do nothing")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON for scripts")]
_DURATION = re.compile(r"^(\d+)([smhd])$")


@dead_letters_app.command("list")
def list_letters(queue: QueueArg, reason: Reason = None, older_than: OlderThan = None, limit: Limit = 100,
                 as_json: AsJson = False) -> None:
    """Each dead letter: when, which message, its origin, how often replayed, and why."""
    from switchboard import deadletters

    letters = deadletters.listing(get_settings().amqp_url, _dead_letter_queue(queue), _filter(reason, older_than, limit))
    if as_json:
        typer.echo(json.dumps([letter.as_dict() for letter in letters]))
        return
    for letter in letters:
        typer.echo(f"{letter.dead_lettered_at}  {letter.message_id}  [{letter.routing_key}]  "
                   f"replays={letter.replays}  {letter.reason}")
    typer.echo(f"{len(letters)} dead letters", err=True)


@dead_letters_app.command("show")
def show(queue: QueueArg, message_id: Annotated[str, typer.Argument(help="the dead letter's message id")],
         as_json: AsJson = False) -> None:
    """One dead letter whole: its headers and its body."""
    from switchboard import deadletters

    found = deadletters.find(get_settings().amqp_url, _dead_letter_queue(queue), message_id)
    if found is None:
        _fail(f"no dead letter {message_id!r} in {_dead_letter_queue(queue)}")
    letter, headers, body = found
    document = {**letter.as_dict(), "headers": {k: str(v) for k, v in headers.items()},
                "body": body.decode("utf-8", errors="replace")}
    document.pop("body_preview")
    if as_json:
        typer.echo(json.dumps(document))
        return
    for key, value in document.items():
        if key not in ("headers", "body"):
            typer.echo(f"{key}: {value}")
    typer.echo("headers:")
    for key, value in document["headers"].items():
        typer.echo(f"  {key}: {value}")
    typer.echo(f"body:\n{document['body']}")


@dead_letters_app.command("replay")
def replay(queue: QueueArg, reason: Reason = None, older_than: OlderThan = None, limit: Limit = None,
           dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Publish them again to where they came from (through the exchange's replay twin: not
    archived twice). One replayed SWITCHBOARD_MAX_REPLAYS times stays parked; one nothing is
    bound to stays too. Exit status 1 if any matching message stayed."""
    from schemas.topology import EXCHANGES, replay_exchange_of
    from switchboard import deadletters

    settings = get_settings()
    archived = {exchange.name for exchange in EXCHANGES} if settings.archive else set()

    def route(exchange: str, routing_key: str) -> tuple[str, str]:
        return (replay_exchange_of(exchange) if exchange in archived else exchange), routing_key

    report = _with_progress(queue, "replayed", lambda progress: deadletters.replay(
        settings.amqp_url, _dead_letter_queue(queue), _filter(reason, older_than, limit),
        max_replays=settings.max_replays, dry_run=dry_run, route=route, on_progress=progress))
    _report(report, "would replay" if dry_run else "replayed", as_json)
    if report.kept:
        raise typer.Exit(1)


@dead_letters_app.command("purge")
def purge(queue: QueueArg, reason: Reason = None, older_than: OlderThan = None, limit: Limit = None,
          dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Delete them for good (use the filters and --dry-run first)."""
    from switchboard import deadletters

    report = _with_progress(queue, "purged", lambda progress: deadletters.purge(
        get_settings().amqp_url, _dead_letter_queue(queue), _filter(reason, older_than, limit), dry_run=dry_run,
        on_progress=progress))
    _report(report, "would purge" if dry_run else "purged", as_json)


def _dead_letter_queue(queue: str) -> str:
    from schemas.topology import QUEUES

    names = {spec.name: spec.dead_letter_queue for spec in QUEUES}
    if queue not in names:
        _fail(f"unknown queue {queue!r}; known: {', '.join(names)}")
    return names[queue]


def _filter(reason: str | None, older_than: str | None, limit: int | None):
    from switchboard.deadletters import Filter

    if limit is not None and limit < 1:
        _fail("--limit must be at least 1")
    return Filter(reason=reason, older_than=_duration(older_than) if older_than else None, limit=limit)


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        _fail(f"--older-than must be a number and a unit (s, m, h or d), such as 15m or 7d; got {text!r}")
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]: int(match[1])})


def _with_progress(queue: str, verb: str, work):
    if not sys.stderr.isatty():
        return work(None)
    from switchboard.progress import progress

    with progress("looked at", _depth(_dead_letter_queue(queue)), "dead letters") as update:
        return work(update)


def _depth(queue: str) -> int | None:
    import kombu

    try:
        with kombu.Connection(get_settings().amqp_url, connect_timeout=5) as connection:
            return connection.channel().queue_declare(queue=queue, passive=True).message_count
    except Exception:  # noqa: BLE001 - only a progress bar's total
        return None


def _report(report, verb: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    for why in report.kept:
        typer.echo(f"kept: {why}", err=True)
    typer.echo(f"{report.matched} matched, {verb} {report.done}, kept {len(report.kept)}")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
