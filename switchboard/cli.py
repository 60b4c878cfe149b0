"""The `switchboard` command."""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated, Optional

import pika
import typer

from switchboard.logs import configure_logging
from switchboard.settings import get_settings
from switchboard import notifications_cli, plans_cli, replay_cli, serve_cli, status_cli
from switchboard.deadletters_cli import dead_letters_app
from switchboard.apps_cli import apps_app
from switchboard.events_cli import event_errors, events, session
from switchboard.publish_cli import publish_app
from switchboard.tariffs_cli import tariffs_app
from switchboard.telephony_cli import bill

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
def run(names: Annotated[Optional[list[str]], typer.Argument(help="consumer names (default: the whole fleet)")] = None) -> None:
    """Run one consumer in this process, or several (default: the whole fleet), one process each, supervised."""
    from switchboard.fleet import CONSUMERS, configured_consumer, consumer_processes, fleet_processes, runtime_options
    from switchboard.supervisor import Supervisor

    unknown = [name for name in names or [] if name not in CONSUMERS]
    if unknown:
        _fail(f"unknown consumer {', '.join(unknown)}; known: {', '.join(CONSUMERS)}")
    settings = get_settings()
    if names and len(names) == 1:
        from consumers.runtime.runner import run_consumer
        from switchboard.health import consumer_health

        raise typer.Exit(run_consumer(configured_consumer(names[0], settings), amqp_url=settings.amqp_url,
                                      database_url=settings.database_url, options=runtime_options(settings),
                                      on_worker=lambda worker: consumer_health(settings, names[0], worker)))
    children = consumer_processes(names) if names else fleet_processes(settings)
    raise typer.Exit(Supervisor(children, metrics_port=settings.metrics_port).run())


@app.command()
def topology() -> None:
    """Declare exchanges, queues, bindings and dead-letter queues (idempotent); print them."""
    from broker.declare import declarations, declare_blocking
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
def schemas() -> None:
    """Print the JSON Schema of every message contract (one JSON object keyed by message type)."""
    from schemas.export import json_schemas

    typer.echo(json.dumps(json_schemas(), indent=2))


app.add_typer(publish_app, name="publish")
app.add_typer(dead_letters_app, name="dead-letters")  # kinds registered by the modules below
app.command()(notifications_cli.dispatch)
app.command("dev-sinks")(notifications_cli.dev_sinks)
app.command()(notifications_cli.deliveries)
app.command()(notifications_cli.order)
app.command()(replay_cli.replay)
app.command()(status_cli.status)
app.add_typer(tariffs_app, name="tariffs")
app.command()(bill)
app.add_typer(apps_app, name="apps")
app.command()(session)
app.command()(events)
app.command("event-errors")(event_errors)
app.command("poll-provider")(plans_cli.poll_provider)
app.command()(plans_cli.plans)
app.command()(serve_cli.serve)


def _cell(value: int | None) -> str:
    return "?" if value is None else str(value)


def main() -> None:
    from switchboard.errors import explain

    try:
        app(prog_name="switchboard")
    except Exception as error:  # noqa: BLE001 - refusals and absences become one clear line
        message = explain(error)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        sys.exit(1)
    finally:
        # The work is done and the exit status decided. On Ctrl-C every fleet process gets the
        # terminal's SIGINT and then the supervisor's SIGTERM; the interpreter's shutdown puts
        # back the default handlers, so a SIGTERM arriving then killed a cleanly stopped
        # process (-15). An ignored signal stays ignored through shutdown.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
