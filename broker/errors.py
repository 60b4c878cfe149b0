"""Errors the AMQP layer raises to its callers (publishers, the consumer runtime)."""


class PublishError(Exception):
    """A message was not accepted by the broker."""


class Unroutable(PublishError):
    """The broker returned a mandatory message: no queue is bound to its routing key."""

    def __init__(self, exchange: str, routing_key: str, reason: str):
        super().__init__(
            f"unroutable: nothing is bound to routing key {routing_key!r} on exchange "
            f"{exchange!r} ({reason})"
        )
        self.exchange = exchange
        self.routing_key = routing_key


class Nacked(PublishError):
    """The broker refused responsibility for a message (basic.nack)."""


class ConnectionLost(PublishError):
    """The connection closed before the broker confirmed the message; safe to publish again."""


class LinkFailed(PublishError):
    """The link gave up for good; the message says why and what to do. Its `kind`:

    - REFUSED: the broker refused what retrying cannot fix (permissions, a missing exchange,
      a conflicting declaration);
    - LOGIN: the broker refused the user's credentials (or the user no longer exists);
    - UNREACHABLE: the reconnect budget is spent;
    - CRASHED: the link's I/O thread died.
    """

    REFUSED = "refused"
    LOGIN = "login"
    UNREACHABLE = "unreachable"
    CRASHED = "crashed"

    def __init__(self, reason: str, *, kind: str):
        super().__init__(reason)
        self.kind = kind
