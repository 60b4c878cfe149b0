"""The `switchboard` command."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import pika
import typer

from switchboard.logs import configure_logging
from switchboard.settings import get_settings
from switchboard.telephony_cli import bill, publish_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold URLs with passwords
    help="Switchboard: RabbitMQ -> PostgreSQL worker fleet.")


@app.callback()
def _setup() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def run(consumers: Annotated[Optional[list[str]], typer.Argument(help="consumer names (default: all)")] = None) -> None:
    """Run consumers: one in this process, or several (default all), one process each, supervised."""
    from switchboard.fleet import CONSUMERS, runtime_options

    names = consumers or list(CONSUMERS)
    unknown = [name for name in names if name not in CONSUMERS]
    if unknown:
        _fail(f"unknown consumer {', '.join(unknown)}; known: {', '.join(CONSUMERS)}")
    if len(names) == 1:
        from consumers.runtime.runner import run_consumer

        settings = get_settings()
        raise typer.Exit(run_consumer(CONSUMERS[names[0]], amqp_url=settings.amqp_url,
                                      database_url=settings.database_url, options=runtime_options(settings)))
    from switchboard.supervisor import Supervisor

    raise typer.Exit(Supervisor(names).run())


@app.command()
def topology() -> None:
    """Declare exchanges, queues, bindings and dead-letter queues (idempotent); print them."""
    from producers.declare import declarations, declare_blocking
    from schemas.topology import EXCHANGES, QUEUES
    from switchboard.fleet import queue_policy

    settings = get_settings()
    items = declarations(QUEUES, queue_policy(settings), EXCHANGES)
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    try:
        declare_blocking(connection.channel(), items)
    except pika.exceptions.ChannelClosedByBroker as error:
        _fail(f"declaration refused by RabbitMQ: {error.reply_text} "
              "(a queue that exists with other arguments must be deleted or migrated first)")
    finally:
        if connection.is_open:
            connection.close()
    for item in items:
        typer.echo(f"declared {item.describe()}")


@app.command()
def migrate() -> None:
    """Create the database if missing and apply the migrations."""
    from storage.migrate import upgrade

    created = upgrade(get_settings().database_url)
    typer.echo(("created database; " if created else "") + "migrations applied")


@app.command()
def wait(timeout: Annotated[float, typer.Option(help="seconds to wait for each service")] = 60.0) -> None:
    """Wait until RabbitMQ and PostgreSQL answer."""
    from switchboard.services import ServiceUnavailable, wait_for_postgres, wait_for_rabbitmq

    settings = get_settings()
    try:
        wait_for_rabbitmq(settings.amqp_url, timeout)
        wait_for_postgres(settings.database_url, timeout)
    except ServiceUnavailable as error:
        _fail(str(error))
    typer.echo("RabbitMQ and PostgreSQL are reachable")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="one JSON object for scripts")] = False) -> None:
    """Per queue: messages ready, unacked, consumers, dead-lettered."""
    from schemas.topology import QUEUES
    from switchboard.status import queue_status

    settings = get_settings()
    try:
        rows = queue_status(settings.amqp_url, settings.management_url, list(QUEUES))
    except OSError as error:
        _fail(f"RabbitMQ not reachable: {error}")
    if as_json:
        typer.echo(json.dumps({"queues": [row.as_dict() for row in rows]}))
        return
    typer.echo(f"{'queue':<16} {'ready':>8} {'unacked':>8} {'consumers':>9} {'dead':>8}")
    for row in rows:
        if not row.exists:
            typer.echo(f"{row.queue:<16} missing (run `switchboard topology`)")
            continue
        cells = [_cell(row.ready), _cell(row.unacked), _cell(row.consumers), _cell(row.dead_lettered)]
        typer.echo(f"{row.queue:<16} {cells[0]:>8} {cells[1]:>8} {cells[2]:>9} {cells[3]:>8}")


@app.command("dead-letters")
def dead_letters(
    queue: Annotated[str, typer.Argument(help="a consumer queue, e.g. call-pairing")],
    limit: Annotated[int, typer.Option(help="at most this many messages")] = 20,
    do_replay: Annotated[bool, typer.Option("--replay", help="publish them again to their original routing key")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Show a queue's dead letters with their reasons, or replay them after a fix."""
    from schemas.topology import QUEUES
    from switchboard import deadletters

    names = {spec.name: spec for spec in QUEUES}
    if queue not in names:
        _fail(f"unknown queue {queue!r}; known: {', '.join(names)}")
    url = get_settings().amqp_url
    if do_replay:
        typer.echo(f"replayed {deadletters.replay(url, names[queue].dead_letter_queue, limit)} messages")
        return
    for letter in deadletters.peek(url, names[queue].dead_letter_queue, limit):
        if as_json:
            typer.echo(json.dumps(letter.as_dict()))
        else:
            typer.echo(f"{letter.dead_lettered_at}  {letter.message_id}  [{letter.routing_key}]  {letter.reason}")


@app.command()
def schemas() -> None:
    """Print the JSON Schema of every message contract (one JSON object keyed by message type)."""
    from schemas.export import json_schemas

    typer.echo(json.dumps(json_schemas(), indent=2))


app.add_typer(publish_app, name="publish")
app.command()(bill)


def _cell(value: int | None) -> str:
    return "?" if value is None else str(value)


def main() -> None:
    app(prog_name="switchboard")


if __name__ == "__main__":
    sys.exit(main())
