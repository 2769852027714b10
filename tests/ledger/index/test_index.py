"""The event index follows the chain into SQLite: every event decoded exactly, pages and
filters that agree with counts, resume after restart, reorgs and rewinds undone and re-indexed,
a crash mid-sync leaving a range boundary, and rebuilds byte-identical to incremental syncs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.build import Artifact, compile_sources
from ledger.config import Settings
from ledger.deploy import PLAN, Deployment
from ledger.errors import IndexInconsistent, NodeError
from ledger.index import EventIndex
from ledger.index.codec import EventDecoder, IndexedEvent
from ledger.node import ephemeral_node, rpc

FIXTURES = Path(__file__).parent.parent / "fixtures"
UINT256_MAX = 2**256 - 1
INT256_MIN = -(2**255)
CNY = b"CNY"


@pytest.fixture(scope="module")
def emitter_artifact(settings: Settings) -> Artifact:
    return compile_sources([FIXTURES / "Emitter.sol"], settings)["Emitter"]


@contextlib.contextmanager
def chain_with_history(settings: Settings) -> Iterator[Web3]:
    """A private anvil: anvil_reorg needs the recent states it keeps in memory."""
    with ephemeral_node(settings) as node:
        yield node.w3


def deploy(w3: Web3, artifact: Artifact, sender: str) -> tuple[Contract, int]:
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": sender}))
    address = receipt["contractAddress"]
    assert address is not None
    return w3.eth.contract(address=address, abi=artifact.abi), receipt["blockNumber"]


def send(w3: Web3, call: ContractFunction, sender: str) -> TxReceipt:
    return w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))


def mine(w3: Web3, blocks: int) -> None:
    rpc(w3, "anvil_mine", [hex(blocks)])


def open_index(
    path: Path, w3: Web3, emitter: Contract, start: int, settings: Settings | None = None
) -> EventIndex:
    contracts = {"emitter": (emitter.address, list(emitter.abi))}
    return EventIndex(path, w3, contracts, start, settings or Settings())


def fresh_fingerprint(path: Path, w3: Web3, emitter: Contract, start: int) -> str:
    with open_index(path, w3, emitter, start) as index:
        index.sync()
        return index.fingerprint()


def deposits(index: EventIndex, **filters: Any) -> list[tuple[int, int]]:
    """(communityId, amount) of the Deposited events, in chain order."""
    return [
        (e.args["communityId"], e.args["amount"])
        for e in index.events("emitter", "Deposited", limit=None, **filters)
    ]


def assert_contiguous(index: EventIndex, start: int) -> None:
    """Blocks start..head all stored, each linked to its parent; no event above the head."""
    head = index.head()
    assert head is not None
    rows = index._conn.execute("SELECT number, hash, parent_hash FROM blocks ORDER BY number")
    blocks = rows.fetchall()
    assert [b[0] for b in blocks] == list(range(start, head + 1))
    for (_, parent, _), (_, _, link) in pairwise(blocks):
        assert link == parent
    assert index.count(from_block=head + 1) == 0


# -- decoding and reads -----------------------------------------------------------------------


def test_sync_decodes_every_event_across_many_blocks_and_names_unknown_logs(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    alice, bob = accounts[1].address, accounts[2].address
    emitter, start = deploy(w3, emitter_artifact, alice)
    mine(w3, 25)  # empty blocks between events
    doc = keccak(text="invoice-1")
    r_deposit = send(w3, emitter.functions.deposit(7, 12_345, CNY, doc), alice)
    r_many = send(w3, emitter.functions.depositMany(8, 40, 1_000), bob)  # 40 logs in one block
    mine(w3, 10)
    r_note = send(w3, emitter.functions.note("roof", "fix the roof", b"\x00\x01\xff"), alice)
    send(w3, emitter.functions.signed(-5, True, 255), alice)
    send(w3, emitter.functions.batched((3, bob, doc), [1, 2, UINT256_MAX]), alice)
    r_hidden = send(w3, emitter.functions.hidden(99), alice)
    r_raw = send(w3, emitter.functions.raw(b"\x42" * 32, b"raw-data"), alice)
    # Three transactions in one block.
    rpc(w3, "evm_setAutomine", [False])
    try:
        hashes = [
            emitter.functions.deposit(9, i, CNY, doc).transact({"from": bob}) for i in (1, 2, 3)
        ]
        rpc(w3, "evm_mine")
    finally:
        rpc(w3, "evm_setAutomine", [True])
    shared = [w3.eth.get_transaction_receipt(h) for h in hashes]
    mine(w3, 5)
    head = w3.eth.block_number

    with open_index(tmp_path / "index.db", w3, emitter, start) as index:
        result = index.sync(batch=7)

        assert result.head == head == index.head()
        assert result.blocks == head - start + 1
        assert result.ranges == -(-(head - start + 1) // 7)
        assert result.events == 1 + 40 + 1 + 1 + 1 + 1 + 1 + 3 == index.count()
        assert result.rolled_back == 0
        assert_contiguous(index, start)

        first = index.events("emitter", "Deposited", limit=1)[0]
        assert first.args == {
            "communityId": 7,
            "from": alice,
            "amount": 12_345,
            "currency": CNY,
            "docHash": doc,
        }
        assert first.json_args == {
            "communityId": "7",
            "from": alice,
            "amount": "12345",
            "currency": "0x" + CNY.hex(),
            "docHash": "0x" + doc.hex(),
        }
        assert first.block_number == r_deposit["blockNumber"]
        assert first.tx_hash == "0x" + bytes(r_deposit["transactionHash"]).hex()
        assert first.block_hash == "0x" + bytes(r_deposit["blockHash"]).hex()
        assert first.address == emitter.address
        assert first.signature == "Deposited(uint256,address,uint256,bytes3,bytes32)"
        assert first.timestamp == w3.eth.get_block(first.block_number)["timestamp"]

        many = index.events("emitter", "Deposited", where={"communityId": 8}, limit=None)
        assert [e.args["amount"] for e in many] == [1_000 + i for i in range(40)]
        assert {e.block_number for e in many} == {r_many["blockNumber"]}
        assert [e.log_index for e in many] == list(range(40))
        assert [e.args["docHash"] for e in many] == [i.to_bytes(32, "big") for i in range(40)]

        (noted,) = index.events(event="Noted")
        # An indexed string is only its hash in the topic.
        assert noted.args == {
            "author": alice,
            "topic": keccak(text="roof"),
            "text": "fix the roof",
            "data": b"\x00\x01\xff",
        }
        assert noted.tx_hash == "0x" + bytes(r_note["transactionHash"]).hex()
        (signed,) = index.events(event="Signed")
        assert signed.args == {"delta": -5, "flag": True, "small": 255}
        (batched,) = index.events(event="Batched")
        assert batched.args == {
            "entry": {"id": 3, "who": bob, "ref": doc},
            "values": [1, 2, UINT256_MAX],
        }
        assert batched.json_args["values"] == ["1", "2", str(UINT256_MAX)]

        unknown = index.events(event="Unknown")
        assert [e.tx_hash for e in unknown] == [
            "0x" + bytes(r["transactionHash"]).hex() for r in (r_hidden, r_raw)
        ]
        hidden, raw = unknown
        assert hidden.args == {"topics": [], "data": (99).to_bytes(32, "big")}
        assert raw.args == {"topics": [b"\x42" * 32], "data": b"raw-data"}
        assert raw.signature == "0x" + "42" * 32

        in_one_block = index.events(where={"communityId": 9}, event="Deposited")
        assert {e.block_number for e in in_one_block} == {shared[0]["blockNumber"]}
        assert [e.tx_index for e in in_one_block] == [r["transactionIndex"] for r in shared]
        assert [e.tx_index for e in in_one_block] == [0, 1, 2]

        # Nothing new: a second sync is a no-op.
        again = index.sync()
        assert (again.blocks, again.events, again.rolled_back) == (0, 0, 0)


def test_uint256_max_and_int256_min_round_trip_exactly_and_sum_exactly(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    emitter, start = deploy(w3, emitter_artifact, sender)
    amounts = [UINT256_MAX, 2**255, 2**53 + 1, 1]
    for amount in amounts:
        send(w3, emitter.functions.deposit(1, amount, CNY, b"\x00" * 32), sender)
    send(w3, emitter.functions.signed(INT256_MIN, False, 0), sender)
    send(w3, emitter.functions.signed(2**255 - 1, False, 0), sender)

    with open_index(tmp_path / "index.db", w3, emitter, start) as index:
        index.sync()
        assert [a for _, a in deposits(index)] == amounts
        assert index.sum_arg("emitter", "Deposited", "amount") == sum(amounts)
        assert index.sum_arg("emitter", "Signed", "delta") == -1
        assert [e.args["delta"] for e in index.events(event="Signed")] == [
            INT256_MIN,
            2**255 - 1,
        ]
        # Filters on huge values match exactly, not approximately.
        assert index.count(event="Deposited", where={"amount": UINT256_MAX}) == 1
        assert index.count(event="Deposited", where={"amount": UINT256_MAX - 1}) == 0
        assert index.count(event="Signed", where={"delta": INT256_MIN}) == 1
        with pytest.raises(ValueError, match="not an integer"):
            index.sum_arg("emitter", "Deposited", "currency")


def test_pages_filters_and_counts_agree(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    alice, bob = accounts[1].address, accounts[2].address
    emitter, start = deploy(w3, emitter_artifact, alice)
    receipts = []
    for round_ in range(6):
        receipts.append(send(w3, emitter.functions.depositMany(1, 5, 100 * round_), alice))
        receipts.append(send(w3, emitter.functions.depositMany(2, 3, 100 * round_), bob))
        mine(w3, 2)

    with open_index(tmp_path / "index.db", w3, emitter, start) as index:
        index.sync(batch=4)
        community_1 = {"communityId": 1}
        total = index.count("emitter", "Deposited", where=community_1)
        assert total == 30
        pages: list[IndexedEvent] = []
        for offset in range(0, total, 7):
            page = index.events("emitter", "Deposited", where=community_1, limit=7, offset=offset)
            assert len(page) == min(7, total - offset)
            pages += page
        everything = index.events("emitter", "Deposited", where=community_1, limit=None)
        assert pages == everything
        assert all(e.args["from"] == alice for e in everything)
        assert [(e.block_number, e.log_index) for e in everything] == sorted(
            (e.block_number, e.log_index) for e in everything
        )
        assert (
            index.events("emitter", "Deposited", where=community_1, limit=None, order="desc")
            == (everything[::-1])
        )
        assert index.events("emitter", "Deposited", where=community_1, offset=total) == []

        # Addresses match however they are written; args combine with AND.
        assert index.count(event="Deposited", where={"from": bob.lower()}) == 18
        assert index.count(event="Deposited", where={"from": bob, "communityId": 1}) == 0
        assert index.count(event="Deposited", where={"from": bob, "communityId": 2}) == 18
        assert index.count(where={"communityId": 2}) == 18  # any event with that arg

        # Block range and transaction filters.
        third = receipts[2]
        assert deposits(index, from_block=third["blockNumber"], to_block=third["blockNumber"]) == [
            (1, 100 + i) for i in range(5)
        ]
        tx = "0x" + bytes(third["transactionHash"]).hex().upper()
        assert index.count(tx_hash=tx) == 5
        assert index.count(from_block=receipts[-1]["blockNumber"] + 1) == 0

        assert index.sum_arg("emitter", "Deposited", "amount", where={"communityId": 2}) == sum(
            100 * r + i for r in range(6) for i in range(3)
        )
        assert index.sum_arg("emitter", "Deposited", "amount", where={"communityId": 3}) == 0
        assert index.count("nobody") == 0

        with pytest.raises(ValueError, match="no indexed event"):
            index.count(event="Deposited", where={"nosuch": 1})
        with pytest.raises(ValueError, match="fits none"):
            index.count(event="Deposited", where={"communityId": "one"})
        with pytest.raises(ValueError, match="bad argument name"):
            index.count(event="Deposited", where={"a') OR 1=1 --": 1})
        with pytest.raises(ValueError, match="order"):
            index.events(order="sideways")  # type: ignore[arg-type]


def test_for_deployment_indexes_every_contract_under_its_key_in_chain_order(
    w3: Web3,
    accounts: list[LocalAccount],
    emitter_artifact: Artifact,
    tmp_path: Path,
    settings: Settings,
) -> None:
    sender = accounts[1].address
    contracts: dict[str, Contract] = {}
    blocks = []
    for key, _, _ in PLAN:
        contracts[key], block = deploy(w3, emitter_artifact, sender)
        blocks.append(block)
    deployment = Deployment(chain_id=w3.eth.chain_id, record={"block": min(blocks)}, **contracts)
    for n, key in enumerate(reversed(list(contracts))):
        send(w3, contracts[key].functions.deposit(n, n, CNY, b"\x00" * 32), sender)

    with EventIndex.for_deployment(tmp_path / "index.db", w3, deployment, settings) as index:
        assert index.sync().events == len(PLAN)
        assert [(e.contract, e.args["communityId"]) for e in index.events()] == [
            (key, n) for n, key in enumerate(reversed(list(contracts)))
        ]
        assert [e.address for e in index.events()] == [
            contracts[key].address for key in reversed(list(contracts))
        ]
        assert index.count("fund", "Deposited") == 1


# -- restart, rebuild, crash --------------------------------------------------------------------


def test_reopened_index_resumes_from_its_head_without_duplicates(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    emitter, start = deploy(w3, emitter_artifact, sender)
    send(w3, emitter.functions.depositMany(1, 10, 0), sender)
    mine(w3, 3)
    path = tmp_path / "index.db"
    with open_index(path, w3, emitter, start) as index:
        index.sync()
        first_head = index.head()

    send(w3, emitter.functions.depositMany(1, 4, 10), sender)
    mine(w3, 2)
    with open_index(path, w3, emitter, start) as index:
        assert index.head() == first_head
        assert index.count() == 10
        result = index.sync()
        assert first_head is not None
        assert result.blocks == w3.eth.block_number - first_head
        assert result.events == 4
        assert [a for _, a in deposits(index)] == list(range(14))
        assert_contiguous(index, start)
        incremental = index.fingerprint()
    assert fresh_fingerprint(tmp_path / "fresh.db", w3, emitter, start) == incremental


def test_rebuild_and_incremental_syncs_in_any_batch_size_have_one_fingerprint(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    emitter, start = deploy(w3, emitter_artifact, sender)
    for i in range(8):
        send(w3, emitter.functions.depositMany(i % 3, i + 1, i), sender)
        send(w3, emitter.functions.note("t", f"note {i}", bytes([i])), sender)
        mine(w3, i)
    head = w3.eth.block_number

    with open_index(tmp_path / "steps.db", w3, emitter, start) as stepwise:
        for target in range(start, head + 1, 5):
            stepwise.sync(to_block=target, batch=3)
            assert stepwise.head() == target
        stepwise.sync(batch=2)
        incremental = stepwise.fingerprint()
        rebuilt = stepwise.rebuild()
        assert rebuilt.head == head and rebuilt.events == stepwise.count() == 8 * 9 // 2 + 8
        assert stepwise.fingerprint() == incremental
        assert stepwise.rebuild(batch=1).head == head
        assert stepwise.fingerprint() == incremental
    assert fresh_fingerprint(tmp_path / "fresh.db", w3, emitter, start) == incremental


def test_crash_in_the_second_range_leaves_the_first_range_and_a_later_sync_completes(
    w3: Web3,
    accounts: list[LocalAccount],
    emitter_artifact: Artifact,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sender = accounts[1].address
    emitter, start = deploy(w3, emitter_artifact, sender)
    for _ in range(12):
        send(w3, emitter.functions.depositMany(1, 3, 0), sender)
    batch = 5
    first_range_end = start + batch - 1

    real_decode = EventDecoder.decode
    first_range_logs = 3 * (batch - 1)  # the deploy block has no events
    calls = 0

    def crashing_decode(self: EventDecoder, topics: Any, data: Any) -> Any:
        nonlocal calls
        calls += 1
        # Mid-way through the second range: its blocks and first logs are already written
        # inside its transaction.
        if calls == first_range_logs + 5:
            raise RuntimeError("simulated crash")
        return real_decode(self, topics, data)

    path = tmp_path / "index.db"
    with open_index(path, w3, emitter, start) as index:
        monkeypatch.setattr(EventDecoder, "decode", crashing_decode)
        with pytest.raises(RuntimeError, match="simulated crash"):
            index.sync(batch=batch)
        assert index.head() == first_range_end
        assert_contiguous(index, start)
        assert index.count() == first_range_logs
        monkeypatch.setattr(EventDecoder, "decode", real_decode)

    with open_index(path, w3, emitter, start) as index:
        result = index.sync(batch=batch)
        assert result.head == w3.eth.block_number
        assert index.count() == 36
        assert_contiguous(index, start)
        resumed = index.fingerprint()
    assert fresh_fingerprint(tmp_path / "fresh.db", w3, emitter, start) == resumed


def test_reopening_for_other_contracts_starts_the_index_afresh(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    first, start = deploy(w3, emitter_artifact, sender)
    send(w3, first.functions.depositMany(1, 2, 0), sender)
    second, second_start = deploy(w3, emitter_artifact, sender)
    send(w3, second.functions.depositMany(2, 3, 0), sender)
    path = tmp_path / "index.db"
    with open_index(path, w3, first, start) as index:
        index.sync()
        assert deposits(index) == [(1, 0), (1, 1)]
    with open_index(path, w3, second, second_start) as index:
        assert index.head() is None
        index.sync()
        assert deposits(index) == [(2, 0), (2, 1), (2, 2)]


# -- reorgs and rewinds -----------------------------------------------------------------------


def test_anvil_reorg_rolls_back_the_replaced_blocks_and_indexes_the_new_ones(
    settings: Settings, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    with chain_with_history(settings) as w3:
        emitter, start = deploy(w3, emitter_artifact, sender)
        for i in range(6):
            send(w3, emitter.functions.deposit(1, i, CNY, b"\x00" * 32), sender)
        head = w3.eth.block_number
        with open_index(tmp_path / "index.db", w3, emitter, start) as index:
            assert index.sync().head == head
            old_hashes = {e.block_number: e.block_hash for e in index.events(limit=None)}

            # Replace the last 3 blocks (amounts 3, 4, 5) with two deposits in the first
            # replaced block and none in the others.
            replacement = {
                "from": sender,
                "to": emitter.address,
                "data": emitter.encode_abi("deposit", args=[2, 77, CNY, b"\x01" * 32]),
                "gas": hex(100_000),
            }
            rpc(w3, "anvil_reorg", [3, [[replacement, 0], [replacement, 0]]])
            assert w3.eth.block_number == head

            result = index.sync()
            assert result.rolled_back == 3
            assert result.blocks == 3
            assert deposits(index) == [(1, 0), (1, 1), (1, 2), (2, 77), (2, 77)]
            reorged = index.events(limit=None)
            assert {e.block_number for e in reorged[-2:]} == {head - 2}
            assert reorged[-1].block_hash != old_hashes[head - 2]
            assert reorged[0].block_hash == old_hashes[reorged[0].block_number]
            assert_contiguous(index, start)

            # A second, deeper reorg after the chain moved on.
            mine(w3, 4)
            index.sync()
            # Replaced by different content: regenerated empty blocks could hash the same.
            rpc(w3, "anvil_reorg", [6, [[replacement, 0]]])
            assert index.sync().rolled_back == 6
            assert_contiguous(index, start)
            assert index.fingerprint() == fresh_fingerprint(
                tmp_path / "fresh.db", w3, emitter, start
            )


def test_rewind_to_an_older_snapshot_then_a_different_longer_history_is_followed(
    settings: Settings, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    # Blocks stamped years ago: web3's request cache (make_web3 turns it on) serves
    # eth_getBlockByNumber for blocks older than an hour, stale after a rewind, as on an
    # embedded chain restored from a snapshot taken hours ago. The index must not ask it.
    with ephemeral_node(settings, extra_args=("--timestamp", "1600000000")) as node:
        w3 = node.w3
        emitter, start = deploy(w3, emitter_artifact, sender)
        send(w3, emitter.functions.depositMany(1, 2, 0), sender)
        snapshot = rpc(w3, "evm_snapshot")
        fork = w3.eth.block_number
        send(w3, emitter.functions.depositMany(1, 3, 100), sender)
        mine(w3, 40)
        send(w3, emitter.functions.depositMany(1, 1, 200), sender)
        with open_index(tmp_path / "index.db", w3, emitter, start) as index:
            index.sync()
            old_head = index.head()
            assert old_head is not None
            assert [a for _, a in deposits(index)] == [0, 1, 100, 101, 102, 200]

            # The chain restarts from the older state and grows another, longer history.
            assert rpc(w3, "evm_revert", [snapshot]) is True
            mine(w3, 60)
            send(w3, emitter.functions.depositMany(3, 2, 500), sender)
            assert w3.eth.block_number > old_head

            result = index.sync()
            assert result.rolled_back == old_head - fork
            assert deposits(index) == [(1, 0), (1, 1), (3, 500), (3, 501)]
            assert index.head() == w3.eth.block_number
            assert_contiguous(index, start)
            assert index.fingerprint() == fresh_fingerprint(
                tmp_path / "fresh.db", w3, emitter, start
            )


def test_chain_head_below_the_stored_head_rolls_back_to_the_common_block(
    settings: Settings, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    with ephemeral_node(settings) as node:
        w3 = node.w3
        before_deploy = rpc(w3, "evm_snapshot")
        emitter, start = deploy(w3, emitter_artifact, sender)
        send(w3, emitter.functions.depositMany(1, 2, 0), sender)
        snapshot = rpc(w3, "evm_snapshot")
        fork = w3.eth.block_number
        for i in range(3):
            send(w3, emitter.functions.depositMany(2, 1, i), sender)
        with open_index(tmp_path / "index.db", w3, emitter, start) as index:
            index.sync()
            assert index.head() == fork + 3

            assert rpc(w3, "evm_revert", [snapshot]) is True
            result = index.sync()
            assert (result.rolled_back, result.head) == (3, fork)
            assert deposits(index) == [(1, 0), (1, 1)]

            send(w3, emitter.functions.depositMany(4, 1, 9), sender)
            assert index.sync().blocks == 1
            assert deposits(index) == [(1, 0), (1, 1), (4, 9)]

            # Back to before the deployment: nothing of the index is on the chain any more.
            assert rpc(w3, "evm_revert", [before_deploy]) is True
            result = index.sync()
            assert result.head is None
            assert result.rolled_back == fork + 1 - start + 1
            assert index.count() == 0


# -- following --------------------------------------------------------------------------------


def test_follow_keeps_up_in_the_background_and_outlives_rpc_failures(
    w3: Web3,
    accounts: list[LocalAccount],
    emitter_artifact: Artifact,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = accounts[1].address
    emitter, start = deploy(w3, emitter_artifact, sender)
    every_20ms = Settings(index_interval_s=0.02)
    with open_index(tmp_path / "index.db", w3, emitter, start, every_20ms) as index:
        real_head = index._chain_head
        failures = iter([True, True])

        def flaky_head() -> int:
            if next(failures, False):
                raise NodeError("eth_blockNumber failed: connection refused")
            return real_head()

        index._chain_head = flaky_head  # type: ignore[method-assign]
        stop = threading.Event()
        follower = threading.Thread(target=index.follow, args=(stop,), daemon=True)
        follower.start()
        try:
            for i in range(5):
                send(w3, emitter.functions.depositMany(1, 2, 10 * i), sender)
                index.count()  # reads from this thread while the follower writes
            deadline = time.monotonic() + 10
            while index.head() != w3.eth.block_number and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            stop.set()
            follower.join(10)
        assert not follower.is_alive()
        assert index.head() == w3.eth.block_number
        assert index.count() == 10
        assert "index sync failed (2 in a row)" in caplog.text


# -- checking the index against the chain -------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE events SET args = json_set(args, '$.amount', '7') WHERE event = 'Deposited'",
        "DELETE FROM events WHERE log_index = (SELECT MIN(log_index) FROM events)",
        "INSERT INTO events SELECT block_number, log_index + 1000, block_hash, tx_hash, tx_index, "
        "timestamp, contract, address, event, signature, args FROM events LIMIT 1",
        "UPDATE blocks SET timestamp = timestamp + 1",
        "UPDATE blocks SET hash = printf('0x%064d', 0) WHERE number = (SELECT MIN(number) FROM blocks)",
    ],
    ids=["arg-edited", "event-deleted", "event-inserted", "timestamp-edited", "hash-edited"],
)
def test_check_names_the_block_where_an_edited_index_disagrees_with_the_chain(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path, edit: str
) -> None:
    sender = accounts[1].address
    emitter, start = deploy(w3, emitter_artifact, sender)
    for i in range(3):
        send(w3, emitter.functions.depositMany(i, 2, i + 1), sender)
    with open_index(tmp_path / "index.db", w3, emitter, start) as index:
        index.sync()
        head = index.head()
        assert head is not None
        assert index.check(start, head) is None
        assert index.check_round(start) == (None, start)

        index._conn.execute(edit)
        problem = index.check(start, head)

        assert problem is not None and problem.startswith("block ")
        assert index.check_round(start)[0] is not None


def test_marked_index_refuses_reads_until_rebuilt_from_the_chain(
    w3: Web3, accounts: list[LocalAccount], emitter_artifact: Artifact, tmp_path: Path
) -> None:
    sender = accounts[1].address
    emitter, start = deploy(w3, emitter_artifact, sender)
    send(w3, emitter.functions.depositMany(1, 3, 5), sender)
    every_50ms = Settings(index_check_s=0.05)
    with open_index(tmp_path / "index.db", w3, emitter, start, every_50ms) as index:
        index.sync()
        truth = index.fingerprint()
        index._conn.execute("DELETE FROM events")
        stop = threading.Event()
        watcher = threading.Thread(target=index.watch, args=(stop,))
        watcher.start()
        try:
            deadline = time.monotonic() + 10
            while index.inconsistency() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert index.inconsistency() is not None
            with pytest.raises(IndexInconsistent, match="disagrees with the chain"):
                index.events()
            while index.inconsistency() is not None and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            watcher.join()
        assert index.inconsistency() is None
        assert index.fingerprint() == truth and index.count() == 3
