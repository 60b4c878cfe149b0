"""Polling with a deadline: the only way tests wait for something to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Call `predicate` until it returns something truthy, and return that.

    Raises AssertionError with `message` (a callable is evaluated then, so it can describe
    the state at the deadline) once `timeout` seconds have passed. Exceptions raised by the
    predicate propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (waited {timeout:g}s)")
        time.sleep(interval)


def http_status(url: str) -> int | None:
    """The status of a GET, or None while nothing answers: a condition to wait on."""
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None
