"""Every fleet process serves, on one port: GET /metrics (Prometheus), /healthz (liveness) and
/readyz (readiness, with a JSON body naming each check).

Liveness is "restarting would not help": the process's own machinery runs. Readiness is "it
can do its work now": for a consumer, the broker is connected, the database answers and the
broker delivers to it. The port comes from SWITCHBOARD_METRICS_PORT (0: any free port);
`switchboard run` gives each process its own, and each logs the one it serves on.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = structlog.get_logger(__name__)

Check = Callable[[], bool]


class HealthServer:
    def __init__(self, host: str, port: int, *, live: Check, ready: dict[str, Check], process: str):
        self._live = live
        self._ready = ready
        self._process = process
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "HealthServer":
        threading.Thread(target=self._server.serve_forever, name="health", daemon=True).start()
        log.info("metrics_serving", process=self._process, port=self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def readiness(self) -> dict[str, bool]:
        return {name: _safely(check) for name, check in self._ready.items()}

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    alive = _safely(server._live)
                    self._json(200 if alive else 503, {"status": "ok" if alive else "dead"})
                elif path == "/readyz":
                    checks = server.readiness()
                    self._json(200 if all(checks.values()) else 503, {"ready": all(checks.values()), **checks})
                else:
                    self._json(404, {"error": f"no such endpoint: {path}; try /metrics, /healthz or /readyz"})

            def _json(self, status: int, document: dict) -> None:
                self._send(status, json.dumps(document).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:  # scrapes every few seconds: not worth a log line
                pass

        return Handler


def serve_health(host: str, port: int, *, live: Check, ready: dict[str, Check], process: str) -> HealthServer | None:
    """Start the endpoint; a port that cannot be bound is logged, and the process goes on without."""
    try:
        return HealthServer(host, port, live=live, ready=ready, process=process).start()
    except OSError as error:
        log.error("metrics_unavailable", process=process, port=port, error=str(error))
        return None


def _safely(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a check that fails says "no"
        return False


def consumer_health(settings, name: str, worker) -> HealthServer | None:
    """A consumer is alive while its AMQP link is; ready while the broker is connected, the
    database answers and the broker delivers to it."""
    from storage.database import database_reachable

    readiness = worker.readiness
    return serve_health(settings.metrics_host, settings.metrics_port, process=name, live=lambda: worker.link.alive,
                        ready={"broker": lambda: readiness()["broker"],
                               "database": lambda: database_reachable(settings.database_url),
                               "consumer": lambda: readiness()["consumer"]})
