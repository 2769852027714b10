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

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 8.0


class RestartPolicy:
    """Counts deaths within a sliding window and says how long to wait before the next try."""

    def __init__(
        self,
        max_restarts: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_restarts = max_restarts
        self.window_s = window_s
        self._clock = clock
        self._deaths: deque[float] = deque()

    def died(self) -> float | None:
        """Record a death (or a failed start); the pause before the next try, or None to give
        up. The first death in a window is restarted at once; then 0.5 s, 1 s, 2 s, ... 8 s."""
        now = self._clock()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > self.window_s:
            self._deaths.popleft()
        recent = len(self._deaths)
        if recent > self.max_restarts:
            return None
        if recent == 1:
            return 0.0
        return float(min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (recent - 2)))

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
