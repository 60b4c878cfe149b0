"""The local RabbitMQ node as tests see it: `rabbitmqctl` for what AMQP cannot do.

Each call starts an Erlang VM (about 0.5 s), so use these for setup and assertions,
not inside tight loops.
"""

from __future__ import annotations

import json
import re
import subprocess

AMQP_HOST = "127.0.0.1"
AMQP_PORT = 5672


class RabbitmqctlError(RuntimeError):
    pass


def rabbitmqctl(*args: str, timeout: float = 30) -> str:
    """Run `rabbitmqctl ARGS...` and return its stdout; raise with its stderr on failure."""
    command = ["rabbitmqctl", *args]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise RabbitmqctlError("rabbitmqctl is not on PATH (tests need the local RabbitMQ node)") from None
    except subprocess.TimeoutExpired:
        raise RabbitmqctlError(f"{' '.join(command)} timed out after {timeout:g}s") from None
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip())
        raise RabbitmqctlError(f"{' '.join(command)} exited {done.returncode}: {detail}")
    return done.stdout


def create_vhost(vhost: str, user: str = "guest") -> None:
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")


def list_vhosts() -> list[str]:
    return [row["name"] for row in json.loads(rabbitmqctl("list_vhosts", "name", "--formatter", "json", "-q") or "[]")]


def delete_vhost(vhost: str) -> None:
    """Delete the vhost with everything in it (queues, exchanges, connections)."""
    rabbitmqctl("delete_vhost", vhost)


def close_all_connections(vhost: str, reason: str = "test") -> None:
    """Force-close every client connection to the vhost, as a broker restart would."""
    rabbitmqctl("close_all_connections", "-p", vhost, reason)


def list_queues(vhost: str) -> list[dict]:
    """The vhost's queues: dicts with name, messages_ready, messages_unacknowledged, consumers.

    Counts of quorum queues are refreshed by the broker every 5 s (the quorum tick), so
    they lag: never conclude "drained" from a 0 you read right after publishing. Classic
    queues report at once; `queue_declare(passive=True)` gives a current ready count.
    """
    out = rabbitmqctl(
        "list_queues", "-p", vhost,
        "name", "messages_ready", "messages_unacknowledged", "consumers",
        "--formatter", "json", "-q",
    )
    return json.loads(out or "[]")


def list_connections(vhost: str) -> list[dict]:
    """The vhost's client connections: dicts with pid and connection_name (None if unnamed)."""
    # The JSON formatter renders pids in a form close_connection rejects; the table keeps them.
    out = rabbitmqctl("list_connections", "vhost", "pid", "client_properties", "-q", "--no-table-headers")
    connections = []
    for line in out.splitlines():
        row_vhost, pid, properties = line.split("\t", 2)
        if row_vhost == vhost:
            name = re.search(r'\{"connection_name","([^"]*)"\}', properties)
            connections.append({"pid": pid, "connection_name": name and name.group(1)})
    return connections


def close_connections(vhost: str, connection_names: set[str], reason: str = "test") -> int:
    """Close only the connections whose client-given name is in `connection_names`.

    Unlike close_all_connections, this spares the test's own helper connections.
    Returns how many were closed.
    """
    doomed = [c["pid"] for c in list_connections(vhost) if c["connection_name"] in connection_names]
    for pid in doomed:
        rabbitmqctl("close_connection", pid, reason)
    return len(doomed)
