"""Errors a publisher raises to its caller."""


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
