"""`switchboard serve`: the HTTP gateway. FastAPI under uvicorn (docs/architecture.md says why).

It is a thin producer and a reader: POST /events judges and publishes (producers/collector.py)
and answers once the broker confirmed; the reads (switchboard/gateway_reads.py) query the
store. It never does a consumer's work, and a POST never waits on the database.
"""

from __future__ import annotations

import gc
import time
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from consumers.event_rules import EventRules
from producers.collector import Collector
from producers.publisher import Publisher
from storage.database import database_reachable, libpq_dsn, make_engine
from switchboard import gateway_events
from switchboard.gateway_reads import reads
from switchboard.search_cache import SearchCache
from switchboard.settings import Settings

REQUESTS = Histogram("switchboard_gateway_request_seconds", "From request to response, by route and status",
                     ["route", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def from_environment():
    """For uvicorn's workers: each builds its own app from the settings of the environment."""
    from switchboard.logs import configure_logging
    from switchboard.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def create_app(settings: Settings):
    """The gateway as an ASGI application: POST /events (switchboard/gateway_events.py) and
    FastAPI for the rest, behind a wrapper that times every request."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        # Reads only: autocommit spares each one a BEGIN and a ROLLBACK; a connection the
        # database dropped fails one read (500) and is replaced, instead of a ping per read.
        app.state.engine = make_engine(settings.database_url, pool_size=settings.gateway_db_pool_size,
                                       isolation_level="AUTOCOMMIT", pool_pre_ping=False)
        app.state.collector = Collector(
            settings.amqp_url, EventRules(unknown_events=settings.unknown_events,
                                          clock_skew=timedelta(seconds=settings.event_clock_skew_s)),
            app_id=settings.app_id, confirm_timeout_s=settings.gateway_confirm_timeout_s)
        app.state.search_cache = SearchCache(libpq_dsn(settings.database_url), settings.gateway_search_cache_mb * 2**20)
        app.state.search_cache.start()
        app.state.broker = Publisher(settings.amqp_url, name="gateway", retry_for=float(10**9))  # for /readyz
        # Everything loaded so far lives as long as the process: out of the collector's sight,
        # full collections stop walking it (they were the slowest requests, tens of ms each).
        gc.freeze()
        yield
        app.state.collector.close()
        app.state.search_cache.stop()
        app.state.broker.close()
        app.state.engine.dispose()

    app = FastAPI(title="Switchboard gateway", lifespan=lifespan,
                  description="Behaviour events in (as an application), and the fleet's reads out.")
    app.include_router(reads)
    app.add_api_route("/healthz", lambda: {"status": "ok"}, methods=["GET"], tags=["operations"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["operations"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])
    app.openapi = lambda: _openapi(app)
    return _Gateway(app)


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document, with POST /events (which FastAPI does not route) declared in it."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        document["paths"].setdefault("/events", {})["post"] = gateway_events.OPENAPI
        components = document.setdefault("components", {})
        components.setdefault("schemas", {}).update(gateway_events.SCHEMAS)
        components.setdefault("securitySchemes", {}).update(gateway_events.SECURITY_SCHEMES)
        app.openapi_schema = document
    return app.openapi_schema


def readyz(request: Request):
    checks = {"broker": request.app.state.broker.ready,
              "database": database_reachable(request.app.state.settings.database_url)}
    return JSONResponse({"ready": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503)


def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class _Gateway:
    """Times every request by route and status, and sends POST /events to its own handler.
    Plain ASGI: Starlette's BaseHTTPMiddleware costs a task and a queue per request."""

    def __init__(self, app: FastAPI):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def sent(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        collecting = scope["method"] == "POST" and scope["path"] == "/events"
        try:
            if collecting:
                state = self.app.state
                await gateway_events.post_events(scope, receive, sent, state.collector, state.settings)
            else:
                await self.app(scope, receive, sent)
        finally:
            route = "/events" if collecting else getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(route, str(status[0])).observe(time.perf_counter() - started)
