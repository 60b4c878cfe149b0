"""The consumers that make up the fleet, by name, and how settings become runtime options."""

from __future__ import annotations

from consumers import bill_requests, billing, call_pairing
from consumers.runtime.handler import ConsumerSpec
from consumers.runtime.worker import RuntimeOptions
from schemas.topology import QueuePolicy
from switchboard.settings import Settings

CONSUMERS: dict[str, ConsumerSpec] = {
    spec.name: spec for spec in (call_pairing.CONSUMER, billing.CONSUMER, bill_requests.CONSUMER)
}


def queue_policy(settings: Settings) -> QueuePolicy:
    return QueuePolicy(settings.queue_type, settings.delivery_limit)


def runtime_options(settings: Settings) -> RuntimeOptions:
    return RuntimeOptions(
        prefetch=settings.prefetch,
        batch_size=settings.batch_size,
        batch_max_wait_s=settings.batch_max_wait_ms / 1000,
        handler_attempts=settings.handler_attempts,
        max_body_bytes=settings.max_body_bytes,
        heartbeat_s=settings.heartbeat_s,
        confirm_timeout_s=settings.confirm_timeout_s,
        app_id=settings.app_id,
        policy=queue_policy(settings),
    )
