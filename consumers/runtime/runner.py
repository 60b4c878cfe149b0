"""Run one consumer in this process until SIGTERM/SIGINT; the exit status says why it ended."""

from __future__ import annotations

import structlog
from typing import Callable

from sqlalchemy.engine import Engine
from tenacity import Retrying, retry_if_exception, wait_exponential

from consumers.runtime import exits
from consumers.runtime.failures import Failure, classify, describe
from consumers.runtime.handler import ConsumerSpec
from consumers.runtime.stopflag import StopFlag
from consumers.runtime.worker import ConsumerWorker, RuntimeOptions
from storage.database import make_engine
from storage.migrate import schema_problem

log = structlog.get_logger(__name__)


def run_consumer(spec: ConsumerSpec, *, amqp_url: str, database_url: str, options: RuntimeOptions,
                 on_worker: Callable[[ConsumerWorker], None] | None = None) -> int:
    """`on_worker` sees the worker before it starts (the shell serves its health endpoint)."""
    engine = make_engine(database_url, pool_size=2, max_overflow=2,
                         connect_args={"application_name": f"switchboard-{spec.name}"})
    try:
        worker = ConsumerWorker(spec, amqp_url=amqp_url, engine=engine, options=options)
        worker.install_signal_handlers()
        if on_worker is not None:
            on_worker(worker)
        problem = _wait_for_schema(engine, worker.stop_flag, spec.name)
        if problem is not None:
            log.error("consumer_refused_to_start", consumer=spec.name, error=problem)
            return exits.CONFIG
        if worker.stop_flag.is_set():
            return exits.OK
        return worker.run()
    finally:
        engine.dispose()


def _wait_for_schema(engine: Engine, stop: StopFlag, consumer: str) -> str | None:
    """Before consuming anything: is the database at the migration head this code needs?
    Started before `switchboard migrate`, a consumer would otherwise fail every message.
    An unreachable database is waited for (until a stop request)."""

    def log_wait(state) -> None:
        log.warning("database_unavailable", consumer=consumer, attempt=state.attempt_number,
                    error=describe(state.outcome.exception()))

    retrying = Retrying(retry=retry_if_exception(lambda error: classify(error) is Failure.OUTAGE),
                        wait=wait_exponential(multiplier=0.2, max=10), stop=lambda _state: stop.is_set(),
                        sleep=stop.wait, before_sleep=log_wait, reraise=True)
    try:
        for attempt in retrying:
            with attempt, engine.connect() as connection:
                return schema_problem(connection)
    except Exception as error:  # noqa: BLE001 - only reached when stopping during an outage
        if stop.is_set():
            return None
        raise error
    return None
