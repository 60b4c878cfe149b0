"""What the CLI says, in one line, when a service refuses or is not there.

Commands let errors from RabbitMQ (kombu/py-amqp, pika) and PostgreSQL (SQLAlchemy) propagate;
`explain` turns the ones a user can act on into a sentence that says what to do. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re

from amqp import exceptions as amqp_errors
from sqlalchemy.exc import OperationalError, ProgrammingError

from broker.errors import LinkFailed
from broker.management import ManagementUnavailable

_MISSING = re.compile(r"no (exchange|queue) '([^']*)' in vhost '([^']*)'")
_UNDEFINED_TABLE = "42P01"
_NO_DATABASE = re.compile(r'database "([^"]*)" does not exist')


def explain(error: BaseException) -> str | None:
    if isinstance(error, (LinkFailed, ManagementUnavailable)):
        return str(error)
    if isinstance(error, amqp_errors.NotFound):
        missing = _MISSING.search(str(error))
        if missing:
            return (f"{missing[1]} '{missing[2]}' does not exist in vhost '{missing[3]}': run `switchboard topology` "
                    "to declare the fleet's exchanges and queues")
        return f"RabbitMQ: {_reply_text(error)}"
    if isinstance(error, amqp_errors.AccessRefused):
        return f"RabbitMQ refused access: {_reply_text(error)}; check the user, password and vhost of the AMQP URL"
    if isinstance(error, amqp_errors.AMQPError):
        return f"RabbitMQ: {_reply_text(error)}"
    if isinstance(error, OperationalError):
        first = (str(error.orig).strip().splitlines() or ["unknown error"])[0]
        hint = "; run `switchboard migrate` to create it" if _NO_DATABASE.search(first) else ""
        return f"PostgreSQL: {first}{hint}"
    if isinstance(error, ProgrammingError) and getattr(error.orig, "pgcode", None) == _UNDEFINED_TABLE:
        first = (str(error.orig).strip().splitlines() or ["a table is missing"])[0]
        return f"PostgreSQL: {first}: the database schema is behind this code; run `switchboard migrate`"
    if isinstance(error, (ConnectionError, TimeoutError)):  # kombu/py-amqp when nothing answers
        return f"RabbitMQ not reachable: {error}"
    return None


def _reply_text(error: amqp_errors.AMQPError) -> str:
    return getattr(error, "reply_text", None) or str(error)
