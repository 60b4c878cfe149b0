"""A real HTTP provider of the plan document in the test process: it answers from a script
(first in, first out), then with the last document, honouring If-None-Match with a 304."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">' +
        "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) +
        ']><planList><output>&i;</output></planList>')


@dataclass(frozen=True)
class Reply:
    kind: str  # document, status, hang, cut_off
    body: bytes = b""
    etag: str | None = None
    status: int = 200
    hang_s: float = 0.0


def document(body: bytes, etag: str) -> Reply:
    return Reply("document", body, etag)


@dataclass
class PlanProvider:
    script: deque[Reply] = field(default_factory=deque)
    served: list[str] = field(default_factory=list)  # what each request got: "document", "503", "304", ...

    def __post_init__(self) -> None:
        self._current: Reply | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/plans.xml"

    def start(self) -> "PlanProvider":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, if_none_match: str | None) -> Reply:
        with self._lock:
            if self.script:
                reply = self.script.popleft()
                if reply.kind == "document":
                    self._current = reply
            elif self._current is not None and if_none_match == self._current.etag:
                reply = Reply("status", status=304)
            else:
                reply = self._current or Reply("status", status=404)
            self.served.append(reply.kind if reply.kind not in ("status",) else str(reply.status))
            return reply

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                reply = provider._next(self.headers.get("If-None-Match"))
                if reply.kind == "hang":
                    time.sleep(reply.hang_s)
                    return
                body = reply.body if reply.kind != "status" else b""
                self.send_response(reply.status)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body) * (2 if reply.kind == "cut_off" else 1)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)  # cut_off: half of what Content-Length promised, then the connection closes
                self.close_connection = True

            def log_message(self, *_args) -> None:
                pass

        return Handler
