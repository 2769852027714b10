"""Proposals open and close on time on a chain that makes blocks only for transactions.

anvil (the embedded chain) mines a block when a transaction arrives, and a contract knows the
time only from its block. A proposal whose closing time passed with nothing else happening
would read "voting" and refuse its result until some unrelated transaction came. So the worker
rings a bell: at each proposal's opening and closing time it mines one empty block
(`evm_mine`), so that the chain's time passes those moments when they do. It adds at most two
blocks a proposal, never a block a tick: the audit walks every block.

The bell goes by the chain's own clock: the time the node would stamp its next block with (the
`pending` block's timestamp; anvil's clock can be moved or set back by tests), or the wall
clock where a node does not say.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import threading
import time

from web3 import Web3
from web3.types import RPCEndpoint

from ledger.config import Settings
from ledger.errors import IndexInconsistent
from ledger.index import EventIndex
from ledger.node import NODE_AWAY

log = logging.getLogger("schedule")


class ScheduleBell:
    def __init__(self, w3: Web3, index: EventIndex, settings: Settings) -> None:
        self.w3 = w3
        self.index = index
        self.tick_s = settings.schedule_bell_s
        self._times: list[int] = []  # opening and closing times still to ring, a heap
        self._next_block = 0  # the first block whose ProposalOpened events are not read yet
        self.off = False  # the chain mines its own blocks

    def run(self, stop: threading.Event) -> None:
        # Lives as long as the worker (its other threads stop it if this one ends).
        while not stop.wait(self.tick_s):
            if not self.off:
                with contextlib.suppress(*NODE_AWAY, IndexInconsistent):
                    self.ring_if_due()

    def ring_if_due(self) -> bool:
        """Mine one block if an opening or closing time has come that no block has passed yet;
        True when a block was mined."""
        self._learn()
        if not self._times:
            return False
        head = int(self.w3.eth.get_block("latest")["timestamp"])
        while self._times and self._times[0] <= head:
            heapq.heappop(self._times)  # a block already passed it
        if not self._times:
            return False
        if self._times[0] > self._chain_now():
            return False
        return self._mine()

    def _learn(self) -> None:
        events = self.index.events(
            contract="council", event="ProposalOpened", from_block=self._next_block, limit=None
        )
        for event in events:
            params = event.args["params"]
            heapq.heappush(self._times, int(params["opensAt"]))
            heapq.heappush(self._times, int(params["closesAt"]))
            self._next_block = event.block_number + 1

    def _chain_now(self) -> float:
        answer = self.w3.provider.make_request(
            RPCEndpoint("eth_getBlockByNumber"), ["pending", False]
        )
        pending = answer.get("result") or {}
        return int(pending["timestamp"], 16) if "timestamp" in pending else time.time()

    def _mine(self) -> bool:
        answer = self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        if "error" in answer:
            log.info("the chain mines its own blocks (evm_mine: %s): no bell", answer["error"])
            self.off = True
            return False
        return True
