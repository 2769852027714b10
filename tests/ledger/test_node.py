"""The embedded chain keeps everything it snapshotted across kill -9, survives a torn
snapshot, and an attached node on the wrong chain is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.build import Artifact
from ledger.config import Settings
from ledger.errors import NodeError, WrongChain
from ledger.node import ManagedNode, SnapshotStore, connect, ephemeral_node
from ledger.tx import send


def _activity(w3: Web3, account: LocalAccount, counter: Artifact, bumps: int) -> dict[str, Any]:
    """Deploy a counter, bump it, and return what must survive a restart."""
    factory = w3.eth.contract(abi=counter.abi, bytecode=counter.bytecode)
    address = send(w3, account, factory.constructor())["contractAddress"]
    contract = w3.eth.contract(address=address, abi=counter.abi)
    receipts = [send(w3, account, contract.functions.bump(i + 1)) for i in range(bumps)]
    head = w3.eth.block_number
    return {
        "address": address,
        "head": head,
        "hashes": [w3.eth.get_block(n)["hash"] for n in range(head + 1)],
        "receipts": {r["transactionHash"]: (r["blockNumber"], r["status"]) for r in receipts},
        "count": contract.functions.count().call(),
        "abi": counter.abi,
    }


def _assert_same_chain(w3: Web3, before: dict[str, Any]) -> None:
    assert w3.eth.block_number == before["head"]
    assert [w3.eth.get_block(n)["hash"] for n in range(before["head"] + 1)] == before["hashes"]
    for tx_hash, (block, status) in before["receipts"].items():
        receipt = w3.eth.get_transaction_receipt(tx_hash)
        assert (receipt["blockNumber"], receipt["status"]) == (block, status)
    counter = w3.eth.contract(address=before["address"], abi=before["abi"])
    assert counter.functions.count().call() == before["count"]


def test_restart_after_kill_9_keeps_every_snapshotted_block_receipt_and_storage_value(
    node_settings: Settings, accounts: list[LocalAccount], counter_artifact: Artifact
) -> None:
    node = ManagedNode(node_settings)
    anvil = node.start()
    before = _activity(anvil.w3, accounts[0], counter_artifact, bumps=5)
    assert node.snapshot() is not None
    anvil.kill()  # SIGKILL: no chance to dump anything on the way out

    again = ManagedNode(node_settings)
    try:
        _assert_same_chain(again.start().w3, before)
    finally:
        again.stop()


def test_torn_newest_snapshot_falls_back_to_the_previous_good_one(
    node_settings: Settings, accounts: list[LocalAccount], counter_artifact: Artifact
) -> None:
    node = ManagedNode(node_settings)
    anvil = node.start()
    good = _activity(anvil.w3, accounts[0], counter_artifact, bumps=2)
    node.snapshot()
    _activity(anvil.w3, accounts[0], counter_artifact, bumps=2)
    newest = node.snapshot()
    anvil.kill()
    assert newest is not None
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a torn write

    again = ManagedNode(node_settings)
    try:
        w3 = again.start().w3
        assert again.skipped == [newest]
        assert newest.with_suffix(".torn").exists() and not newest.exists()
        _assert_same_chain(w3, good)
    finally:
        again.stop()


def test_start_refuses_when_every_snapshot_is_damaged(node_settings: Settings) -> None:
    store = SnapshotStore(node_settings.data_dir / "chain" / "snapshots")
    store.directory.mkdir(parents=True)
    (store.directory / "state-0000000001-000000000003.json").write_text('{"block": ')
    with pytest.raises(NodeError, match="no readable chain snapshot"):
        ManagedNode(node_settings).start()


def test_snapshot_store_keeps_only_the_newest_few(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, keep=3)
    state = b'{"block": {}, "accounts": {}, "blocks": []}'
    written = [store.write(state, block) for block in range(5)]
    assert store.files() == written[:1:-1]
    assert store.newest_valid() == (written[-1], [])


def test_clean_stop_snapshots_blocks_made_since_the_last_snapshot(
    node_settings: Settings, accounts: list[LocalAccount], counter_artifact: Artifact
) -> None:
    node = ManagedNode(node_settings)
    before = _activity(node.start().w3, accounts[0], counter_artifact, bumps=3)
    node.stop()  # SIGTERM path: takes a final snapshot
    again = ManagedNode(node_settings)
    try:
        _assert_same_chain(again.start().w3, before)
    finally:
        again.stop()


def test_attach_refuses_a_node_on_another_chain(settings: Settings) -> None:
    with ephemeral_node(settings) as other:
        wrong = Settings(rpc_url=other.url, chain_id=1)
        with pytest.raises(WrongChain) as exc_info:
            connect(wrong)
        assert (exc_info.value.expected, exc_info.value.found) == (1, 31337)
        right = Settings(rpc_url=other.url, chain_id=31337)
        assert connect(right).eth.chain_id == 31337


def test_connect_names_an_unreachable_node(settings: Settings) -> None:
    with pytest.raises(NodeError, match="cannot reach node"):
        connect(Settings(rpc_url="http://127.0.0.1:9", chain_id=31337))


def test_embedded_chain_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Settings(host="0.0.0.0")
