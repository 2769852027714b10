"""The chain's clock as the relay's checks read it: without waiting on the node."""

from __future__ import annotations

import contextlib
import threading
import time

from web3 import Web3

from ledger.config import Settings
from ledger.node import NODE_AWAY


class ChainClock:
    """The chain's notion of now (anvil's clock can be moved): read once, then again every
    `chain_clock_refresh_s` by a thread of its own while the clock is in use, and carried
    forward by the wall clock in between — also while the node is away or slow, so that checks
    answered from memory never wait on it (an acknowledgement that waited for a busy node's
    block took up to ~120 ms, bench/api_load.py). The refreshing thread stops after
    `chain_clock_idle_s` without a question, and starts again at the next."""

    def __init__(self, w3: Web3, settings: Settings) -> None:
        self.w3 = w3
        self.refresh_s = settings.chain_clock_refresh_s
        self.idle_s = settings.chain_clock_idle_s
        # (the chain's time, the monotonic time it was read at); swapped in whole.
        self._reading: tuple[float, float] | None = None
        self.head = 0  # the newest block number read
        self._asked_at = 0.0
        self._ticking = False
        self._lock = threading.Lock()

    def fresh(self) -> bool:
        """Whether `now()` answers without waiting for the chain."""
        return self._reading is not None

    def now(self) -> float:
        self._asked_at = time.monotonic()
        reading = self._reading
        if reading is None or not self._ticking:
            with self._lock:
                if self._reading is None:
                    self._read()  # the first reading is waited for (fails if the node is away)
                elif not self._ticking:
                    # Idle a while: the chain's clock may have been moved since; read it again
                    # now (the node away: carried forward as before).
                    with contextlib.suppress(*NODE_AWAY):
                        self._read()
                if not self._ticking:
                    self._ticking = True
                    threading.Thread(target=self._tick, name="chain-clock", daemon=True).start()
            reading = self._reading
            assert reading is not None
        base, base_at = reading
        return max(base + time.monotonic() - base_at, time.time())

    def confirmed(self) -> float:
        """`now()` from a reading made just now (the node away: as `now()`)."""
        with self._lock, contextlib.suppress(*NODE_AWAY):
            self._read()
        return self.now()

    def _tick(self) -> None:
        try:
            while time.monotonic() - self._asked_at < self.idle_s:
                time.sleep(self.refresh_s)
                # The node away or slow: the clock carries on meanwhile.
                with contextlib.suppress(Exception):
                    self._read()
        finally:
            self._ticking = False

    def _read(self) -> None:
        block = self.w3.eth.get_block("latest")
        self.head = int(block["number"])
        self._reading = (float(block["timestamp"]), time.monotonic())
