"""One counted message per signer per box (a proposal's voters, an initiative's co-signers, a
proposal's raters), as the relay sees it before acknowledging: who has one on-chain, read once
from the box's "counted" events, grown by every message the relay acknowledges since."""

from __future__ import annotations

import threading
from collections.abc import Callable

from web3 import Web3

from ledger.errors import InvalidMessage
from ledger.relay.ballot_events import voted_on_chain


class OnceEach:
    """Signers (lowercase hex) per box -> the receipt that holds their place ("on-chain" when
    the chain counted one). Who counted only grows, so nothing here goes stale; a message the
    contract skips anyway (it raced another path) is skipped there, with its reason."""

    def __init__(self, w3: Web3, address: str, counted_topic: bytes) -> None:
        self.w3 = w3
        self.address = address
        self.topic = counted_topic
        self._held: dict[int, dict[str, str]] = {}
        self._lock = threading.Lock()

    def loaded(self, box: int) -> bool:
        return box in self._held

    def load(self, box: int) -> None:
        """Read who counted in `box` now, so that its first check answers from memory."""
        with self._lock:
            self._signers(box)

    def claim(
        self, box: int, signer: str, receipt_id: str, refusal: Callable[[], InvalidMessage]
    ) -> None:
        """Hold `signer`'s place in `box` for `receipt_id`; raise `refusal()` when another
        message (or the chain) holds it. The same message again keeps its place. (The refusal
        is made only when needed: this runs for every ballot.)"""
        with self._lock:
            held = self._signers(box)
            previous = held.get(signer.lower())
            if previous is not None and previous != receipt_id:
                raise refusal()
            held[signer.lower()] = receipt_id

    def holds(self, box: int, signer: str) -> bool:
        """Whether `signer` has a place in `box`, on the chain or by an acknowledged message."""
        with self._lock:
            return signer.lower() in self._signers(box)

    def release(self, box: int, signer: str, receipt_id: str) -> None:
        """The outbox did not store `receipt_id`: its signer's place is free again."""
        with self._lock:
            held = self._held.get(box, {})
            if held.get(signer.lower()) == receipt_id:
                del held[signer.lower()]

    def _signers(self, box: int) -> dict[str, str]:
        held = self._held.get(box)
        if held is None:
            held = voted_on_chain(self.w3, self.address, self.topic, box)
            self._held[box] = held
        return held
