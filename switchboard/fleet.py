"""The fleet: its consumers by name, every process `switchboard run` starts, and how settings
become runtime options."""

from __future__ import annotations

import sys
from datetime import timedelta

from consumers import bill_requests, billing, call_pairing, channels, contacts, event_sessions, orders, plans
from consumers.event_rules import EventRules
from consumers.runtime.handler import ConsumerSpec
from consumers.runtime.worker import RuntimeOptions
from schemas.topology import ArchivePolicy, QueuePolicy
from switchboard.settings import Settings
from switchboard.supervisor import ChildSpec

CONSUMERS: dict[str, ConsumerSpec] = {
    spec.name: spec
    for spec in (call_pairing.CONSUMER, billing.CONSUMER, bill_requests.CONSUMER, contacts.CONSUMER, orders.CONSUMER,
                 channels.SMS, channels.EMAIL, event_sessions.CONSUMER,
                 plans.CONSUMER)
}
DISPATCHED_CHANNELS = ("email", "sms")


def configured_consumer(name: str, settings: Settings) -> ConsumerSpec:
    """The consumer NAME as `switchboard run NAME` runs it: with the settings it takes."""
    if name == event_sessions.CONSUMER.name:
        return event_sessions.make_consumer(EventRules(
            unknown_events=settings.unknown_events, clock_skew=timedelta(seconds=settings.event_clock_skew_s)))
    return CONSUMERS[name]


def switchboard_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "switchboard", *args]


def consumer_processes(names: list[str]) -> list[ChildSpec]:
    return [ChildSpec(name, switchboard_command("run", name)) for name in names]


def fleet_processes(settings: Settings) -> list[ChildSpec]:
    """Every process of the fleet, in the order `switchboard run` starts (and lists) them: the
    consumers, the local sinks when no SMTP server or SMS gateway is configured, the dispatchers,
    the provider poller when a provider URL is set, and the HTTP gateway."""
    children = consumer_processes(list(CONSUMERS))
    providers = {}
    if settings.smtp_url is None:
        providers["SWITCHBOARD_SMTP_URL"] = f"smtp://127.0.0.1:{settings.sinks_smtp_port}"
    if settings.sms_gateway_url is None:
        providers["SWITCHBOARD_SMS_GATEWAY_URL"] = f"http://127.0.0.1:{settings.sinks_http_port}/sms"
    if providers:
        children.append(ChildSpec("dev-sinks", switchboard_command("dev-sinks")))
    children += [ChildSpec(f"{channel}-dispatcher", switchboard_command("dispatch", channel), env=providers or None)
                 for channel in DISPATCHED_CHANNELS]
    if settings.provider_url:
        children.append(ChildSpec("provider-poller", switchboard_command("poll-provider")))
    children.append(ChildSpec("gateway", switchboard_command("serve")))
    return children


def queue_policy(settings: Settings) -> QueuePolicy:
    archive = ArchivePolicy(settings.archive_max_age, settings.archive_max_bytes) if settings.archive else None
    return QueuePolicy(settings.queue_type, settings.delivery_limit, archive)


def runtime_options(settings: Settings) -> RuntimeOptions:
    return RuntimeOptions(
        prefetch=settings.prefetch,
        batch_size=settings.batch_size,
        batch_max_wait_s=settings.batch_max_wait_ms / 1000,
        handler_attempts=settings.handler_attempts,
        max_body_bytes=settings.max_body_bytes,
        heartbeat_s=settings.heartbeat_s,
        reconnect_budget_s=settings.reconnect_budget_s,
        app_id=settings.app_id,
        policy=queue_policy(settings),
        management_url=settings.management_url,
    )
