"""The raw side of the notification bench, run as processes (`python -m bench.delivery_raw ...`):

    sink http PORT          an HTTP SMS gateway that answers 202 at once (ThreadingHTTPServer)
    sink smtp PORT          an SMTP server that accepts every message at once (aiosmtpd)
    send sms N PORT         bare httpx: N JSON POSTs over one keep-alive connection; prints the seconds
    send email N PORT       bare smtplib: N messages over one session; prints the seconds
"""

from __future__ import annotations

import json
import smtplib
import socket
import sys
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def body(i: int) -> str:
    return f"Your order {i} is ready for pick-up."


class _Accept(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle holds the second until the
        # client's delayed ACK (40 ms), and every request would take that long.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args) -> None:
        pass


class _AcceptMail:
    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        return "250 OK"


def sink(kind: str, port: int) -> None:
    if kind == "http":
        server = ThreadingHTTPServer(("127.0.0.1", port), _Accept)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    else:
        from aiosmtpd.controller import Controller

        Controller(_AcceptMail(), hostname="127.0.0.1", port=port).start()
    print("ready", flush=True)
    threading.Event().wait()


def send(channel: str, n: int, port: int) -> float:
    started = time.perf_counter()
    if channel == "sms":
        import httpx

        with httpx.Client() as client:
            for i in range(n):
                client.post(f"http://127.0.0.1:{port}/sms", json={"to": "+5511987654321", "body": body(i),
                                                                  "reference": f"raw-{i}"},
                            headers={"Idempotency-Key": f"raw-{i}"}).raise_for_status()
    else:
        with smtplib.SMTP("127.0.0.1", port) as server:
            for i in range(n):
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = "bench@localhost", "ana@example.com", "Order"
                message["Message-ID"] = f"<raw-{i}.notification@localhost>"
                message.set_content(body(i))
                server.send_message(message)
    return time.perf_counter() - started


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        sink(sys.argv[2], int(sys.argv[3]))
    else:
        print(json.dumps({"seconds": send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))}))
