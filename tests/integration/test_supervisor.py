"""`switchboard run` with several consumers: one process each, a dead one restarted, Ctrl-C stops all."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil
import pytest

from tests.support.processes import ROOT
from tests.support.waiting import wait_until


@pytest.mark.timeout(90)
def test_supervisor_restarts_a_killed_consumer_and_stops_all_on_sigint(service_env, engine):
    subprocess.run([sys.executable, "-m", "switchboard", "topology"], env=service_env, check=True,
                   capture_output=True, timeout=60)
    supervisor = subprocess.Popen([sys.executable, "-m", "switchboard", "run", "call-pairing", "billing"],
                                  env=service_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parent = psutil.Process(supervisor.pid)
        wait_until(lambda: len(parent.children()) == 2, timeout=30, message="two consumer processes expected")
        victim = parent.children()[0]
        victim_pid = victim.pid
        victim.kill()
        victim.wait(timeout=10)  # not our child: psutil gives no exit code, but it returns once it died
        assert not victim.is_running()

        wait_until(lambda: len(parent.children()) == 2 and victim_pid not in {c.pid for c in parent.children()},
                   timeout=30, message="the killed consumer was not restarted")
        children = parent.children()
        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=40) == 0
        assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
