"""Small measuring tools: waiting on a condition, CPU used by the services, percentiles."""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import psutil

POLL_S = 0.05
SERVICES = {"rabbitmq": ("beam.smp",), "postgresql": ("postgres",)}


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = POLL_S) -> float:
    """Poll until `condition()`; returns the perf_counter time it first held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f}s")
        time.sleep(poll)


class ServiceCpu:
    """CPU seconds RabbitMQ and PostgreSQL spend between `start()` and `stop()` (0 if not visible)."""

    def start(self) -> "ServiceCpu":
        self._before = _cpu_by_pid()
        return self

    def stop(self) -> dict[str, float]:
        after = _cpu_by_pid()
        used = {service: 0.0 for service in SERVICES}
        for pid, (service, seconds) in after.items():
            used[service] += seconds - self._before.get(pid, (service, 0.0))[1]
        return {service: round(seconds, 2) for service, seconds in used.items()}


def _cpu_by_pid() -> dict[int, tuple[str, float]]:
    found = {}
    for process in psutil.process_iter(["name"]):
        service = next((s for s, names in SERVICES.items() if process.info["name"] in names), None)
        if service is None:
            continue
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        found[process.pid] = (service, times.user + times.system)
    return found


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
