"""Trusted applications: one RabbitMQ user each, made through the management HTTP API.

An application's user may publish to the `tracking` exchange, with routing keys `event.*`, and
do nothing else: no configure, no read, no other exchange, no tags. The broker checks the
`user_id` of what it publishes against it, which is how an event is attributed. The
applications table (storage/applications.py) is what the event-sessions consumer trusts; the
admin user of SWITCHBOARD_AMQP_URL, which makes the users, is not an application.

Order of the steps: `add` makes the user before registering it (and deletes the user again if
registering fails); `revoke` deletes the user and closes its connections before marking it
revoked, so a revoke that fails half-way can simply be run again.
"""

from __future__ import annotations

import re
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Iterator

from sqlalchemy.engine import Engine

from broker.management import Management
from broker.urls import with_credentials
from schemas.topology import TRACKING
from storage import applications as store
from storage.database import make_engine
from switchboard.settings import Settings

APP_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class AppsError(Exception):
    """What the user must fix, in one sentence."""


@dataclass(frozen=True)
class AppCredentials:
    app: str
    user: str
    password: str
    amqp_url: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def permissions(exchange: str = TRACKING.name) -> tuple[dict, dict]:
    """(vhost permissions, topic permissions) of an application's user."""
    nothing = "^$"
    vhost = {"configure": nothing, "write": f"^{re.escape(exchange)}$", "read": nothing}
    topic = {"exchange": exchange, "write": r"^event\.", "read": nothing}
    return vhost, topic


class Applications:
    def __init__(self, settings: Settings):
        self._settings = settings

    def add(self, name: str) -> AppCredentials:
        _check_name(name)
        management = self._management()
        with self._database() as engine, engine.connect() as conn:
            known = store.find_application(conn, name)
        if known is not None and known["revoked_at"] is None:
            raise AppsError(f"application {name!r} exists already (revoke it first to give it new credentials)")
        if management.get("users", name) is not None:
            raise AppsError(f"a RabbitMQ user {name!r} exists already and is not a Switchboard application: "
                            "choose another name")
        password = secrets.token_urlsafe(24)
        management.put("users", name, body={"password": password, "tags": ""})
        try:
            vhost_permissions, topic_permissions = permissions()
            management.put("permissions", management.vhost, name, body=vhost_permissions)
            management.put("topic-permissions", management.vhost, name, body=topic_permissions)
            with self._database() as engine, engine.begin() as conn:
                store.register_application(conn, name)
        except BaseException:
            management.delete("users", name)
            raise
        return AppCredentials(name, name, password, with_credentials(self._settings.amqp_url, name, password))

    def list(self) -> list[dict]:
        with self._database() as engine, engine.connect() as conn:
            rows = store.active_applications(conn)
        return [{"app": row["name"], "user": row["name"], "created_at": row["created_at"]} for row in rows]

    def revoke(self, name: str) -> None:
        management = self._management()
        with self._database() as engine, engine.connect() as conn:
            known = store.find_application(conn, name)
        if known is None or known["revoked_at"] is not None:
            raise AppsError(f"no application {name!r} (`switchboard apps list` shows them)")
        management.delete("users", name)
        management.delete("connections", "username", name)
        with self._database() as engine, engine.begin() as conn:
            store.revoke_application(conn, name)

    def _management(self) -> Management:
        url = self._settings.management_url.strip()
        if not url:
            raise AppsError("SWITCHBOARD_MANAGEMENT_URL is empty: applications are RabbitMQ users, made through "
                            "the RabbitMQ management API (e.g. http://localhost:15672)")
        if not url.startswith(("http://", "https://")):
            raise AppsError(f"SWITCHBOARD_MANAGEMENT_URL must be the http:// or https:// URL of the RabbitMQ "
                            f"management API (e.g. http://localhost:15672), got {url!r}")
        management = Management(url, self._settings.amqp_url)
        me = management.get("whoami")
        if me is None:
            raise AppsError(f"no RabbitMQ management API at {url} (/api/whoami not found): "
                            "check SWITCHBOARD_MANAGEMENT_URL")
        if "administrator" not in _tags(me):
            raise AppsError(f"RabbitMQ user {me.get('name')!r} of SWITCHBOARD_AMQP_URL cannot make users: "
                            "it needs the administrator tag")
        return management

    @contextmanager
    def _database(self) -> Iterator[Engine]:
        engine = make_engine(self._settings.database_url)
        try:
            yield engine
        finally:
            engine.dispose()


def _tags(whoami: dict) -> list[str]:
    tags = whoami.get("tags", [])
    return tags.split(",") if isinstance(tags, str) else list(tags)


def _check_name(name: str) -> None:
    if not APP_NAME.fullmatch(name):
        raise AppsError(f"application name must be 1 to 64 lower-case letters, digits, '.', '_' or '-', "
                        f"starting with a letter or digit, got {name!r}")
