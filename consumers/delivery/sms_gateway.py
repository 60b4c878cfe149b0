"""SMS through an HTTP gateway: `POST {"to", "body", "reference"}` with an `Idempotency-Key`,
over one keep-alive connection (httpx). 2xx is sent; a timeout, a refused connection, 408,
429 or 5xx is transient; any other answer is permanent, and its text is the reason."""

from __future__ import annotations

import httpx

from consumers.delivery.decisions import SENT, Attempt, failed, retry

ANSWER_CHARS = 200


class SmsGateway:
    def __init__(self, url: str, *, connect_timeout_s: float = 2.0, read_timeout_s: float = 5.0):
        self._url = url
        self._client = httpx.Client(timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s))

    def send(self, to: str, body: str, reference: str) -> Attempt:
        """`reference` is the notification id: a resend after a crash carries the same key, so the
        gateway can tell it is the same SMS."""
        try:
            response = self._client.post(self._url, json={"to": to, "body": body, "reference": reference},
                                         headers={"Idempotency-Key": reference})
        except httpx.TimeoutException as error:
            return retry(f"the SMS gateway did not answer in time ({type(error).__name__})")
        except httpx.TransportError as error:
            return retry(f"the SMS gateway is not reachable ({type(error).__name__}: {error})")
        status = response.status_code
        if 200 <= status < 300:
            return SENT
        answer = response.text.strip()[:ANSWER_CHARS]
        if status in (408, 429) or status >= 500:
            return retry(f"the SMS gateway answered {status}: {answer}")
        return failed(f"the SMS gateway refused the SMS: {status}: {answer}")

    def close(self) -> None:
        self._client.close()
