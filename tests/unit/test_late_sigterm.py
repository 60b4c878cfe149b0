"""A switchboard process that has finished its work exits with its own status even when a
SIGTERM reaches it during the interpreter's shutdown (the supervisor's, after the terminal's
Ctrl-C already stopped it)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

# The atexit hook runs during the interpreter's shutdown: that is where the signal lands.
SIGTERM_AT_SHUTDOWN = """
import atexit, os, signal, sys
atexit.register(lambda: (print("signalling", flush=True), os.kill(os.getpid(), signal.SIGTERM)))
sys.argv = ["switchboard", "--help"]
from switchboard.cli import main
main()
"""


@pytest.mark.timeout(60)
def test_a_sigterm_during_shutdown_does_not_change_the_exit_status():
    done = subprocess.run([sys.executable, "-c", SIGTERM_AT_SHUTDOWN], cwd=ROOT, capture_output=True, text=True,
                          timeout=50)
    assert "signalling" in done.stdout, "the SIGTERM was never sent"
    assert done.returncode == 0, f"exit status {done.returncode} (-{signal.SIGTERM} is death by SIGTERM)"
