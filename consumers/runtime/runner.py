"""Run one consumer in this process until SIGTERM/SIGINT."""

from __future__ import annotations

from consumers.runtime.handler import ConsumerSpec
from consumers.runtime.worker import ConsumerWorker, RuntimeOptions
from storage.database import make_engine


def run_consumer(spec: ConsumerSpec, *, amqp_url: str, database_url: str, options: RuntimeOptions) -> int:
    engine = make_engine(database_url, pool_size=2, max_overflow=2,
                         connect_args={"application_name": f"switchboard-{spec.name}"})
    try:
        worker = ConsumerWorker(spec, amqp_url=amqp_url, engine=engine, options=options)
        worker.install_signal_handlers()
        return worker.run()
    finally:
        engine.dispose()
