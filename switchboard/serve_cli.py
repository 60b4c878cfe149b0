"""`switchboard serve`: the HTTP gateway under uvicorn (switchboard/gateway.py), a fleet process."""

from __future__ import annotations

import signal
from typing import Annotated, Optional

import typer

from switchboard.settings import get_settings


def serve(
    host: Annotated[Optional[str], typer.Option(help="default: SWITCHBOARD_GATEWAY_HOST (127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option(help="default: SWITCHBOARD_GATEWAY_PORT (8080)")] = None,
) -> None:
    """Run the HTTP gateway: POST /events as an application, the fleet's reads, /docs (a fleet process)."""
    import uvicorn

    settings = get_settings()
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again with the
    # handler it found at start: with the default one, a cleanly stopped gateway would die by
    # the signal (-15) where every other fleet process exits 0. This one lets it return.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: None)
    uvicorn.run("switchboard.gateway:from_environment", factory=True, host=host or settings.gateway_host,
                port=port or settings.gateway_port, workers=settings.gateway_workers, log_config=None,
                access_log=False, timeout_graceful_shutdown=10)
