"""Which vhosts and databases a test run may remove as left behind by a killed run."""

import os
import subprocess
import sys
import time

from tests.support.leftovers import is_stale, run_name


def test_a_run_name_carries_its_time_and_is_not_stale_for_an_hour():
    name = run_name("switchboard-test", "-")
    assert not is_stale(name)
    assert is_stale(name, now=time.time() + 3601)


def test_database_and_bare_vhost_names_are_recognised():
    old = int(time.time()) - 7200
    assert is_stale(f"switchboard_test_{old}_123_abcdef")
    assert is_stale(f"switchboard-test-bare-{old}-123-abcdef")


def test_an_old_name_without_time_is_stale_once_its_process_is_gone():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert is_stale(f"switchboard-test-{gone}-abcdef")
    assert not is_stale(f"switchboard-test-{os.getpid()}-abcdef")


def test_names_of_others_are_never_touched():
    old = int(time.time()) - 7200
    for name in ("/", "switchboard", f"switchboard-bench-{old}-1-ab", "production", f"switchboard_{old}_1_ab"):
        assert not is_stale(name)
