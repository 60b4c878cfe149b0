"""The gateway's reads: each answers the same JSON as the matching CLI command with `--json`,
errors as {"error": {"code", "message"}} (400 bad parameters, 404 unknown). The plan search
answers the spec's own document, errors included."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from schemas.base import describe_errors
from schemas.plan_search import PlanSearch, SearchError, error_document
from schemas.periods import bill_period
from schemas.telephony import BillRequest

reads = APIRouter(tags=["reads"])


def _json(text: str, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _read(request: Request, query):
    with request.app.state.engine.connect() as connection:
        return query(connection)


@reads.get("/search", summary="Plans ever online that overlap [starts_at, ends_at], by start")
async def search(request: Request, starts_at: str | None = None, ends_at: str | None = None) -> Response:
    """Answered from memory while the plans have not changed (switchboard/search_cache.py)."""
    from storage.plans import search_document

    try:
        wanted = PlanSearch.parse(starts_at, ends_at)
    except SearchError as problem:
        return _json(error_document(problem), 400)
    cache, key = request.app.state.search_cache, (wanted.starts_at, wanted.ends_at)
    document = cache.get(key)
    if document is None:
        generation = cache.generation
        document = await run_in_threadpool(_read, request, lambda conn: search_document(conn, *key))
        cache.put(key, generation, document)
    return _json(document)


@reads.get("/bills/{subscriber}", summary="A subscriber's bill for a closed month (default: the last one)")
def bill(request: Request, subscriber: str, period: str | None = None) -> Response:
    from storage.bills import bill as query_bill

    try:
        BillRequest(subscriber=subscriber, period=period)
        closed = bill_period(period, datetime.now(timezone.utc).date())
    except ValidationError as problem:
        return _error(400, "invalid_parameter", describe_errors(problem))
    except ValueError as problem:
        return _error(400, "invalid_parameter", str(problem))
    return _json(_read(request, lambda conn: query_bill(conn, subscriber, str(closed))).model_dump_json())


@reads.get("/sessions/{session_id}", summary="A session's events, by the time they happened")
def session(request: Request, session_id: str) -> Response:
    from storage.event_queries import session as query_session

    try:
        wanted = str(UUID(session_id))
    except ValueError:
        return _error(400, "invalid_parameter", f"session_id must be a UUID, got {session_id!r}")
    found = _read(request, lambda conn: query_session(conn, wanted))
    if found is None:
        return _error(404, "not_found", f"no session {wanted}: none of its events has been stored")
    return _json(found.model_dump_json())


@reads.get("/events", summary="Stored events by type, application and time (since inclusive, until exclusive)")
def events(request: Request, category: str | None = None, name: str | None = None, application: str | None = None,
           since: str | None = None, until: str | None = None, limit: int = 1000) -> Response:
    from schemas.event_types import type_word
    from storage.event_queries import EventFilter, find_events
    from switchboard.events_cli import parse_moment

    try:
        wanted = EventFilter(category=category and type_word(category), name=name and type_word(name),
                             application=application, since=parse_moment(since, "since"),
                             until=parse_moment(until, "until", end_of_day=True), limit=max(1, min(limit, 10_000)))
    except ValueError as problem:
        return _error(400, "invalid_parameter", str(problem))
    found = _read(request, lambda conn: find_events(conn, wanted))
    return _json(json.dumps([event.model_dump(mode="json") for event in found]))


@reads.get("/orders/{order_id}", summary="An order's status and the history of its valid events")
def order(request: Request, order_id: str) -> Response:
    from storage.orders import order_document

    found = _read(request, lambda conn: order_document(conn, order_id))
    if found is None:
        return _error(404, "not_found", f"no order {order_id}")
    return _json(json.dumps(found))


@reads.get("/deliveries", summary="What became of notifications, per channel")
def deliveries(request: Request, notification: str | None = None, contact: str | None = None,
               channel: str | None = None, status: str | None = None) -> Response:
    from storage.deliveries import delivery_documents, find_deliveries

    rows = _read(request, lambda conn: find_deliveries(conn, notification=notification, contact=contact,
                                                       channel=channel, status=status))
    return _json(json.dumps(delivery_documents(rows)))

