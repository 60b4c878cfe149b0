"""`switchboard publish KIND FILE`: validate a JSON-lines file and publish its valid messages.

Every kind behaves the same: progress while it runs, each rejected line with its number and
reason, the count published; exit status 1 if any line was rejected, 2 if nothing could be
published (no such file, or RabbitMQ refused: the message says what to do).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from switchboard.settings import get_settings

publish_app = typer.Typer(no_args_is_help=True, help="Validate and publish messages from JSON-lines files.")


def loader(kind: str, parse: str, noun: str, summary: str) -> None:
    """Register `switchboard publish KIND FILE`; `parse` is "module:function", imported when used."""

    def command(path: str) -> None:
        module, function = parse.split(":")
        publish(path, getattr(importlib.import_module(module), function), noun)

    # Built here, not in the signature: the help text names this kind's records.
    command.__annotations__ = {
        "path": Annotated[str, typer.Argument(help=f"JSON lines file of {noun}, or - for stdin")], "return": None}
    command.__doc__ = summary
    publish_app.command(kind)(command)


def publish(path: str, parse, noun: str) -> None:
    from broker.errors import LinkFailed, PublishError
    from producers.files import publish_file
    from producers.publisher import Publisher
    from switchboard.progress import count_lines, progress

    if path != "-" and not Path(path).is_file():
        _fail(f"no such file: {path}", 2)
    settings = get_settings()
    try:
        with progress("confirmed", count_lines(path), noun) as update, \
                Publisher(settings.amqp_url, app_id=settings.app_id, window=settings.publish_window,
                          confirm_timeout=settings.confirm_timeout_s) as publisher:
            report = publish_file(publisher, path, parse, on_progress=update)
    except LinkFailed as error:  # retrying cannot fix it: the message says what to do
        _fail(str(error), 2)
    except PublishError as error:
        _fail(str(error), 1)
    for line in report.rejected:
        typer.echo(f"line {line.line_number}: rejected: {line.reason}", err=True)
    typer.echo(f"published {report.published} {noun}, rejected {len(report.rejected)} lines")
    if report.rejected:
        raise typer.Exit(1)


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


loader("calls", "producers.calls:parse_call_object", "records",
       "Publish call records (start/end); a record without an id gets <call_id>-<type>.")
loader("events", "producers.events:forward_event", "events",
       "Publish behaviour events as sent (routed by category and name); the event-sessions consumer judges "
       "the rest and keeps what it refuses (`switchboard event-errors`). Publishes as the user of "
       "SWITCHBOARD_AMQP_URL, the application (`switchboard apps add`).")
