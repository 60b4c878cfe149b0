"""Notifications from the command line: the dispatchers and the local sinks as processes,
and what happened to deliveries and orders."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer

from consumers.runtime import exits
from switchboard.publish_cli import loader
from switchboard.settings import get_settings
from switchboard.store import with_store

loader("contacts", "producers.notifications:parse_contact", "contacts",
       "Publish contact updates (partial: fields left out stay as they are; null clears one).")
loader("notifications", "producers.notifications:parse_notification", "notifications",
       "Publish notification requests; one without an id gets one derived from its content.")
loader("orders", "producers.notifications:parse_order_event", "order events",
       "Publish coffee-shop order events (order.created, order.status_changed).")


def dispatch(channel: Annotated[str, typer.Argument(help="email or sms")]) -> None:
    """Send the CHANNEL deliveries that are due, until SIGTERM (a fleet process)."""
    from consumers.delivery.couriers import EmailCourier, SmsCourier
    from consumers.delivery.runner import run_dispatcher
    from consumers.delivery.sms_gateway import SmsGateway
    from consumers.delivery.smtp import SmtpSender
    from switchboard.health import serve_health
    from storage.database import database_reachable

    settings = get_settings()
    if channel == "email" and settings.smtp_url:
        courier = EmailCourier(SmtpSender(settings.smtp_url, settings.email_from, timeout_s=settings.smtp_timeout_s))
    elif channel == "sms" and settings.sms_gateway_url:
        courier = SmsCourier(SmsGateway(settings.sms_gateway_url, connect_timeout_s=settings.sms_connect_timeout_s,
                                        read_timeout_s=settings.sms_read_timeout_s))
    elif channel in ("email", "sms"):
        setting = "SWITCHBOARD_SMTP_URL" if channel == "email" else "SWITCHBOARD_SMS_GATEWAY_URL"
        typer.echo(f"error: {setting} is not set (`switchboard run` starts local sinks and sets it)", err=True)
        raise typer.Exit(exits.CONFIG)
    else:
        typer.echo(f"error: unknown channel {channel!r}; known: email, sms", err=True)
        raise typer.Exit(exits.CONFIG)

    def serve(dispatcher) -> None:
        serve_health(settings.metrics_host, settings.metrics_port, process=f"{channel}-dispatcher",
                     live=lambda: time.monotonic() - dispatcher.last_turn < 120,
                     ready={"database": lambda: database_reachable(settings.database_url)})

    raise typer.Exit(run_dispatcher(channel, courier, amqp_url=settings.amqp_url, database_url=settings.database_url,
                                    batch_size=settings.delivery_batch_size,
                                    retry_for=timedelta(seconds=settings.delivery_retry_for_s), on_start=serve))


def dev_sinks() -> None:
    """Run the local SMTP server and SMS gateway that keep what they receive (for development)."""
    from consumers.runtime.stopflag import StopFlag
    from switchboard.devsinks import DevSinks
    from switchboard.health import serve_health
    import signal

    settings = get_settings()
    stop = StopFlag()
    signal.signal(signal.SIGTERM, stop.set)
    signal.signal(signal.SIGINT, stop.set)
    try:
        sinks = DevSinks(Path(settings.sinks_dir), host=settings.sinks_host, smtp_port=settings.sinks_smtp_port,
                         http_port=settings.sinks_http_port).start()
    except OSError as error:
        typer.echo(f"error: the local sinks cannot listen ({error}); is another fleet running?", err=True)
        raise typer.Exit(exits.CONFIG) from None
    serve_health(settings.metrics_host, settings.metrics_port, process="dev-sinks", live=lambda: True, ready={})
    typer.echo(f"e-mail kept in {sinks.mail.directory}/, SMS in {sinks.sms.path}; "
               f"both listed at http://127.0.0.1:{sinks.http_port}/", err=True)
    while not stop.wait(1.0):
        pass
    sinks.stop()


def deliveries(
    notification: Annotated[Optional[str], typer.Option(help="a notification id")] = None,
    contact: Annotated[Optional[str], typer.Option(help="a contact id")] = None,
    channel: Annotated[Optional[str], typer.Option(help="email or sms")] = None,
    status: Annotated[Optional[str], typer.Option(help="scheduled, sent, skipped or failed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """What became of notifications, per channel: sent, skipped or failed (with the reason), or scheduled."""
    from storage.deliveries import DELIVERY_KEYS, delivery_documents, find_deliveries

    documents = delivery_documents(with_store(lambda conn: find_deliveries(
        conn, notification=notification, contact=contact, channel=channel, status=status)))
    if as_json:
        typer.echo(json.dumps(documents))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*DELIVERY_KEYS)
    for document in documents:
        table.add_row(*("" if document[key] is None else str(document[key]) for key in DELIVERY_KEYS))
    Console().print(table if documents else "no deliveries match")


def order(order_id: Annotated[str, typer.Argument(help="the order's id")],
          as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False) -> None:
    """An order's current status and the history of its valid events."""
    from storage.orders import order_document

    found = with_store(lambda conn: order_document(conn, order_id))
    if found is None:
        typer.echo(f"error: no order {order_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(found))
        return
    typer.echo(f"Order {found['order_id']} of customer {found['customer_id']}: {found['status']}")
    for item in found["history"]:
        typer.echo(f"  {item['at']}  {item['status']}")
