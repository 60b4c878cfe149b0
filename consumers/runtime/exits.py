"""Exit statuses of a consumer process (sysexits.h), so the supervisor knows what a restart can fix."""

from __future__ import annotations

from broker.errors import LinkFailed

OK = 0
UNAVAILABLE = 69  # RabbitMQ unreachable for the whole reconnect budget: a restart may do better
SOFTWARE = 70  # the AMQP I/O thread died: restart
CONFIG = 78  # refused by the broker, or the database schema is behind: a restart cannot help

NOT_RESTARTABLE = {CONFIG}


_BY_KIND = {LinkFailed.REFUSED: CONFIG, LinkFailed.LOGIN: CONFIG, LinkFailed.UNREACHABLE: UNAVAILABLE, LinkFailed.CRASHED: SOFTWARE}


def for_link_failure(failure: LinkFailed | None) -> int:
    return OK if failure is None else _BY_KIND[failure.kind]
