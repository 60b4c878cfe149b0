"""Consumer processes under measurement: start, wait until consuming, sample memory, stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from bench.env import ROOT

SAMPLE_EVERY_S = 0.1


class BenchProcess:
    """One child process. Ready once it logs `ready_event` (a JSON line on stderr)."""

    def __init__(self, module_args: list[str], env: dict[str, str], log_path: Path,
                 ready_event: str = "consumer_started"):
        self._argv = [sys.executable, "-m", *module_args]
        self._ready_event = ready_event
        self._env = env
        self._log_path = log_path
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._popen: subprocess.Popen | None = None
        self.ready_at = 0.0
        self.peak_rss = 0
        self.cpu_seconds = 0.0  # from ready to stop: the work measured, not the imports
        self._cpu_at_ready = 0.0

    def start(self) -> "BenchProcess":
        self._popen = subprocess.Popen(self._argv, env=self._env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._read_log, daemon=True).start()
        threading.Thread(target=self._sample_memory, daemon=True).start()
        return self

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def exited(self) -> bool:
        return self._popen.poll() is not None

    def wait_ready(self, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self._popen.poll() is not None:
                raise RuntimeError(f"{' '.join(self._argv[2:])} exited {self._popen.returncode}; see {self._log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(self._argv[2:])} not consuming after {timeout:.0f}s")
        return self.ready_at

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (Switchboard drains and exits 0); peak RSS and CPU time are read just before."""
        if self._popen.poll() is None:
            self._read_final_usage()
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._stopped.set()
        return self._popen.returncode

    def _read_log(self) -> None:
        with open(self._log_path, "ab") as log:
            for line in self._popen.stderr:
                log.write(line)
                if not self._ready.is_set() and _event(line) == self._ready_event:
                    self.ready_at = time.perf_counter()
                    self._cpu_at_ready = self._cpu_time()
                    self._ready.set()

    def _sample_memory(self) -> None:
        try:
            process = psutil.Process(self._popen.pid)
            while not self._stopped.wait(SAMPLE_EVERY_S):
                self.peak_rss = max(self.peak_rss, process.memory_info().rss)
        except psutil.Error:
            pass  # exited

    def _read_final_usage(self) -> None:
        try:
            process = psutil.Process(self._popen.pid)
            self.peak_rss = max(self.peak_rss, process.memory_info().rss, _vm_hwm(self._popen.pid))
        except psutil.Error:
            pass
        self.cpu_seconds = max(0.0, self._cpu_time() - self._cpu_at_ready)

    def _cpu_time(self) -> float:
        """CPU seconds (user + system) the process has used so far."""
        try:
            times = psutil.Process(self._popen.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system


def _event(line: bytes) -> str | None:
    try:
        return json.loads(line).get("event")
    except ValueError:
        return None


def _vm_hwm(pid: int) -> int:
    """The kernel's own peak RSS of the process (Linux), in bytes; 0 when unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def consumer_process(name: str, env: dict[str, str], log_dir: Path) -> BenchProcess:
    return BenchProcess(["switchboard", "run", name], env, log_dir / f"{name}.log")


def baseline_process(case: str, env: dict[str, str], log_dir: Path) -> BenchProcess:
    return BenchProcess(["bench.baselines", case], env, log_dir / f"raw-{case}.log")
