"""Is this consumer still attached to its queue, in the broker's own view?

The broker does not always say when it forgets a consumer. A quorum queue deleted and
declared again at once (seen on RabbitMQ 3.10) keeps the old consumer registered on the new
queue and checks messages out to it, but its channel drops them, and no Basic.Cancel comes:
the consumer idles while messages pile up "unacknowledged" in the queue.

No AMQP reply shows this; the management API does: the queue counts more messages
unacknowledged than the channels of its consumers do. A worker idle for a while (busy ones
are plainly attached) compares the two every statistics interval; a gap at two checks in a
row means a consumer of this queue is a ghost. This worker rebuilds its connection: being
idle, it holds nothing unacked, so that costs nothing, and if it was the ghost, the messages
checked out to it go back to the queue. Without the management API the check is skipped.
"""

from __future__ import annotations

import time

import structlog

from broker.link import AmqpLink
from broker.management import Management, ManagementUnavailable
from consumers.runtime.inbox import Inbox

log = structlog.get_logger(__name__)

STATS_INTERVAL_S = 5.0  # how often the management API refreshes channel figures (its default)


class AttachmentCheck:
    def __init__(self, management: Management | None, inbox: Inbox, link: AmqpLink):
        self._management = management
        self._inbox = inbox
        self._link = link
        self._idle_since = time.monotonic()
        self._last_check = 0.0
        self._gaps = 0
        self._unavailable_logged = False

    def after_batch(self, busy: bool) -> None:
        now = time.monotonic()
        if busy or self._management is None or not self._link.ready:
            self._idle_since = now
            self._gaps = 0
            return
        if now - self._idle_since >= STATS_INTERVAL_S and now - self._last_check >= STATS_INTERVAL_S:
            self._last_check = now
            self._check()

    def _check(self) -> None:
        try:
            gap = self._management.unaccounted_unacked(self._inbox.queue_name)
        except ManagementUnavailable as error:
            if not self._unavailable_logged:
                log.info("attachment_check_skipped", queue=self._inbox.queue_name, error=str(error))
                self._unavailable_logged = True
            return
        self._gaps = self._gaps + 1 if gap > 0 else 0
        if self._gaps >= 2:
            log.error("consumer_forgotten_by_broker", queue=self._inbox.queue_name, unaccounted=gap)
            self._gaps = 0
            self._idle_since = time.monotonic()
            self._link.reconnect()
