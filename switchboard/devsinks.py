"""Local development sinks, the way MailHog serves web developers: an SMTP server (aiosmtpd) and
an HTTP SMS gateway that accept everything and keep it where you can read it.

- e-mail: each message as an `.eml` file in `<sinks dir>/mail/`, named after its Message-ID
  (a resend of the same notification overwrites its file: it shows once);
- SMS: one JSON line per SMS in `<sinks dir>/sms.jsonl`; a POST whose Idempotency-Key was
  seen before is answered again and not kept twice, like a real gateway;
- `GET http://127.0.0.1:<http port>/` lists both as JSON.

`switchboard run` starts them when SWITCHBOARD_SMTP_URL or SWITCHBOARD_SMS_GATEWAY_URL is not
set; `switchboard dev-sinks` runs them alone.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import structlog
from aiosmtpd.controller import Controller

log = structlog.get_logger(__name__)


class MailSink:
    """aiosmtpd handler: keeps every message it is handed."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - the aiosmtpd API
        message = message_from_bytes(envelope.content, policy=default_policy)
        key = message.get("Message-ID") or hashlib.sha256(envelope.content).hexdigest()
        name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".eml"
        (self.directory / name).write_bytes(envelope.content)
        log.info("sink_mail_received", file=name)
        return "250 Message accepted for delivery"

    def listing(self) -> list[dict]:
        mails = []
        for path in sorted(self.directory.glob("*.eml"), key=lambda p: p.stat().st_mtime):
            message = message_from_bytes(path.read_bytes(), policy=default_policy)
            mails.append({"file": str(path), "message_id": message["Message-ID"], "to": message["To"],
                          "subject": message["Subject"], "body": message.get_body(("plain",)).get_content()})
        return mails


class SmsSink:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seen = {json.loads(line).get("idempotency_key") for line in self._lines()}

    def receive(self, payload: dict, key: str | None) -> tuple[int, dict]:
        missing = [field for field in ("to", "body") if not isinstance(payload.get(field), str)]
        if missing:
            return 400, {"error": f"missing or not text: {', '.join(missing)}"}
        with self._lock:
            if key and key in self._seen:
                return 200, {"status": "duplicate", "reference": payload.get("reference")}
            self._seen.add(key)
            record = {"received_at": datetime.now(timezone.utc).isoformat(), "to": payload["to"],
                      "body": payload["body"], "reference": payload.get("reference"), "idempotency_key": key}
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(record) + "\n")
        log.info("sink_sms_received", reference=payload.get("reference"))
        return 202, {"status": "accepted", "reference": payload.get("reference")}

    def listing(self) -> list[dict]:
        return [json.loads(line) for line in self._lines()]

    def _lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []


def _http_handler(sms: SmsSink, mail: MailSink):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real gateway

        def setup(self) -> None:
            super().setup()
            # Headers and body are two writes: without this, Nagle holds the body back until the
            # client's delayed ACK, 40 ms per SMS.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802
            try:
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            except ValueError:
                return self._json(400, {"error": "the body is not JSON"})
            if not isinstance(payload, dict):
                return self._json(400, {"error": "the body must be a JSON object"})
            self._json(*sms.receive(payload, self.headers.get("Idempotency-Key")))

        def do_GET(self) -> None:  # noqa: N802
            self._json(200, {"sms": sms.listing(), "mail": mail.listing()})

        def _json(self, status: int, document: dict) -> None:
            body = json.dumps(document, indent=1).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    return Handler


class DevSinks:
    def __init__(self, directory: Path, *, host: str = "127.0.0.1", smtp_port: int = 1025, http_port: int = 8025):
        self.mail = MailSink(directory / "mail")
        self.sms = SmsSink(directory / "sms.jsonl")
        self._smtp = Controller(self.mail, hostname=host, port=smtp_port)
        self._http = ThreadingHTTPServer((host, http_port), _http_handler(self.sms, self.mail))
        self._http.daemon_threads = True

    @property
    def smtp_port(self) -> int:
        return self._smtp.port

    @property
    def http_port(self) -> int:
        return self._http.server_address[1]

    def start(self) -> "DevSinks":
        self._smtp.start()
        threading.Thread(target=self._http.serve_forever, name="sms-sink", daemon=True).start()
        log.info("dev_sinks_serving", smtp=f"smtp://{self._smtp.hostname}:{self.smtp_port}",
                 sms=f"http://{self._http.server_address[0]}:{self.http_port}/sms",
                 mail_dir=str(self.mail.directory), sms_file=str(self.sms.path))
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._smtp.stop()
