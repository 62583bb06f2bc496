"""Time as the LocalExecutor sees it: real by default, virtual in tests so they need not sleep."""

from __future__ import annotations

import threading
import time


class Clock:
    """Real time: monotonic seconds, and waits that really pass."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, wakeup: threading.Event, timeout: float | None, *, idle: bool) -> None:
        """Wait until ``wakeup`` is set or ``timeout`` seconds pass; ``idle`` says no job is running."""
        wakeup.wait(timeout)


class VirtualClock(Clock):
    """Virtual time for tests: while no job runs, a wait jumps straight to its deadline.

    While jobs run, virtual time stands still and a wait lasts until one of them finishes.
    """

    def __init__(self, start: float = 0.0):
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward."""
        with self._lock:
            self._now += seconds

    def wait(self, wakeup: threading.Event, timeout: float | None, *, idle: bool) -> None:
        if idle and timeout is not None:
            if not wakeup.is_set():
                self.advance(timeout)
            return
        wakeup.wait()
