"""`python -m bench --profile`: where a consumer's time goes.

py-spy samples the consumer process (wall clock, idle included, every thread) while it drains
a pre-filled queue. The raw samples go to bench/results/profiles/; the summary splits the
worker thread's time into the steps of a batch and the I/O thread's into its jobs.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.consumers import CASES, prefill
from bench.env import BenchEnv
from bench.measure import wait_until
from bench.processes import consumer_process

# First matching frame name wins (checked from the innermost frame outwards).
WORKER_STEPS = (
    ("wait for emit confirms", ("ConfirmBatch.wait",)),
    ("database pool pre-ping", ("_do_ping_w_event",)),
    ("database round trips (execute, commit)", ("do_execute", "do_commit")),
    ("decode + validate deliveries", ("ConsumerWorker._decode",)),
    ("handler Python (rules, rows, emits)", ("BatchProcessor.run",)),
    ("wait for deliveries", ("ConsumerWorker._collect",)),
)
IO_JOBS = (
    ("publish (emits, dead letters)", ("ConfirmTracker.publish",)),
    ("read frames: deliveries, confirms", ("Connection._on_data_available",)),
    ("write to socket", ("_AsyncPlaintextTransport._on_socket_writable",)),
    ("idle (poll)", ("PollPoller.poll",)),
)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy (in the bench extra: pip install -e '.[bench]')")
    return found


def profile_case(env: BenchEnv, name: str, n: int, out_dir: Path) -> str:
    case = CASES[name]
    prefill(env, case, n)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"profile-{name}.txt"
    worker = consumer_process(name, env.process_env(), out_dir).start()
    try:
        worker.wait_ready()
        spy = subprocess.Popen([py_spy(), "record", "--pid", str(worker.pid), "--rate", "250", "--format", "raw",
                                "--threads", "--idle", "-o", str(raw)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        expected = case.expected_effects(n)
        wait_until(lambda: env.count(case.effects_query) >= expected, timeout=max(120.0, n / 100), what=name)
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    finally:
        worker.stop()
    return summarize(name, raw)


def summarize(name: str, raw: Path) -> str:
    worker, io = Counter(), Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        thread, *frames = stack.split(";")
        names = [frame.split(" (")[0] for frame in frames]
        if "MainThread" in thread:
            worker[_classify(names, WORKER_STEPS)] += int(count)
        elif "amqp-" in thread:
            io[_classify(names, IO_JOBS)] += int(count)
    return "\n".join([f"{name}: worker thread (wall clock)", *_shares(worker),
                      f"{name}: AMQP I/O thread (wall clock)", *_shares(io)])


def _classify(names: list[str], categories) -> str:
    for frame in reversed(names):
        for label, markers in categories:
            if any(marker in frame for marker in markers):
                return label
    return "other"


def _shares(counter: Counter) -> list[str]:
    total = sum(counter.values()) or 1
    return [f"  {count / total:6.1%}  {label}" for label, count in counter.most_common()]
