"""Waking a dispatcher when deliveries are recorded: PostgreSQL LISTEN/NOTIFY (a NOTIFY is
delivered when its transaction commits), with a timeout, so a lost notification or a lost
connection only ever costs the next poll."""

from __future__ import annotations

import select

import psycopg2
import structlog
from sqlalchemy.engine import make_url

from storage.deliveries import WAKE_UP

log = structlog.get_logger(__name__)


class Wakeups:
    def __init__(self, database_url: str):
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection = None

    def wait(self, timeout_s: float) -> None:
        """Return when notified, or after `timeout_s` at the latest."""
        try:
            connection = self._connected()
            if select.select([connection], [], [], timeout_s)[0]:
                connection.poll()
                connection.notifies.clear()
        except (psycopg2.Error, OSError) as error:
            log.warning("wakeups_unavailable", error=str(error).strip().splitlines()[0])
            self.close()
            select.select([], [], [], timeout_s)  # poll instead, until LISTEN works again

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except psycopg2.Error:
                pass
            self._connection = None

    def _connected(self):
        if self._connection is None:
            connection = psycopg2.connect(self._dsn, connect_timeout=2, application_name="switchboard-wakeups")
            connection.autocommit = True
            connection.cursor().execute(f"LISTEN {WAKE_UP}")
            self._connection = connection
        return self._connection
