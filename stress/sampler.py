"""A background sampler. Every second: the chain head, the newest chain snapshot (its block and
size: what a kill -9 would rewind to) and the CPU time of each process of the stack. Every few
seconds: the relay's backlog (through the API) and the time anvil takes to mine one plain
transfer (a probe, from an account of its own), which shows anvil's slowdown as blocks
accumulate; the probe adds one tiny block each time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from ledger.node import NodeInfo, cpu_seconds, make_web3
from stress.system import Stack, dev_account

PROBE_ACCOUNT_INDEX = 7
PROBE_TIMEOUT_S = 10.0


class Sampler:
    def __init__(self, stack: Stack, *, relay_every_s: float = 5.0, probe_every_s: float = 5.0):
        self.stack = stack
        self.w3: Web3 = make_web3(stack.rpc_url)
        self.probe: LocalAccount = dev_account(PROBE_ACCOUNT_INDEX)
        self.relay_every_s = relay_every_s
        self.probe_every_s = probe_every_s
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        last_relay = last_probe = 0.0
        while not self._stop.wait(1.0):
            now = time.time()
            sample: dict[str, Any] = {
                "t": now,
                "head": self._head(),
                "cpu": self._cpu(),
                "snapshot": self._snapshot(),
            }
            if now - last_relay >= self.relay_every_s:
                last_relay = now
                relay = self.stack.relay_counts()
                if relay is not None:
                    sample["relay"] = relay
            if now - last_probe >= self.probe_every_s and sample["head"] is not None:
                last_probe = now
                sample["probe_ms"] = self._probe()
            self.samples.append(sample)

    def _cpu(self) -> dict[str, tuple[int, float]]:
        pids: dict[str, int] = {}
        info = NodeInfo.load(self.stack.info_path)
        if info is not None:
            pids["anvil"] = info.anvil_pid
        for name, proc in (("supervisor", self.stack.chain), ("api", self.stack.api)):
            if proc is not None and proc.alive():
                pids[name] = proc.pid
        for proc in self.stack.extra:
            if proc.name.startswith("loadgen") and proc.alive():
                pids["loadgen"] = proc.pid
        out = {}
        for name, pid in pids.items():
            used = cpu_seconds(pid)
            if used is not None:
                out[name] = (pid, used)
        return out

    def _snapshot(self) -> dict[str, Any] | None:
        with contextlib.suppress(OSError, IndexError, ValueError):
            newest = self.stack.snapshots()[0]
            _, seq, block = newest.stem.split("-")
            return {"seq": int(seq), "block": int(block), "mb": newest.stat().st_size / 2**20}
        return None

    def _head(self) -> int | None:
        try:
            return int(self.w3.eth.block_number)
        except Exception:
            return None

    def _probe(self) -> float | None:
        """Round trip of one transfer through anvil's automine, in ms (None if it failed)."""
        try:
            nonce = self.w3.eth.get_transaction_count(self.probe.address, "latest")
            tx: dict[str, Any] = {
                "to": self.probe.address,
                "value": 0,
                "gas": 21_000,
                "nonce": nonce,
                "chainId": 31337,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 0,
            }
            raw = self.probe.sign_transaction(tx).raw_transaction
            t = time.perf_counter()
            tx_hash = self.w3.eth.send_raw_transaction(raw)
            deadline = t + PROBE_TIMEOUT_S
            while time.perf_counter() < deadline:
                with contextlib.suppress(TransactionNotFound):
                    if self.w3.eth.get_transaction_receipt(HexBytes(tx_hash)) is not None:
                        return round((time.perf_counter() - t) * 1000, 2)
                time.sleep(0.002)
        except Exception:
            return None
        return None
