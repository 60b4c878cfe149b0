"""Run one channel's dispatcher in this process until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
from datetime import timedelta
from typing import Callable

from consumers.delivery.dispatcher import Courier, Dispatcher

from consumers.runtime.stopflag import StopFlag
from producers.publisher import Publisher
from schemas.notifications import Channel
from storage.database import make_engine


def run_dispatcher(channel: Channel, courier: Courier, *, amqp_url: str, database_url: str, batch_size: int,
                   retry_for: timedelta, on_start: Callable[[Dispatcher], None] | None = None) -> int:
    stop = StopFlag()
    signal.signal(signal.SIGTERM, stop.set)
    signal.signal(signal.SIGINT, stop.set)
    engine = make_engine(database_url, pool_size=2, max_overflow=1,
                         connect_args={"application_name": f"switchboard-{channel}-dispatcher"})
    try:
        with Publisher(amqp_url, name=f"{channel}-dispatcher") as publisher:
            dispatcher = Dispatcher(channel, courier, engine, database_url, publisher, batch_size=batch_size,
                                    retry_for=retry_for, stop=stop)
            if on_start is not None:
                on_start(dispatcher)
            return dispatcher.run()
    finally:
        engine.dispose()
