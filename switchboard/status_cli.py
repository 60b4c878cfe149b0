"""`switchboard status [--json] [--watch [SECONDS]] [--check]`: is the fleet healthy, what is stuck."""

from __future__ import annotations

import json
import time
from typing import Annotated, Optional

import typer

from switchboard.settings import get_settings

COLUMNS = ("queue", "ready", "unacked", "consumers", "dead", "in/s", "out/s")


def status(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object for scripts")] = False,
    watch: Annotated[Optional[float], typer.Option(help="refresh every SECONDS, with rates (Ctrl-C stops)")] = None,
    check: Annotated[bool, typer.Option("--check", help="exit 1 if a queue is missing, has no consumer or holds "
                                                        "dead letters (for cron and health checks)")] = False,
) -> None:
    """Per queue: messages ready and unacked, consumers, dead letters, and rates in and out."""
    from switchboard.status import problems

    if watch is not None:
        _watch(watch)
        return
    rows, missing = _read()
    if as_json:
        typer.echo(json.dumps({"queues": [row.as_dict() for row in rows], "management": missing is None,
                               "problems": problems(rows)}))
    else:
        from rich.console import Console

        Console().print(_table(rows))
        if missing:
            typer.echo(f"note: {missing}", err=True)
    if check:
        found = problems(rows)
        for problem in found:
            typer.echo(f"problem: {problem}", err=True)
        raise typer.Exit(1 if found else 0)


def _read():
    from schemas.topology import QUEUES
    from switchboard.status import queue_status

    settings = get_settings()
    try:
        return queue_status(settings.amqp_url, settings.management_url, list(QUEUES))
    except OSError as error:
        typer.echo(f"error: RabbitMQ not reachable: {error}", err=True)
        raise typer.Exit(1) from None


def _watch(seconds: float) -> None:
    from rich.console import Console
    from rich.live import Live

    if seconds <= 0:
        typer.echo("error: --watch takes a number of seconds above 0", err=True)
        raise typer.Exit(1)
    with Live(console=Console(), auto_refresh=False) as live:
        try:
            while True:
                rows, missing = _read()
                live.update(_table(rows, f"{time.strftime('%H:%M:%S')}  " + (missing or "")), refresh=True)
                time.sleep(seconds)  # the refresh period itself
        except KeyboardInterrupt:
            pass


def _table(rows, caption: str | None = None):
    from rich.table import Table

    table = Table(*COLUMNS, caption=caption)
    for row in rows:
        if not row.exists:
            table.add_row(row.queue, "missing: run `switchboard topology`", *[""] * 5)
            continue
        table.add_row(row.queue, _cell(row.ready), _cell(row.unacked), _cell(row.consumers),
                      _cell(row.dead_lettered), _rate(row.rate_in), _rate(row.rate_out))
    return table


def _cell(value) -> str:
    return "?" if value is None else str(value)


def _rate(value) -> str:
    return "?" if value is None else f"{value:,.1f}"
