"""`switchboard session | events | event-errors`: what the event-sessions consumer stored.

Time options take ISO 8601 dates or date-times; a time without a zone is UTC. `--since` is
inclusive; `--until` is exclusive, and a date given to it means the end of that day (so
`--since 2021-01-01 --until 2021-01-01` is that whole day).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Optional
from uuid import UUID

import typer

from switchboard.store import with_store

AsJson = Annotated[bool, typer.Option("--json", help="print one JSON document")]
Since = Annotated[Optional[str], typer.Option(help="from this date or date-time (inclusive; UTC unless it says)")]
Until = Annotated[Optional[str], typer.Option(help="up to this date-time (exclusive) or the end of this date")]
Application = Annotated[Optional[str], typer.Option(help="only what this application sent")]
Limit = Annotated[int, typer.Option(min=1, help="at most this many, oldest first")]


def session(session_id: Annotated[str, typer.Argument(help="the session's UUID")], as_json: AsJson = False) -> None:
    """A session's events, ordered by the time they happened (ties by id)."""
    from storage.event_queries import session as query_session

    try:
        wanted = str(UUID(session_id))
    except ValueError:
        _fail(f"SESSION_ID must be a UUID such as 8a1c0f0e-5a53-4d6c-9f0a-3e1b2c4d5e6f, got {session_id!r}")
    found = with_store(lambda conn: query_session(conn, wanted))
    if found is None:
        _fail(f"no session {wanted}: none of its events has been stored")
    if as_json:
        typer.echo(found.model_dump_json())
        return
    typer.echo(f"Session:      {found.session_id}\nStarted:      {_iso(found.started_at)}\n"
               f"Ended:        {_iso(found.ended_at)}\nApplications: {', '.join(found.applications)}\n")
    _print_events(found.events)


def events(
    category: Annotated[Optional[str], typer.Option(help="e.g. 'page interaction' (or page_interaction)")] = None,
    name: Annotated[Optional[str], typer.Option(help="e.g. 'cta click' (or cta_click)")] = None,
    application: Application = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 1000,
    as_json: AsJson = False,
) -> None:
    """Stored events, by the time they happened, filtered by type, application and time."""
    from schemas.event_types import type_word
    from storage.event_queries import EventFilter, find_events

    try:
        wanted = EventFilter(category=category and type_word(category), name=name and type_word(name),
                             application=application, since=parse_moment(since, "--since"),
                             until=parse_moment(until, "--until", end_of_day=True), limit=limit)
    except ValueError as error:
        _fail(str(error))
    found = with_store(lambda conn: find_events(conn, wanted))
    if as_json:
        typer.echo(json.dumps([event.model_dump(mode="json") for event in found]))
        return
    _print_events(found)


def event_errors(
    since: Since = None,
    until: Until = None,
    application: Application = None,
    limit: Limit = 1000,
    as_json: AsJson = False,
) -> None:
    """Events the event-sessions consumer refused, with the reason and the body (cut to 8 KiB)."""
    from storage.event_queries import find_errors

    try:
        since_at, until_at = parse_moment(since, "--since"), parse_moment(until, "--until", end_of_day=True)
    except ValueError as error:
        _fail(str(error))
    found = with_store(lambda conn: find_errors(conn, since_at, until_at, application, limit))
    rows = [{**row, "received_at": _iso(row["received_at"])} for row in found]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['received_at']}  {row['application'] or '-'}  {row['reason']}\n    {_cut(row['body'], 200)}")
    typer.echo(f"{len(rows)} refused event{'' if len(rows) == 1 else 's'}")


def parse_moment(text: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time as a UTC instant; ValueError naming the option if it is neither."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), timezone.utc)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be an ISO 8601 date (2021-01-01) or date-time (2021-01-01T09:15:00Z), "
                         f"got {text!r}") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _print_events(found) -> None:
    for event in found:
        typer.echo(f"{_iso(event.timestamp)}  {event.category}/{event.name}  {event.application}  {event.id}  "
                   f"{_cut(json.dumps(event.data), 100)}")
    typer.echo(f"{len(found)} event{'' if len(found) == 1 else 's'}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
