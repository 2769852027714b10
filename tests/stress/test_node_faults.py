"""The managed chain under the faults the stress run injects, one at a time: repeated kill -9
and restarts, a snapshot that cannot be written (full disk), a start that fails half way."""

from __future__ import annotations

import errno
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from ledger.config import Settings
from ledger.node import (
    ManagedNode,
    NodeInfo,
    SnapshotStore,
    consistent_dump,
    dumped_head,
    make_web3,
    pid_alive,
    rpc,
)
from stress.system import dev_account


@pytest.fixture
def node(node_settings: Settings) -> Iterator[ManagedNode]:
    """A managed chain, started; stopped after the test whatever it did to it."""
    managed = ManagedNode(node_settings)
    managed.start()
    try:
        yield managed
    finally:
        managed.stop()


def _links(node: ManagedNode) -> tuple[bytes, bytes]:
    assert node.anvil is not None
    w3 = node.anvil.w3
    return bytes(w3.eth.get_block(0)["hash"]), bytes(w3.eth.get_block(1)["parentHash"])


def test_block_zero_stays_the_parent_of_block_one_across_repeated_kill_9_restarts(
    node: ManagedNode,
) -> None:
    assert node.anvil is not None
    rpc(node.anvil.w3, "evm_mine")
    genesis, _ = _links(node)
    for _ in range(3):
        assert node.anvil is not None
        for _ in range(5):
            rpc(node.anvil.w3, "evm_mine")
        node.snapshot(force=True)
        node.anvil.kill()
        # anvil stamps the genesis it mints on load with the current second.
        time.sleep(1.1)
        node.start()
        block_zero, parent_of_one = _links(node)
        assert block_zero == parent_of_one == genesis


def test_snapshots_that_cannot_be_written_leave_the_chain_running_and_resume_later(
    node_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = SnapshotStore.write
    disk_full = threading.Event()
    disk_full.set()
    failures: list[int] = []

    def write(self: SnapshotStore, state: bytes, block: int) -> Path:
        if disk_full.is_set():
            failures.append(block)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, state, block)

    monkeypatch.setattr(SnapshotStore, "write", write)
    node = ManagedNode(node_settings)
    stop = threading.Event()
    serving = threading.Thread(target=node.serve, args=(stop,), daemon=True)
    serving.start()
    try:
        deadline = time.monotonic() + 20
        while node.anvil is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.anvil is not None
        w3 = node.anvil.w3
        while len(failures) < 3 and time.monotonic() < deadline:
            rpc(w3, "evm_mine")
            time.sleep(0.1)
        assert len(failures) >= 3 and serving.is_alive()
        assert w3.eth.block_number > 0  # anvil still answers
        disk_full.clear()
        head = w3.eth.block_number
        while time.monotonic() < deadline:
            if any(int(p.stem.split("-")[2]) >= head for p in node.snapshots.files()):
                break
            time.sleep(0.05)
        assert any(int(p.stem.split("-")[2]) >= head for p in node.snapshots.files())
    finally:
        stop.set()
        serving.join(20)
    assert not serving.is_alive()


def test_start_that_fails_after_launching_anvil_leaves_no_anvil_behind(
    node_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[int] = []
    real_save = NodeInfo.save

    def save(self: NodeInfo, path: Path) -> None:
        launched.append(self.anvil_pid)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(NodeInfo, "save", save)
    node = ManagedNode(node_settings)
    with pytest.raises(OSError):
        node.start()
    assert launched and not pid_alive(launched[0])
    assert node.anvil is None
    monkeypatch.setattr(NodeInfo, "save", real_save)


def _spliced(accounts_from: bytes, rest_from: bytes) -> bytes:
    """A dump with the accounts of one and the blocks of another: what anvil_dumpState returns
    when a block is mined between its two reads."""
    a0, a1 = accounts_from.find(b'"accounts"'), accounts_from.rfind(b',"best_block_number"')
    r0, r1 = rest_from.find(b'"accounts"'), rest_from.rfind(b',"best_block_number"')
    return rest_from[:r0] + accounts_from[a0:a1] + rest_from[r1:]


def _transfer(w3: Any, account: LocalAccount) -> None:
    tx = {"to": account.address, "value": 1, "gas": 21_000, "chainId": 31337,
          "nonce": w3.eth.get_transaction_count(account.address),
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 0}  # fmt: skip
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )


def test_a_dump_whose_state_and_blocks_are_from_different_moments_is_refused(
    node: ManagedNode,
) -> None:
    anvil = node.anvil
    assert anvil is not None
    sender = dev_account(4)
    _transfer(anvil.w3, sender)
    older = anvil.dump_state()
    _transfer(anvil.w3, sender)
    newer = anvil.dump_state()
    head = anvil.w3.eth.block_number
    assert consistent_dump(anvil.w3, older, dumped_head(older))
    assert consistent_dump(anvil.w3, newer, dumped_head(newer))
    state_ahead = _spliced(accounts_from=newer, rest_from=older)
    assert dumped_head(state_ahead) == head - 1
    assert not consistent_dump(anvil.w3, state_ahead, dumped_head(state_ahead))
    blocks_ahead = _spliced(accounts_from=older, rest_from=newer)
    assert not consistent_dump(anvil.w3, blocks_ahead, dumped_head(blocks_ahead))


def test_snapshots_taken_while_blocks_are_mined_hold_exactly_their_blocks_transactions(
    node_settings: Settings,
) -> None:
    node = ManagedNode(node_settings)
    anvil = node.start()
    stop = threading.Event()

    def load(index: int) -> None:
        account, w3, nonce = dev_account(index), make_web3(anvil.url), 0
        while not stop.is_set():
            tx = {"to": account.address, "value": 1, "gas": 21_000, "chainId": 31337,
                  "nonce": nonce, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 0}  # fmt: skip
            w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
            nonce += 1

    senders = [threading.Thread(target=load, args=(i,), daemon=True) for i in (5, 6, 8)]
    for thread in senders:
        thread.start()
    try:
        for _ in range(25):
            path = node.snapshot(force=True)
            assert path is not None
            state = json.loads(path.read_bytes())
            # Every transaction bumps its sender's nonce once (no contracts deploy here).
            nonces = sum(a["nonce"] for a in state["accounts"].values() if a["code"] in ("0x", ""))
            in_blocks = sum(len(b["transactions"]) for b in state["blocks"])
            assert nonces == in_blocks
    finally:
        stop.set()
        for thread in senders:
            thread.join(10)
        node.stop()
