"""Fetching the provider's document into a spooled file: HTTP(S) with timeouts, a deadline and
conditional requests, or a local `file://` path.

What retrying can fix (a timeout, a refused connection, a 5xx, a body cut off) raises
TransientFetchError; anything else FetchError. An unchanged document (HTTP 304, or a file with
the same size and modification time) is NotModified and is not read at all.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import IO
from urllib.parse import unquote, urlsplit

import httpx

SPOOL_IN_MEMORY = 1 << 20  # bytes; a larger document goes to a temporary file


class FetchError(Exception):
    pass


class TransientFetchError(FetchError):
    pass


@dataclass(frozen=True)
class Validators:
    """What the last document read said about itself, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Fetched:
    body: IO[bytes]
    size: int
    validators: Validators


class NotModified:
    pass


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    deadline_s: float = 120.0


def fetch(url: str, previous: Validators, limits: FetchLimits) -> Fetched | NotModified:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return _fetch_file(unquote(urlsplit(url).path), previous)
    if scheme in ("http", "https"):
        return _fetch_http(url, previous, limits)
    raise FetchError(f"unsupported provider URL scheme {scheme!r}: use http://, https:// or file://")


def _fetch_file(path: str, previous: Validators) -> Fetched | NotModified:
    try:
        stat = os.stat(path)
        validators = Validators(etag=f"{stat.st_size}-{stat.st_mtime_ns}")
        if validators == previous:
            return NotModified()
        return Fetched(open(path, "rb"), stat.st_size, validators)  # noqa: SIM115 - the caller closes it
    except OSError as error:
        raise FetchError(f"cannot read {path}: {error.strerror}") from None


def _fetch_http(url: str, previous: Validators, limits: FetchLimits) -> Fetched | NotModified:
    headers = {"Accept": "application/xml, text/xml"}
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    timeout = httpx.Timeout(limits.read_timeout_s, connect=limits.connect_timeout_s)
    deadline = time.monotonic() + limits.deadline_s
    try:
        with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
            if response.status_code == 304:
                return NotModified()
            _check_status(response)
            body = _spool(response, deadline, limits.deadline_s)
            validators = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
            return Fetched(body, body.tell(), validators)
    except httpx.TimeoutException as error:
        raise TransientFetchError(f"timed out ({error.__class__.__name__})") from None
    except httpx.TransportError as error:  # refused, reset, body cut off (RemoteProtocolError)
        raise TransientFetchError(f"{error.__class__.__name__}: {error}") from None


def _check_status(response: httpx.Response) -> None:
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TransientFetchError(f"HTTP {response.status_code}")
    if response.status_code != 200:
        raise FetchError(f"HTTP {response.status_code}: the provider refused the request")


def _spool(response: httpx.Response, deadline: float, deadline_s: float) -> IO[bytes]:
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - returned open
    try:
        for chunk in response.iter_bytes():
            body.write(chunk)
            if time.monotonic() > deadline:
                raise TransientFetchError(f"the document took longer than the {deadline_s:g}s deadline")
    except BaseException:
        body.close()
        raise
    return body
