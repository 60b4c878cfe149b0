"""The RabbitMQ management HTTP API, for what AMQP cannot tell or do: unacked counts, consumers,
users and their permissions. Credentials and vhost come from the AMQP URL; the API's base URL
from settings."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pika
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

GET_ATTEMPTS = 3


class ManagementUnavailable(Exception):
    """The management API did not answer (not enabled, wrong URL, refused credentials)."""


class _ServerError(ManagementUnavailable):
    """The API answered 5xx. RabbitMQ 3.10 does so now and then when a connection closes while it
    lists connections; a GET is safe to ask again."""


class Management:
    def __init__(self, management_url: str, amqp_url: str, timeout: float = 3.0):
        parameters = pika.URLParameters(amqp_url)
        self.vhost = parameters.virtual_host
        self.user = parameters.credentials.username
        self._base = management_url.rstrip("/")
        credentials = f"{parameters.credentials.username}:{parameters.credentials.password}"
        self._authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        self._timeout = timeout

    def get(self, *path: str, **query: str) -> Any:
        """The JSON the API answers, or None for 404."""
        retrying = Retrying(retry=retry_if_exception_type(_ServerError), stop=stop_after_attempt(GET_ATTEMPTS),
                            wait=wait_fixed(0.2), reraise=True)
        return retrying(self._request, "GET", path, query=query)

    def put(self, *path: str, body: dict) -> None:
        self._request("PUT", path, body=body)

    def delete(self, *path: str) -> bool:
        """False if there was nothing to delete (404)."""
        return self._request("DELETE", path) is not None

    def _request(self, method: str, path: tuple[str, ...], query: dict | None = None, body: dict | None = None) -> Any:
        url = f"{self._base}/api/" + "/".join(urllib.parse.quote(part, safe="") for part in path)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": self._authorization}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        try:
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                content = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404 and method != "PUT":
                return None
            failure = _ServerError if error.code >= 500 else ManagementUnavailable
            raise failure(self._refusal(error, path)) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise ManagementUnavailable(f"management API not reachable at {self._base}: {error}") from None
        if method != "GET":
            return True
        try:
            return json.loads(content)
        except ValueError:
            raise ManagementUnavailable(f"{self._base} did not answer like the RabbitMQ management API (not JSON): "
                                        "check the management URL") from None

    def _refusal(self, error: urllib.error.HTTPError, path: tuple[str, ...]) -> str:
        if error.code == 401:
            return f"management API at {self._base} refused the credentials of user {self.user!r}"
        try:
            reason = json.load(error).get("reason")
        except (ValueError, AttributeError, OSError):
            reason = None
        return f"management API answered {error.code} for {path[0]}" + (f": {reason}" if reason else "")

    def unaccounted_unacked(self, queue: str) -> int:
        """Messages the queue counts as unacknowledged beyond what the channels of its consumers
        count: messages checked out to a consumer whose channel never got them."""
        found = self.get("queues", self.vhost, queue)
        if not found:
            return 0
        on_channels = 0
        for name in {c["channel_details"]["name"] for c in found.get("consumer_details", [])}:
            channel = self.get("channels", name) or {}
            on_channels += int(channel.get("messages_unacknowledged", 0))
        return int(found.get("messages_unacknowledged", 0)) - on_channels
