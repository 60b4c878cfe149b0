"""What the broker refuses for good (credentials, permissions, a missing exchange, a conflicting
declaration), told apart from what reconnecting fixes, and said in words an operator can act on."""

from __future__ import annotations

import re

from pika import exceptions as pe
from pika.adapters.utils.connection_workflow import AMQPConnectionWorkflowFailed

ACCESS_REFUSED = 403
NOT_FOUND = 404
PRECONDITION_FAILED = 406
NOT_ALLOWED = 530

_MISSING_EXCHANGE = re.compile(r"no exchange '([^']*)' in vhost '([^']*)'")


def refusal_on_open(error: BaseException, user: str, vhost: str) -> str | None:
    """The reason a connection attempt can never succeed, or None if retrying may help."""
    if is_login_refusal(error):
        return f"RabbitMQ refused the credentials of user {user!r}: check the user and password in the AMQP URL"
    if isinstance(error, pe.ProbableAccessDeniedError):
        return (f"RabbitMQ refused user {user!r} access to vhost {vhost!r}: the vhost does not exist "
                "or the user has no permissions on it")
    code = _reply_code(error)
    if code == ACCESS_REFUSED:
        return f"RabbitMQ refused the connection: {_reply_text(error)}"
    if code == NOT_ALLOWED:
        return f"RabbitMQ refused access to vhost {vhost!r}: {_reply_text(error)}"
    return None


def is_login_refusal(error: BaseException) -> bool:
    return isinstance(error, (pe.ProbableAuthenticationError, pe.AuthenticationError))


def refusal_on_channel(error: BaseException, *, declaring: bool, can_redeclare: bool) -> str | None:
    """The reason a channel closed by the broker must not be retried, or None.

    403 is never retried. 404 (an exchange or queue that does not exist) and 406 (a
    declaration that conflicts with what exists) are final while declaring, and for a link
    that declares nothing (a publisher: the topology is `switchboard topology`'s job);
    a consumer's link re-declares its topology on reconnect, which fixes a deleted exchange.
    """
    code = _reply_code(error)
    text = _reply_text(error)
    if code == ACCESS_REFUSED:
        return f"RabbitMQ refused access: {text}; grant the user the permissions it needs"
    if code not in (NOT_FOUND, PRECONDITION_FAILED) or (can_redeclare and not declaring):
        return None
    missing = _MISSING_EXCHANGE.search(text)
    if missing:
        return (f"exchange {missing[1]!r} does not exist in vhost {missing[2]!r}: "
                "run `switchboard topology` to declare the fleet's exchanges and queues")
    if code == PRECONDITION_FAILED and declaring:
        return (f"declaration refused by RabbitMQ: {text} (a queue that exists with other "
                "arguments must be deleted or migrated first)")
    return f"RabbitMQ refused: {text}"


def connect_error(error: BaseException) -> str:
    """Why a connection attempt failed. pika wraps the cause (connection refused, a name that
    does not resolve, a timeout) in exceptions whose str() is empty: the innermost one says it."""
    while True:
        if isinstance(error, AMQPConnectionWorkflowFailed) and error.exceptions:
            error = error.exceptions[-1]
        elif error.args and isinstance(error.args[0], BaseException):
            error = error.args[0]
        else:
            return f"{type(error).__name__}: {error}" if str(error) else repr(error)


def _reply_code(error: BaseException) -> int | None:
    if isinstance(error, (pe.ConnectionClosed, pe.ChannelClosed)):
        return error.reply_code
    return None


def _reply_text(error: BaseException) -> str:
    if isinstance(error, (pe.ConnectionClosed, pe.ChannelClosed)):
        return error.reply_text
    return str(error)
