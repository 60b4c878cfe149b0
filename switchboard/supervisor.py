"""Run several consumers, one process each; restart a crashed one with backoff; stop all cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

HEALTHY_AFTER_S = 60.0
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 30.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    restart_at: float = 0.0


class Supervisor:
    def __init__(self, names: list[str]):
        self._children = [Child(name) for name in names]
        self._stop = threading.Event()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        for child in self._children:
            self._spawn(child)
        while not self._stop.wait(0.5):
            for child in self._children:
                self._check(child)
        return self._stop_all()

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen([sys.executable, "-m", "switchboard", "run", child.name])
        child.started_at = time.monotonic()
        log.info("consumer_process_started", consumer=child.name, pid=child.process.pid)

    def _check(self, child: Child) -> None:
        now = time.monotonic()
        if child.process is None:
            if now >= child.restart_at:
                self._spawn(child)
            return
        code = child.process.poll()
        if code is None:
            return
        if now - child.started_at > HEALTHY_AFTER_S:
            child.backoff = 1.0
        child.restarts += 1
        child.restart_at = now + child.backoff
        log.error("consumer_process_exited", consumer=child.name, pid=child.process.pid,
                  exit_code=code, restart_in_s=child.backoff, restarts=child.restarts)
        child.backoff = min(MAX_BACKOFF_S, child.backoff * 2)
        child.process = None

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
            log.info("consumer_process_stopped", consumer=child.name, exit_code=code)
        return 1 if failed else 0
