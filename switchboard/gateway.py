"""`switchboard serve`: the HTTP gateway. FastAPI under uvicorn (docs/architecture.md says why).

It is a thin producer and a reader: POST /events judges and publishes (producers/collector.py)
and answers once the broker confirmed; the reads (switchboard/gateway_reads.py) query the
store. It never does a consumer's work, and a POST never waits on the database.
"""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from typing import Annotated
from datetime import timedelta

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool

from consumers.event_rules import EventRules
from producers.collector import Collector, Unauthorized, Unavailable
from producers.publisher import Publisher
from storage.database import database_reachable, make_engine
from switchboard.gateway_reads import reads
from switchboard.settings import Settings

RETRY_AFTER_S = "5"
EVENTS = Counter("switchboard_gateway_events", "Events posted to the gateway, by outcome: accepted or rejected",
                 ["outcome"])
REQUESTS = Histogram("switchboard_gateway_request_seconds", "From request to response, by route and status",
                     ["route", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
basic = HTTPBasic(auto_error=False, description="the application's RabbitMQ user and password "
                                                "(printed by `switchboard apps add`)")


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def from_environment():
    """For uvicorn's workers: each builds its own app from the settings of the environment."""
    from switchboard.logs import configure_logging
    from switchboard.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def create_app(settings: Settings):
    """The gateway as an ASGI application (FastAPI, wrapped to time every request)."""
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
        app.state.broker = Publisher(settings.amqp_url, name="gateway", retry_for=float(10**9))  # for /readyz
        yield
        app.state.collector.close()
        app.state.broker.close()
        app.state.engine.dispose()

    app = FastAPI(title="Switchboard gateway", lifespan=lifespan,
                  description="Behaviour events in (as an application), and the fleet's reads out.")
    app.include_router(reads)
    app.add_api_route("/events", post_events, methods=["POST"], status_code=202, tags=["events"],
                      summary="Collect one event or an array of events, as an application")
    app.add_api_route("/healthz", lambda: {"status": "ok"}, methods=["GET"], tags=["operations"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["operations"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])
    return _Timed(app)


async def post_events(request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]):
    """202 `{"accepted": N, "rejected": [{"index", "error"}]}` once the broker confirmed every
    accepted event; 401 without valid application credentials; 400 for a body that is not JSON;
    413 over the size or count limit; 503 (with Retry-After) when the broker cannot take them."""
    settings: Settings = request.app.state.settings
    if credentials is None:
        return error(401, "unauthorized", "HTTP Basic credentials of an application are required",
                     {"WWW-Authenticate": 'Basic realm="switchboard"'})
    items = await _events_in(request, settings)
    if isinstance(items, JSONResponse):
        return items
    try:
        collected = await run_in_threadpool(request.app.state.collector.collect, credentials.username,
                                            credentials.password, items)
    except Unauthorized:
        return error(401, "unauthorized", "RabbitMQ refused these credentials (unknown or revoked application, "
                                          "or a wrong password)", {"WWW-Authenticate": 'Basic realm="switchboard"'})
    except Unavailable as unavailable:
        return error(503, "broker_unavailable", f"the events were not accepted, send them again: {unavailable}",
                     {"Retry-After": RETRY_AFTER_S})
    EVENTS.labels("accepted").inc(collected.accepted)
    EVENTS.labels("rejected").inc(len(collected.rejected))
    return JSONResponse(collected.as_dict(), status_code=202)


async def _events_in(request: Request, settings: Settings) -> list | JSONResponse:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.gateway_max_body_bytes:
        return _too_large(settings)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.gateway_max_body_bytes:
            return _too_large(settings)
    try:
        document = json.loads(body)
    except ValueError as problem:
        return error(400, "invalid_json", f"the body is not JSON: {problem}")
    items = document if isinstance(document, list) else [document]
    if not items:
        return error(400, "no_events", "an empty array: send one event or an array of up to "
                                       f"{settings.gateway_max_events}")
    if len(items) > settings.gateway_max_events:
        return error(413, "too_many_events", f"{len(items)} events: at most {settings.gateway_max_events} per request")
    return items


def _too_large(settings: Settings) -> JSONResponse:
    return error(413, "body_too_large", f"the body is over {settings.gateway_max_body_bytes} bytes")


def readyz(request: Request):
    checks = {"broker": request.app.state.broker.ready,
              "database": database_reachable(request.app.state.settings.database_url)}
    return JSONResponse({"ready": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503)


def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class _Timed:
    """Request duration by route and status; plain ASGI (Starlette's BaseHTTPMiddleware costs a
    task and a queue per request)."""

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

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(route, str(status[0])).observe(time.perf_counter() - started)
