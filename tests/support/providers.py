"""Real providers in the test process, which record what they receive and can be told to fail:
an SMTP server (aiosmtpd) and an HTTP SMS gateway."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ReceivedSms:
    payload: dict
    idempotency_key: str | None
    at: float  # time.time() when it arrived


@dataclass
class Answer:
    status: int = 202
    body: str = '{"status": "accepted"}'
    hang_s: float = 0.0  # sit on the request this long before answering (a hanging gateway)


@dataclass
class SmsGateway:
    """An HTTP SMS gateway: answers from `script` (first in, first out), then `default`."""

    received: list[ReceivedSms] = field(default_factory=list)
    script: deque[Answer] = field(default_factory=deque)
    default: Answer = field(default_factory=Answer)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms"
        self._lock = threading.Lock()

    def start(self) -> "SmsGateway":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def for_reference(self, reference: str) -> list[ReceivedSms]:
        with self._lock:
            return [sms for sms in self.received if sms.payload.get("reference") == reference]

    def _handler(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls

            def do_POST(self) -> None:  # noqa: N802
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with gateway._lock:
                    gateway.received.append(ReceivedSms(payload, self.headers.get("Idempotency-Key"), time.time()))
                    answer = gateway.script.popleft() if gateway.script else gateway.default
                time.sleep(answer.hang_s)  # the fault itself: a gateway that does not answer in time
                body = answer.body.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        return Handler


@dataclass
class ReceivedMail:
    recipients: list[str]
    message: object  # email.message.EmailMessage
    at: float


@dataclass
class SmtpServer:
    """An SMTP server: accepts everything unless `answers` says otherwise (e.g. "451 try later"
    or "550 no such user", first in, first out, answered to DATA)."""

    received: list[ReceivedMail] = field(default_factory=list)
    answers: deque[str] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.attempts = 0

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - the aiosmtpd API
        self.attempts += 1
        if self.answers:
            return self.answers.popleft()
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.received.append(ReceivedMail(list(envelope.rcpt_tos), message, time.time()))
        return "250 OK"

    def with_message_id(self, message_id: str) -> list[ReceivedMail]:
        return [mail for mail in self.received if mail.message["Message-ID"] == message_id]
