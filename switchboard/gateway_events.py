"""POST /events, the gateway's hot path, as a plain ASGI handler ahead of FastAPI.

One event per request is the common case for a web application, and for such a request
FastAPI's routing, dependency solving and response machinery cost about as much CPU as the
work itself (judging the event and publishing it). So this route reads the body, the Basic
credentials and the JSON itself; every other route stays with FastAPI. Its OpenAPI entry is
declared here (`OPENAPI`) and merged into FastAPI's document, so /docs shows it like the rest.
"""

from __future__ import annotations

import base64
import binascii
import json

from prometheus_client import Counter

from producers.collector import Collector, Unauthorized, Unavailable
from switchboard.settings import Settings

RETRY_AFTER_S = b"5"
CHALLENGE = (b"www-authenticate", b'Basic realm="switchboard"')
EVENTS = Counter("switchboard_gateway_events", "Events posted to the gateway, by outcome: accepted or rejected",
                 ["outcome"])


class Refusal(Exception):
    """A request answered with an error document (and no event published)."""

    def __init__(self, status: int, code: str, message: str, *headers: tuple[bytes, bytes]):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, list(headers)


async def post_events(scope, receive, send, collector: Collector, settings: Settings) -> None:
    """202 `{"accepted": N, "rejected": [{"index", "error"}]}` once the broker confirmed every
    accepted event; 401 without valid application credentials; 400 for a body that is not JSON;
    413 over the size or count limit; 503 (with Retry-After) when the broker cannot take them."""
    try:
        user, password = _credentials(scope)
        items = _events(await _body(scope, receive, settings.gateway_max_body_bytes), settings.gateway_max_events)
        collected = await _collect(collector, user, password, items)
    except Refusal as refusal:
        await respond(send, refusal.status, {"error": {"code": refusal.code, "message": str(refusal)}},
                      *refusal.headers)
        return
    EVENTS.labels("accepted").inc(collected.accepted)
    EVENTS.labels("rejected").inc(len(collected.rejected))
    await respond(send, 202, collected.as_dict())


async def respond(send, status: int, document: dict, *headers: tuple[bytes, bytes]) -> None:
    body = json.dumps(document, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def _credentials(scope) -> tuple[str, str]:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"basic":
                try:
                    user, colon, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    break
                if colon:
                    return user, password
            break
    raise Refusal(401, "unauthorized", "HTTP Basic credentials of an application are required", CHALLENGE)


async def _body(scope, receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise Refusal(413, "body_too_large", f"the body is over {limit} bytes")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(400, "incomplete_body", "the client went away before the body was complete")
        body += message.get("body", b"")
        if len(body) > limit:
            raise Refusal(413, "body_too_large", f"the body is over {limit} bytes")
        if not message.get("more_body"):
            return bytes(body)


def _events(body: bytes, most: int) -> list:
    try:
        document = json.loads(body)
    except ValueError as problem:
        raise Refusal(400, "invalid_json", f"the body is not JSON: {problem}") from None
    items = document if isinstance(document, list) else [document]
    if not items:
        raise Refusal(400, "no_events", f"an empty array: send one event or an array of up to {most}")
    if len(items) > most:
        raise Refusal(413, "too_many_events", f"{len(items)} events: at most {most} per request")
    return items


async def _collect(collector: Collector, user: str, password: str, items: list):
    try:
        return await collector.collect(user, password, items)
    except Unauthorized:
        raise Refusal(401, "unauthorized", "RabbitMQ refused these credentials (unknown or revoked application, "
                                           "or a wrong password)", CHALLENGE) from None
    except Unavailable as unavailable:
        raise Refusal(503, "broker_unavailable", f"the events were not accepted, send them again: {unavailable}",
                      (b"retry-after", RETRY_AFTER_S)) from None


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/GatewayError"}}}}


OPENAPI = {
    "tags": ["events"],
    "summary": "Collect one event or an array of events, as an application",
    "description": post_events.__doc__,
    "operationId": "post_events",
    "security": [{"HTTPBasic": []}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"type": "object", "description": "one event (../shared/specs/sessions.md)"},
        {"type": "array", "items": {"type": "object"}, "description": "up to the gateway's event limit"}]}}}},
    "responses": {
        "202": {"description": "every accepted event confirmed by the broker", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Collected"}}}},
        "400": _error_response("the body is not JSON, or an empty array"),
        "401": _error_response("missing or refused application credentials"),
        "413": _error_response("over the body size or event count limit"),
        "503": _error_response("the broker cannot take the events now; send them again after Retry-After"),
    },
}

SCHEMAS = {
    "Collected": {"type": "object", "required": ["accepted", "rejected"], "properties": {
        "accepted": {"type": "integer"},
        "rejected": {"type": "array", "items": {"type": "object", "properties": {
            "index": {"type": "integer"}, "error": {"type": "string"}}}}}},
    "GatewayError": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}}},
}
SECURITY_SCHEMES = {"HTTPBasic": {"type": "http", "scheme": "basic",
                                  "description": "the application's RabbitMQ user and password "
                                                 "(printed by `switchboard apps add`)"}}
