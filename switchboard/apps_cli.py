"""`switchboard apps add|list|revoke`: the applications allowed to send events (switchboard/apps.py)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from switchboard.settings import get_settings

apps_app = typer.Typer(no_args_is_help=True,
                       help="Trusted applications: RabbitMQ users that may publish events and do nothing else.")

AsJson = Annotated[bool, typer.Option("--json", help="print one JSON document")]


@apps_app.command("add")
def add(name: Annotated[str, typer.Argument(help="the application's name, e.g. shop-web")],
        as_json: AsJson = False) -> None:
    """Make the application's RabbitMQ user (publish to the tracking exchange, nothing else) and print
    its AMQP URL, once: the password is not stored anywhere else."""
    from switchboard.apps import Applications, AppsError

    try:
        credentials = Applications(get_settings()).add(name)
    except AppsError as error:
        _fail(str(error))
    if as_json:
        typer.echo(json.dumps(credentials.as_dict()))
        return
    typer.echo(f"added application {credentials.app} (RabbitMQ user {credentials.user}: may publish events to the "
               "'tracking' exchange, nothing else).\nIts AMQP URL, shown this once; keep it secret:\n"
               f"  {credentials.amqp_url}")


@apps_app.command("list")
def list_apps(as_json: AsJson = False) -> None:
    """The applications whose events are accepted."""
    from switchboard.apps import Applications

    rows = Applications(get_settings()).list()
    if as_json:
        typer.echo(json.dumps([{**row, "created_at": row["created_at"].isoformat()} for row in rows]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("app", "RabbitMQ user", "created at")
    for row in rows:
        table.add_row(row["app"], row["user"], row["created_at"].isoformat())
    Console().print(table)


@apps_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="the application's name")]) -> None:
    """Delete the application's RabbitMQ user and close its connections. Its events still queued
    are refused from now on (kept in `switchboard event-errors`)."""
    from switchboard.apps import Applications, AppsError

    try:
        Applications(get_settings()).revoke(name)
    except AppsError as error:
        _fail(str(error))
    typer.echo(f"revoked application {name}: its RabbitMQ user is deleted and its connections are closed")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
