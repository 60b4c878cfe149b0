"""Run the fleet's processes, one each; restart a crashed one with backoff, within a budget;
stop all cleanly.

A process that exits with EX_CONFIG (refused by the broker, database schema behind) is not
restarted: a restart cannot fix it. One that needs more than MAX_RESTARTS restarts within
RESTART_WINDOW_S is not restarted either. Either way the supervisor stops every process and
exits 1, after logging why: a fleet that silently runs without one of its members is worse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field

import structlog

from consumers.runtime import exits
from consumers.runtime.stopflag import StopFlag

log = structlog.get_logger(__name__)

HEALTHY_AFTER_S = 60.0
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 30.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 300.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None


@dataclass
class Child:
    spec: ChildSpec
    metrics_port: int | None = None
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = 1.0
    restart_at: float = 0.0
    restarts: deque[float] = field(default_factory=deque)

    @property
    def name(self) -> str:
        return self.spec.name


class Supervisor:
    def __init__(self, children: list[ChildSpec], *, max_restarts: int = MAX_RESTARTS,
                 restart_window_s: float = RESTART_WINDOW_S, first_backoff_s: float = 1.0,
                 metrics_port: int | None = None):
        """`metrics_port`: the first child's, counting up in list order (0: any free port each)."""
        self._children = [Child(spec, backoff=first_backoff_s, metrics_port=_port(metrics_port, index))
                          for index, spec in enumerate(children)]
        self._max_restarts = max_restarts
        self._restart_window_s = restart_window_s
        self._first_backoff_s = first_backoff_s
        self._stop = StopFlag()
        self._failure: str | None = None

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop.set)
        signal.signal(signal.SIGINT, self._stop.set)
        if any(child.metrics_port for child in self._children):
            log.info("fleet_metrics_ports", ports={child.name: child.metrics_port for child in self._children})
        for child in self._children:
            self._spawn(child)
        while not self._stop.wait(0.5):
            for child in self._children:
                self._check(child)
        code = self._stop_all()
        if self._failure is not None:
            log.error("fleet_stopped", error=self._failure)
            return 1
        return code

    def _spawn(self, child: Child) -> None:
        env = {**os.environ, **(child.spec.env or {})}
        if child.metrics_port is not None:
            env["SWITCHBOARD_METRICS_PORT"] = str(child.metrics_port)
        child.process = subprocess.Popen(child.spec.argv, env=env)
        child.started_at = time.monotonic()
        log.info("process_started", process=child.name, pid=child.process.pid, metrics_port=child.metrics_port)

    def _check(self, child: Child) -> None:
        now = time.monotonic()
        if child.process is None:
            if now >= child.restart_at:
                self._spawn(child)
            return
        code = child.process.poll()
        if code is None:
            return
        child.process = None
        if code in exits.NOT_RESTARTABLE:
            self._give_up(child, code, "it cannot start as configured (see its log above); a restart would not help")
            return
        while child.restarts and now - child.restarts[0] > self._restart_window_s:
            child.restarts.popleft()
        if len(child.restarts) >= self._max_restarts:
            self._give_up(child, code,
                          f"it exited {self._max_restarts + 1} times within {self._restart_window_s:.0f}s")
            return
        if now - child.started_at > HEALTHY_AFTER_S:
            child.backoff = self._first_backoff_s
        child.restarts.append(now)
        child.restart_at = now + child.backoff
        log.error("process_exited", process=child.name, exit_code=code, restart_in_s=child.backoff,
                  restarts=len(child.restarts))
        child.backoff = min(MAX_BACKOFF_S, child.backoff * 2)

    def _give_up(self, child: Child, code: int, why: str) -> None:
        self._failure = f"{child.name} exited with status {code} and is not restarted: {why}"
        log.error("process_not_restarted", process=child.name, exit_code=code, error=self._failure)
        self._stop.set()

    def _stop_all(self) -> int:
        running = [c for c in self._children if c.process is not None and c.process.poll() is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        failed = 0
        for child in running:
            try:
                code = child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                code = child.process.wait()
            # -SIGTERM: stopped before it installed its handler, so it had nothing in hand.
            failed += code not in (0, -signal.SIGTERM)
            log.info("process_stopped", process=child.name, exit_code=code)
        return 1 if failed else 0


def _port(first: int | None, index: int) -> int | None:
    if first is None:
        return None
    return 0 if first == 0 else first + index
