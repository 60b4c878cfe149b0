"""Vhosts and databases left behind by test runs that were killed before they could clean up.

A run names its own `<prefix>-<unix time>-<pid>-<hex>` (databases with `_`). At the start of
a run, those older than an hour are removed; an older name without the time
(`<prefix>-<pid>-<hex>`) is removed once its process is gone.
"""

from __future__ import annotations

import os
import re
import time

from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MAX_AGE_S = 3600
_NAME = re.compile(r"^switchboard[-_]test(?:[-_][a-z]+)?[-_](?:(?P<time>\d{10})[-_])?(?P<pid>\d+)[-_][0-9a-f]+$")


def run_name(prefix: str, separator: str) -> str:
    return separator.join([prefix, str(int(time.time())), str(os.getpid()), os.urandom(3).hex()])


def run_database_url(prefix: str) -> str:
    """The URL of a database of this run, on the test server (`prefix`: switchboard_test[_word])."""
    return make_url(POSTGRES_URL).set(database=run_name(prefix, "_")).render_as_string(hide_password=False)


def is_stale(name: str, now: float | None = None) -> bool:
    match = _NAME.match(name)
    if not match:
        return False
    if match["time"]:
        return (now or time.time()) - int(match["time"]) > MAX_AGE_S
    return not _alive(int(match["pid"]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(vhosts: list[str], databases: list[str], delete_vhost, drop_database) -> list[str]:
    removed = []
    for name in vhosts:
        if is_stale(name):
            delete_vhost(name)
            removed.append(name)
    for name in databases:
        if is_stale(name):
            drop_database(name)
            removed.append(name)
    return removed
