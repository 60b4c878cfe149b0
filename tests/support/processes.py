"""Consumer processes for tests: start, signal, kill, and read their JSON logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ConsumerProcess:
    def __init__(self, env: dict, log_path: Path, module: str = "tests.support.run_ledger", args: tuple = ()):
        self._env = {**env, "PYTHONPATH": str(ROOT)}
        self._log_path = log_path
        self._command = [sys.executable, "-m", module, *args]
        self.process: subprocess.Popen | None = None
        self.pids: list[int] = []

    def start(self) -> "ConsumerProcess":
        log_file = open(self._log_path, "ab")
        self.process = subprocess.Popen(self._command, env=self._env, stdout=log_file, stderr=log_file, cwd=ROOT)
        log_file.close()
        self.pids.append(self.process.pid)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill9(self) -> int:
        """SIGKILL and reap; returns the exit status (-9 proves the kill happened)."""
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=10)

    def terminate(self, timeout: float) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def events(self) -> list[dict]:
        events = []
        for line in self._log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
        return events

    def saw(self, event: str) -> bool:
        return any(item.get("event") == event for item in self.events())

    def count(self, event: str) -> int:
        return sum(item.get("event") == event for item in self.events())
