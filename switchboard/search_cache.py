"""GET /search answers from memory while the plans stay the same.

A one-week search returns hundreds of plans, and PostgreSQL spends milliseconds writing that
document; the same windows are asked again and again (the coming weeks), and the plans change
only when the provider's feed does. So the gateway keeps recent documents, least recently used
out first, within `SWITCHBOARD_GATEWAY_SEARCH_CACHE_MB`.

Freshness comes from PostgreSQL itself: the plans consumer NOTIFYs `PLANS_CHANGED` in every
transaction that writes plans (delivered when it commits), and a connection of the gateway
LISTENs on the event loop and empties the cache on each one. A search that read the database
before a change arrived does not store its (older) answer: each entry is stored only if no
change came in while it was read. While the listening connection is down, nothing is cached
or served from memory; it reconnects every few seconds and starts from an empty cache.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import psycopg2
import structlog
from prometheus_client import Counter, Gauge

from storage.plans import PLANS_CHANGED

log = structlog.get_logger(__name__)
ANSWERS = Counter("switchboard_gateway_search_answers", "GET /search answers by source: memory or database",
                  ["source"])
LISTENING = Gauge("switchboard_gateway_search_cache_listening",
                  "1 while the gateway listens for plan changes (only then does it answer searches from memory)")

RECONNECT_S = 5.0
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class SearchCache:
    def __init__(self, dsn: str, max_bytes: int):
        self._dsn = dsn
        self._max_bytes = max_bytes
        self._documents: OrderedDict[tuple, str] = OrderedDict()
        self._bytes = 0
        self._listener = None
        self._listener_fd = -1  # kept: a connection psycopg2 closed on an error has no fileno()
        self._task: asyncio.Task | None = None
        self.generation = 0  # bumped by every change: an answer read across one is not stored

    @property
    def enabled(self) -> bool:
        return self._listener is not None and self._max_bytes > 0

    def get(self, key: tuple) -> str | None:
        document = self._documents.get(key) if self.enabled else None
        if document is not None:
            self._documents.move_to_end(key)
        ANSWERS.labels("database" if document is None else "memory").inc()
        return document

    def put(self, key: tuple, read_at_generation: int, document: str) -> None:
        size = len(document)
        if not self.enabled or read_at_generation != self.generation or size > self._max_bytes // 4:
            return
        self._bytes += size - len(self._documents.pop(key, ""))
        self._documents[key] = document
        while self._bytes > self._max_bytes:
            _, evicted = self._documents.popitem(last=False)
            self._bytes -= len(evicted)

    def start(self) -> None:
        if self._max_bytes > 0:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._lost()

    async def _listen(self) -> None:
        while True:
            try:
                connection = await asyncio.to_thread(psycopg2.connect, self._dsn, connect_timeout=5, **KEEPALIVE)
                connection.autocommit = True
                connection.cursor().execute(f"LISTEN {PLANS_CHANGED}")
            except psycopg2.Error as error:
                log.warning("search_cache_listen_failed", error=str(error).strip(), retry_in_s=RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)
                continue
            self._changed()  # whatever changed before LISTEN took effect is not in memory
            self._listener, self._listener_fd = connection, connection.fileno()
            asyncio.get_running_loop().add_reader(self._listener_fd, self._on_readable)
            LISTENING.set(1)
            log.info("search_cache_listening", channel=PLANS_CHANGED)
            return

    def _on_readable(self) -> None:
        try:
            self._listener.poll()
        except psycopg2.Error as error:
            log.warning("search_cache_listener_lost", error=str(error).strip(), retry_in_s=RECONNECT_S)
            self._lost()
            self._task = asyncio.get_running_loop().create_task(self._listen_later())
            return
        if self._listener.notifies:
            self._listener.notifies.clear()
            self._changed()

    async def _listen_later(self) -> None:
        await asyncio.sleep(RECONNECT_S)
        await self._listen()

    def _changed(self) -> None:
        self.generation += 1
        self._documents.clear()
        self._bytes = 0

    def _lost(self) -> None:
        connection, self._listener = self._listener, None
        LISTENING.set(0)
        self._changed()
        if connection is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._listener_fd)
            except RuntimeError:
                pass  # the loop is closed: nothing reads any more
            connection.close()
