"""When to restart a process that died, and how to say what happened to it.

A process that dies is restarted at once the first time and after a growing pause when it keeps
dying; one that died more than `max_restarts` times within `window_s` is given up on, so a fault
that restarting cannot mend (a port taken, no readable snapshot) ends in one clear error rather
than a loop. Used by the managed chain (ledger/node.py) and `commons run` (ledger/supervise.py).
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable

from ledger.config import Settings


class RestartPolicy:
    """Counts deaths within a sliding window and says how long to wait before the next try."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_restarts = settings.restart_max
        self.window_s = settings.restart_window_s
        self.first_delay_s = settings.restart_first_delay_s
        self.max_delay_s = settings.restart_max_delay_s
        self._clock = clock
        self._deaths: deque[float] = deque()

    def died(self) -> float | None:
        """Record a death (or a failed start); the pause before the next try, or None to give
        up. The first death in a window is restarted at once; then 0.5 s, 1 s, 2 s, ... 8 s (by
        default)."""
        now = self._clock()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > self.window_s:
            self._deaths.popleft()
        recent = len(self._deaths)
        if recent > self.max_restarts:
            return None
        if recent == 1:
            return 0.0
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (recent - 2)))

    def giving_up(self, what: str, last: str) -> str:
        return (
            f"{what} died {self.max_restarts + 1} times within {self.window_s:.0f}s "
            f"(last: {last}); giving up"
        )


def describe_exit(returncode: int | None) -> str:
    """`subprocess`'s return code in words: 'exited with status 1', 'was killed by SIGKILL
    (signal 9)'."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by {name} (signal {-returncode})"
    return f"exited with status {returncode}"
