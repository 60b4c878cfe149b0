"""The management API client against a real HTTP server standing in for RabbitMQ's: a GET that
meets a 5xx (RabbitMQ 3.10 answers 500 now and then while a connection closes) is asked again;
refusals are not."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from broker.management import GET_ATTEMPTS, Management, ManagementUnavailable


class ScriptedApi:
    """Answers GETs with the next status of `statuses` (then 200 and `[]`), counting them."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.requests = list(statuses), 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                api.requests += 1
                status = api.statuses.pop(0) if api.statuses else 200
                body = json.dumps([] if status == 200 else {"error": "x", "reason": "scripted"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(request):
    scripted = ScriptedApi(request.param)
    yield scripted
    scripted.close()


def management(api: ScriptedApi) -> Management:
    return Management(api.url, "amqp://guest:guest@127.0.0.1:5672/%2F", timeout=2)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("api", [[500, 503]], indirect=True)
def test_a_get_that_meets_a_server_error_is_asked_again(api):
    assert management(api).get("connections") == []
    assert api.requests == 3


@pytest.mark.timeout(10)
@pytest.mark.parametrize("api", [[500] * GET_ATTEMPTS], indirect=True)
def test_a_get_that_keeps_failing_reports_the_last_answer(api):
    with pytest.raises(ManagementUnavailable, match="answered 500 for connections: scripted"):
        management(api).get("connections")
    assert api.requests == GET_ATTEMPTS


@pytest.mark.timeout(10)
@pytest.mark.parametrize("api", [[401]], indirect=True)
def test_refused_credentials_are_not_asked_again(api):
    with pytest.raises(ManagementUnavailable, match="refused the credentials"):
        management(api).get("connections")
    assert api.requests == 1
