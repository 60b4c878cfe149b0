"""The provider feed from the command line: the poller as a process, and the plan search."""

from __future__ import annotations

import signal
import sys
from typing import Annotated, Optional

import typer

from consumers.runtime import exits
from switchboard.settings import get_settings
from switchboard.store import with_store


def poll_provider(
    url: Annotated[Optional[str], typer.Option(help="the plan feed (default: SWITCHBOARD_PROVIDER_URL)")] = None,
    interval: Annotated[Optional[float], typer.Option(help="seconds between polls (default: "
                                                           "SWITCHBOARD_PROVIDER_INTERVAL_S)")] = None,
    once: Annotated[bool, typer.Option("--once", help="poll once, print the summary, exit 1 if it failed")] = False,
) -> None:
    """Poll the provider's plan feed and publish a plan.seen per plan, until SIGTERM (a fleet process)."""
    from broker.errors import LinkFailed
    from producers.poller import Poller
    from producers.provider_fetch import FetchLimits
    from producers.publisher import Publisher

    settings = get_settings()
    url = url or settings.provider_url
    if not url:
        typer.echo("error: no provider URL: pass --url or set SWITCHBOARD_PROVIDER_URL", err=True)
        raise typer.Exit(exits.CONFIG)
    limits = FetchLimits(settings.provider_connect_timeout_s, settings.provider_read_timeout_s,
                         settings.provider_deadline_s)
    try:
        with Publisher(settings.amqp_url, app_id=settings.app_id, window=settings.publish_window,
                       confirm_timeout=settings.confirm_timeout_s, name="provider-poller") as publisher:
            poller = Poller(url, publisher, limits, attempts=settings.provider_attempts)
            if once:
                _once(poller)
            _serve(settings, poller, interval or settings.provider_interval_s)
    except LinkFailed as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(exits.CONFIG) from None


def _once(poller) -> None:
    import json

    report = poller.poll()
    typer.echo(json.dumps(report.as_dict()))
    raise typer.Exit(1 if report.outcome == "failed" else 0)


def _serve(settings, poller, interval_s: float) -> None:
    from consumers.runtime.stopflag import StopFlag
    from switchboard.health import serve_health

    stop = StopFlag()
    signal.signal(signal.SIGTERM, stop.set)
    signal.signal(signal.SIGINT, stop.set)
    serve_health(settings.metrics_host, settings.metrics_port, process="provider-poller", live=lambda: True, ready={})
    poller.run(interval_s, stop)


def plans(
    starts_at: Annotated[Optional[str], typer.Option(help="range start, ISO 8601 (no zone: UTC)")] = None,
    ends_at: Annotated[Optional[str], typer.Option(help="range end, ISO 8601 (no zone: UTC)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the search document of the spec")] = False,
) -> None:
    """Plans that were ever online and overlap [--starts-at, --ends-at], by start (from the store only)."""
    from schemas.plan_search import PlanSearch, SearchError, error_document

    try:
        search = PlanSearch.parse(starts_at, ends_at)
    except SearchError as error:
        if as_json:
            typer.echo(error_document(error))
        else:
            typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    from storage.plans import search_document, search_plans

    if as_json:
        typer.echo(with_store(lambda conn: search_document(conn, search.starts_at, search.ends_at)))
    else:
        _print_table(with_store(lambda conn: search_plans(conn, search.starts_at, search.ends_at)))


def _print_table(found) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "title", "starts (UTC)", "ends (UTC)", "min price", "max price")
    for plan in found:
        table.add_row(plan.id, plan.title, _utc(plan.starts_at), _utc(plan.ends_at),
                      _price(plan.min_price), _price(plan.max_price))
    Console().print(table)
    print(f"{len(found)} plan(s)", file=sys.stderr)


def _utc(moment) -> str:
    from datetime import timezone

    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}"


def _price(value) -> str:
    return "-" if value is None else f"{value:.2f}"

