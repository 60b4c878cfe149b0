"""Run a consumer's handler over a batch inside one transaction, isolating what makes it raise.

- Transient failures (database unreachable, connection killed, deadlock) retry the whole
  batch with backoff and dead-letter nothing.
- Any other exception means some message breaks the handler: every message is then retried
  alone, in its own transaction, up to `attempts` times; the ones that still fail are
  rejected with the error, the rest commit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Sequence

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import Retrying, retry_if_exception, stop_when_event_set, wait_exponential

from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Incoming
from producers.outgoing import Outgoing

log = structlog.get_logger(__name__)


class Abandoned(Exception):
    """The batch could not be finished (shutdown during an outage); it will be redelivered."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


@dataclass
class Result:
    emits: list[Outgoing] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)


class BatchProcessor:
    def __init__(self, spec: ConsumerSpec, engine: Engine, *, attempts: int, stop: threading.Event):
        self._spec = spec
        self._engine = engine
        self._attempts = attempts
        self._stop = stop

    def run(self, batch: Sequence[Incoming]) -> Result:
        try:
            outcome = self._commit(batch)
        except Abandoned:
            raise
        except Exception as error:  # noqa: BLE001 - any handler bug is isolated, not fatal
            log.warning("batch_failed_isolating", queue=self._spec.queue.name,
                        batch_size=len(batch), error=repr(error))
            return self._isolate(batch)
        return Result(list(outcome.emits), dict(outcome.rejected))

    def _isolate(self, batch: Sequence[Incoming]) -> Result:
        result = Result()
        for index, incoming in enumerate(batch):
            outcome, error = self._commit_alone(incoming)
            if outcome is None:
                result.rejected[index] = (
                    f"handler failed {self._attempts} times: {type(error).__name__}: {error}"
                )
                continue
            result.emits.extend(outcome.emits)
            if 0 in outcome.rejected:
                result.rejected[index] = outcome.rejected[0]
        return result

    def _commit_alone(self, incoming: Incoming) -> tuple[BatchOutcome | None, Exception | None]:
        error: Exception | None = None
        for _attempt in range(self._attempts):
            try:
                return self._commit([incoming]), None
            except Abandoned:
                raise
            except Exception as failure:  # noqa: BLE001
                error = failure
        log.error("message_failed", queue=self._spec.queue.name,
                  message_id=incoming.message_id, error=repr(error))
        return None, error

    def _commit(self, batch: Sequence[Incoming]) -> BatchOutcome:
        """One transaction for the whole batch; transient failures retry it until they pass."""
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential(multiplier=0.1, max=5),
            stop=stop_when_event_set(self._stop),
            before_sleep=self._log_transient,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt, self._engine.begin() as connection:
                    return self._spec.handle(connection, batch)
        except Exception as error:
            if is_transient(error):
                raise Abandoned(str(error)) from error
            raise
        raise AssertionError("unreachable")

    def _log_transient(self, state) -> None:
        log.warning("database_unavailable", queue=self._spec.queue.name,
                    attempt=state.attempt_number, error=str(state.outcome.exception()).strip())
