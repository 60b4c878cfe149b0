"""Run a consumer's handler over a batch inside one transaction, isolating what makes it fail.

What happens on failure depends on why (consumers/runtime/failures.py):
- a database outage retries the whole batch with backoff until it passes, dead-lettering
  nothing (a shutdown meanwhile abandons the batch: it will be redelivered);
- contention retries the batch a few times, then isolates it;
- anything else isolates it at once: the batch is split in halves, each committed on its
  own, and a failing half split again, so the messages that fail alone are found in a few
  transactions (about 2·log2(n) for one culprit among n), not n. A message that fails alone
  `attempts` times is rejected with the error; everything else commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import structlog
from sqlalchemy.engine import Engine
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential, wait_random_exponential

from consumers.runtime.failures import Failure, classify, describe
from consumers.runtime.handler import BatchOutcome, ConsumerSpec, Emit, Incoming
from consumers.runtime.metrics import ConsumerMetrics
from consumers.runtime.stopflag import StopFlag

log = structlog.get_logger(__name__)

CONTENTION_ATTEMPTS = 5  # for a whole batch; its parts, once isolating, get one try each
MAX_OUTAGE_BACKOFF_S = 30.0

_outage_wait = wait_exponential(multiplier=0.1, max=MAX_OUTAGE_BACKOFF_S)
_contention_wait = wait_random_exponential(multiplier=0.02, max=0.5)  # jitter: contenders drift apart

Indexed = list[tuple[int, Incoming]]  # (index in the batch, message)


class Abandoned(Exception):
    """The batch could not be finished (shutdown during an outage); it will be redelivered."""


@dataclass
class Result:
    emits: list[Emit] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)

    def add(self, outcome: BatchOutcome, indexes: Sequence[int]) -> None:
        """Merge the outcome of a part of the batch (its own indexes) into the batch's result."""
        self.emits.extend(outcome.emits)
        self.rejected.update({indexes[local]: reason for local, reason in outcome.rejected.items()})


class BatchProcessor:
    def __init__(self, spec: ConsumerSpec, engine: Engine, *, attempts: int, stop: StopFlag,
                 metrics: ConsumerMetrics):
        self._spec = spec
        self._engine = engine
        self._attempts = attempts
        self._stop = stop
        self._metrics = metrics

    def run(self, batch: Sequence[Incoming]) -> Result:
        items = list(enumerate(batch))
        result = Result()
        try:
            result.add(self._commit(batch, CONTENTION_ATTEMPTS), range(len(batch)))
        except Abandoned:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of a message is isolated, not fatal
            log.warning("batch_failed_isolating", queue=self._spec.queue.name, consumer=self._spec.name,
                        batch_size=len(batch), error=describe(error))
            self._bisect(items, result)
        return result

    def _bisect(self, items: Indexed, result: Result) -> None:
        if len(items) == 1:
            self._commit_alone(items[0], result)
            return
        middle = len(items) // 2
        for part in (items[:middle], items[middle:]):
            try:
                result.add(self._commit([incoming for _, incoming in part], 1), [index for index, _ in part])
            except Abandoned:
                raise
            except Exception:  # noqa: BLE001 - narrowed down further
                self._bisect(part, result)

    def _commit_alone(self, item: tuple[int, Incoming], result: Result) -> None:
        index, incoming = item
        error: Exception | None = None
        for _attempt in range(self._attempts):
            try:
                result.add(self._commit([incoming], 1), [index])
                return
            except Abandoned:
                raise
            except Exception as failure:  # noqa: BLE001
                error = failure
        reason = f"handler failed {self._attempts} times: {describe(error)}"
        log.error("message_failed", queue=self._spec.queue.name, consumer=self._spec.name,
                  routing_key=incoming.routing_key, message_id=incoming.message_id, error=reason)
        result.rejected[index] = reason

    def _commit(self, batch: Sequence[Incoming], contention_attempts: int) -> BatchOutcome:
        """One transaction for the batch. Outages are waited out; contention is tried
        `contention_attempts` times; anything else is raised at once."""

        def gives_up(state: RetryCallState) -> bool:
            if self._stop.is_set():
                return True
            failure = classify(state.outcome.exception())
            return failure is Failure.CONTENTION and state.attempt_number >= contention_attempts

        retrying = Retrying(
            retry=retry_if_exception(lambda error: classify(error) is not Failure.MESSAGE),
            wait=_wait,
            stop=gives_up,
            sleep=self._stop.wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    with self._engine.begin() as connection:
                        outcome = self._spec.handle(connection, batch)
                    self._metrics.database.set(1)
                    return outcome
        except Exception as error:
            failure = classify(error)
            self._metrics.handler_error(failure.value)
            if failure is Failure.OUTAGE or (failure is Failure.CONTENTION and self._stop.is_set()):
                raise Abandoned(describe(error)) from error
            raise
        raise AssertionError("unreachable")

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception()
        failure = classify(error)
        self._metrics.handler_error(failure.value)
        if failure is Failure.OUTAGE:
            self._metrics.database.set(0)
        event = "database_unavailable" if failure is Failure.OUTAGE else "database_contention"
        log.warning(event, queue=self._spec.queue.name, consumer=self._spec.name,
                    attempt=state.attempt_number, error=describe(error))


def _wait(state: RetryCallState) -> float:
    outage = classify(state.outcome.exception()) is Failure.OUTAGE
    return _outage_wait(state) if outage else _contention_wait(state)
