"""Why a batch's transaction failed, by SQLSTATE: wait for the database, retry, or isolate.

- OUTAGE: the database, or the schema the consumer needs, is not there (connection errors
  08xxx and failures without a SQLSTATE, admin or crash shutdown 57P0x, too many
  connections, disk full, a read-only failover target, a database, table or column that does
  not exist). No message is at fault: the batch waits with backoff until it passes and
  nothing is dead-lettered.
- CONTENTION: another transaction got in the way (serialization 40001, deadlock 40P01, lock
  not available 55P03, statement timeout or cancel 57014, out of memory 53200). The batch is
  retried a few times, then isolated, so a message that always triggers one cannot block
  its queue.
- MESSAGE: anything else, including every exception the handler raises itself: the batch
  is isolated and the message that fails alone is dead-lettered.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


class Failure(Enum):
    OUTAGE = "outage"
    CONTENTION = "contention"
    MESSAGE = "message"


_OUTAGE_STATES = {"57P01", "57P02", "57P03", "57P04", "53100", "53300", "25006", "3D000", "3F000", "42P01", "42703"}
_CONTENTION_STATES = {"40001", "40P01", "55P03", "57014", "53200"}
_SCHEMA_STATES = {"3F000", "42P01", "42703"}


def sqlstate(error: BaseException) -> str | None:
    return getattr(getattr(error, "orig", None), "pgcode", None) if isinstance(error, DBAPIError) else None


def classify(error: BaseException) -> Failure:
    if not isinstance(error, DBAPIError):
        return Failure.MESSAGE
    state = sqlstate(error)
    if state is None:
        lost = isinstance(error, (OperationalError, InterfaceError)) or error.connection_invalidated
        return Failure.OUTAGE if lost else Failure.MESSAGE
    if state.startswith("08") or state in _OUTAGE_STATES:
        return Failure.OUTAGE
    if state in _CONTENTION_STATES:
        return Failure.CONTENTION
    return Failure.MESSAGE


def describe(error: BaseException) -> str:
    """One line for logs: the error's first line, its SQLSTATE, and what to do about a schema
    that is behind the code."""
    first_line = (str(getattr(error, "orig", None) or error).strip().splitlines() or [""])[0]
    text = f"{type(getattr(error, 'orig', None) or error).__name__}: {first_line}"
    state = sqlstate(error)
    if state is not None:
        text += f" (SQLSTATE {state})"
    if state in _SCHEMA_STATES:
        text += "; the database schema is behind this code: run `switchboard migrate`"
    return text
