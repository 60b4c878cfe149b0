"""A stop request that a signal handler may set at any moment.

`threading.Event.set()` takes a lock: a second SIGTERM landing while the first handler is
inside `set()` re-enters it and deadlocks the main thread. Setting this flag is a single
assignment, and waiting on it polls, so nothing a handler does can block.
"""

from __future__ import annotations

import time

POLL_S = 0.05


class StopFlag:
    def __init__(self) -> None:
        self._set = False

    def set(self, *_signal_args) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, waking early once the flag is set; returns the flag."""
        deadline = time.monotonic() + timeout
        while not self._set:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(POLL_S, left))
        return self._set
