"""Queue depths for operators: ready, unacked, consumers, dead-lettered per queue.

Ready and consumer counts come over AMQP (kombu, passive declares). Unacked counts exist
only in the management API; when it is not enabled they are reported as unknown (None).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass

import kombu
from amqp.exceptions import NotFound

from schemas.topology import QueueSpec


@dataclass
class QueueStatus:
    queue: str
    exists: bool
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    dead_lettered: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def queue_status(amqp_url: str, management_url: str, queues: list[QueueSpec]) -> list[QueueStatus]:
    with kombu.Connection(amqp_url, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)
        result = [_amqp_status(connection, spec) for spec in queues]
        unacked = _management_unacked(connection, management_url)
    for status in result:
        status.unacked = unacked.get(status.queue) if unacked is not None else None
    return result


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


def _management_unacked(connection: kombu.Connection, management_url: str) -> dict[str, int] | None:
    vhost = urllib.parse.quote(connection.virtual_host or "/", safe="")
    request = urllib.request.Request(f"{management_url.rstrip('/')}/api/queues/{vhost}?columns=name,messages_unacknowledged")
    token = base64.b64encode(f"{connection.userid}:{connection.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            rows = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return {row["name"]: row.get("messages_unacknowledged", 0) for row in rows}
