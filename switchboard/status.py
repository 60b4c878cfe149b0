"""Queue depths for operators: ready, unacked, consumers, dead-lettered and rates per queue.

Ready and consumer counts come over AMQP (kombu, passive declares: current). Unacked counts and
rates exist only in the management API; when it cannot be reached they are unknown (None),
and the reason is given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import kombu
from amqp.exceptions import NotFound

from broker.management import Management, ManagementUnavailable
from schemas.topology import QueueSpec


@dataclass
class QueueStatus:
    queue: str
    exists: bool
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    dead_lettered: int | None = None
    rate_in: float | None = None  # messages/s published into the queue (management API)
    rate_out: float | None = None  # messages/s delivered from it

    def as_dict(self) -> dict:
        return asdict(self)


def queue_status(amqp_url: str, management_url: str, queues: list[QueueSpec]) -> tuple[list[QueueStatus], str | None]:
    """Every queue's status, and why the management figures are missing (None if they are not)."""
    with kombu.Connection(amqp_url, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)
        result = [_amqp_status(connection, spec) for spec in queues]
    try:
        figures = _management_figures(Management(management_url, amqp_url))
    except ManagementUnavailable as error:
        return result, f"unacked counts and rates need the RabbitMQ management API: {error}"
    for status in result:
        status.unacked, status.rate_in, status.rate_out = figures.get(status.queue, (None, None, None))
    return result, None


def problems(rows: list[QueueStatus]) -> list[str]:
    """What `status --check` fails on: a missing queue, a queue nobody consumes, dead letters."""
    found = []
    for row in rows:
        if not row.exists:
            found.append(f"{row.queue}: missing (run `switchboard topology`)")
            continue
        if not row.consumers:
            found.append(f"{row.queue}: no consumer")
        if row.dead_lettered:
            found.append(f"{row.queue}: {row.dead_lettered} dead letters (`switchboard dead-letters list {row.queue}`)")
    return found


def _amqp_status(connection: kombu.Connection, spec: QueueSpec) -> QueueStatus:
    main = _passive_declare(connection, spec.name)
    if main is None:
        return QueueStatus(spec.name, exists=False)
    dead = _passive_declare(connection, spec.dead_letter_queue)
    return QueueStatus(spec.name, True, ready=main[0], consumers=main[1], dead_lettered=dead[0] if dead else None)


def _passive_declare(connection: kombu.Connection, name: str) -> tuple[int, int] | None:
    channel = connection.channel()
    try:
        _, messages, consumers = channel.queue_declare(queue=name, passive=True)
        return messages, consumers
    except NotFound:
        return None
    finally:
        if channel.is_open:
            channel.close()


def _management_figures(management: Management) -> dict[str, tuple[int, float, float]]:
    rows = management.get("queues", management.vhost) or []
    figures = {}
    for row in rows:
        stats = row.get("message_stats") or {}
        figures[row["name"]] = (row.get("messages_unacknowledged", 0),
                                (stats.get("publish_details") or {}).get("rate", 0.0),
                                (stats.get("deliver_get_details") or {}).get("rate", 0.0))
    return figures
