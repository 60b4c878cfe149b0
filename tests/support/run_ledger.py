"""Entry point for the ledger test consumer process: `python -m tests.support.run_ledger`."""

import os
import sys

from consumers.runtime.runner import run_consumer
from consumers.runtime.worker import RuntimeOptions
from schemas.topology import QueuePolicy
from switchboard.logs import configure_logging
from tests.support.ledger import CONSUMER, LEDGER_TOPOLOGY

if __name__ == "__main__":
    configure_logging(os.environ.get("SWITCHBOARD_LOG_LEVEL", "INFO"), "json")
    options = RuntimeOptions(
        prefetch=int(os.environ.get("LEDGER_PREFETCH", "500")),
        batch_size=int(os.environ.get("LEDGER_BATCH_SIZE", "200")),
        max_body_bytes=int(os.environ.get("LEDGER_MAX_BODY", "4096")),
        handler_attempts=2,
        heartbeat_s=int(os.environ.get("LEDGER_HEARTBEAT_S", "30")),
        reconnect_budget_s=float(os.environ.get("LEDGER_RECONNECT_BUDGET_S", "300")),
        policy=QueuePolicy("quorum", delivery_limit=int(os.environ.get("LEDGER_DELIVERY_LIMIT", "50"))),
        topology=LEDGER_TOPOLOGY,
        management_url=os.environ.get("SWITCHBOARD_MANAGEMENT_URL", "http://127.0.0.1:15672"),
    )
    sys.exit(run_consumer(
        CONSUMER,
        amqp_url=os.environ["SWITCHBOARD_AMQP_URL"],
        database_url=os.environ["SWITCHBOARD_DATABASE_URL"],
        options=options,
    ))
