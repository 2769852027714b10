"""The byte formats the walk re-derives: every real block of the session chain must re-hash to its
hash and roots, and a node that lies about a transaction, a header or a log is caught."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.chain import domain_separator
from ledger.audit.ethcodec import (
    encode_log,
    encode_receipt,
    header_hash,
    hex_bytes,
    ordered_trie_root,
    tx_envelope,
    tx_sender,
)
from ledger.audit.fetch import ChunkJob, verify_chunk
from ledger.audit.state import AuditState, Checkpoint, Community, Member, Proposal
from ledger.deploy import Deployment
from ledger.node import AnvilProcess, rpc
from ledger.transport import RpcClient, RpcFailure
from ledger.tx import send


@pytest.fixture
def busy_chain(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> int:
    """A few blocks: a type-2 call with logs, a legacy transfer, an EIP-155 legacy call."""
    send(w3, accounts[0], system.registry.functions.createCommunity(b"\x02" * 32))
    legacy = {"to": accounts[2].address, "value": 1, "gas": 21_000, "gasPrice": 10**9,
              "nonce": w3.eth.get_transaction_count(accounts[1].address)}  # fmt: skip
    w3.eth.send_raw_transaction(accounts[1].sign_transaction(legacy).raw_transaction)
    legacy155 = {**legacy, "nonce": legacy["nonce"] + 1, "chainId": w3.eth.chain_id}
    tx = w3.eth.send_raw_transaction(accounts[1].sign_transaction(legacy155).raw_transaction)
    w3.eth.wait_for_transaction_receipt(tx)
    return int(w3.eth.block_number)


def test_every_block_rehashes_to_its_hash_and_roots(w3: Web3, busy_chain: int) -> None:
    for number in range(busy_chain + 1):
        block = rpc(w3, "eth_getBlockByNumber", [hex(number), True])
        assert header_hash(block) == hex_bytes(block["hash"])
        envelopes = []
        for tx in block["transactions"]:
            tx_hash, sender = tx_sender(tx)
            assert (tx_hash, sender) == (hex_bytes(tx["hash"]), hex_bytes(tx["from"]))
            envelopes.append(tx_envelope(tx)[0])
        assert ordered_trie_root(envelopes) == hex_bytes(block["transactionsRoot"])
        receipts = rpc(w3, "eth_getBlockReceipts", [hex(number)])
        encoded = [
            encode_receipt(r, [encode_log(hex_bytes(x["address"]), [hex_bytes(t) for t in x["topics"]], hex_bytes(x["data"]))
                               for x in r["logs"]])
            for r in receipts
        ]  # fmt: skip
        assert ordered_trie_root(encoded) == hex_bytes(block["receiptsRoot"])


def _job(anvil: AnvilProcess, system: Deployment, start: int, stop: int) -> ChunkJob:
    contracts = {k: hex_bytes(c.address) for k, c in system.contracts.items()}
    return ChunkJob(
        url=anvil.url, start=start, stop=stop,
        watched=frozenset(a for k, a in contracts.items() if k != "forwarder"),
        forwarder=contracts["forwarder"], council=contracts["council"],
        council_domain=domain_separator("CommonsCouncil", "1", 31337, contracts["council"]),
        strict_from=0,
    )  # fmt: skip


class LyingNode(RpcClient):
    """Answers as the node does, after `edit` has changed the answer."""

    def __init__(self, url: str, edit: Any) -> None:
        super().__init__(url)
        self.edit = edit

    def batch(self, calls: Any, *, allow_errors: bool = False) -> list[Any]:
        answers = super().batch(calls, allow_errors=allow_errors)
        for (method, _), answer in zip(calls, answers, strict=True):
            self.edit(method, answer)
        return answers


def _rules(anvil: AnvilProcess, system: Deployment, head: int, edit: Any) -> set[str]:
    with LyingNode(anvil.url, edit) as node:
        return {f.rule for f in verify_chunk(_job(anvil, system, 0, head + 1), node).findings}


def test_an_honest_node_gives_no_findings(
    anvil: AnvilProcess, system: Deployment, busy_chain: int
) -> None:
    assert _rules(anvil, system, busy_chain, lambda *_: None) == set()


def test_a_node_changing_calldata_is_caught(
    anvil: AnvilProcess, system: Deployment, busy_chain: int
) -> None:
    def edit(method: str, answer: Any) -> None:
        if method == "eth_getBlockByNumber":
            for tx in answer["transactions"]:
                if tx["input"] not in ("0x", None):
                    tx["input"] = tx["input"][:-2] + ("00" if tx["input"][-2:] != "00" else "01")

    assert {"chain.tx_hash", "chain.sender", "chain.tx_root"} <= _rules(
        anvil, system, busy_chain, edit
    )


def test_a_node_naming_another_sender_is_caught(
    anvil: AnvilProcess, system: Deployment, busy_chain: int
) -> None:
    def edit(method: str, answer: Any) -> None:
        if method == "eth_getBlockByNumber":
            for tx in answer["transactions"]:
                tx["from"] = "0x" + "11" * 20

    assert _rules(anvil, system, busy_chain, edit) == {"chain.sender"}


def test_a_node_forging_a_log_or_a_header_is_caught(
    anvil: AnvilProcess, system: Deployment, busy_chain: int
) -> None:
    def forge_log(method: str, answer: Any) -> None:
        if method == "eth_getBlockReceipts":
            for receipt in answer:
                for log in receipt["logs"]:
                    log["data"] = "0x" + "00" * 32

    def forge_header(method: str, answer: Any) -> None:
        if method == "eth_getBlockByNumber":
            answer["timestamp"] = hex(int(answer["timestamp"], 16) + 1)

    assert _rules(anvil, system, busy_chain, forge_log) == {"chain.receipts_root"}
    assert _rules(anvil, system, busy_chain, forge_header) == {"chain.block_hash"}


def test_checkpoint_roundtrips_and_refuses_another_binding(tmp_path: Any) -> None:
    state = AuditState(next_block=7, last_hash=b"\x01" * 32)
    community = Community(1, b"\x02" * 20)
    community.members[b"\x03" * 20] = Member(0, [[1, 2], [3, 0]])
    community.roles["COMMITTEE"].add(b"\x04" * 20)
    state.communities[1] = community
    state.proposals[1] = Proposal(1, 1, b"\x04" * 20, b"\x05" * 32, 0, 3, 1, 9, 0, 5000, 0, b"",
                                  1, 1, 3, "0xab", [1, 0, 0], [1, 0, 0], {b"\x03" * 20})  # fmt: skip
    book = state.timebank(1)
    book.use_nonce(b"\x03" * 20, 0)
    book.use_nonce(b"\x03" * 20, 5)
    book.by_nonce[(b"\x03" * 20, 5)] = b"\x06" * 32
    book.balances[bytes(20)] = -30
    Checkpoint(tmp_path / "c.json.gz", "chain-a").save(state)
    assert Checkpoint(tmp_path / "c.json.gz", "chain-a").load() == state
    assert Checkpoint(tmp_path / "c.json.gz", "chain-b").load() is None
    (tmp_path / "c.json.gz").write_bytes(b"torn")
    assert Checkpoint(tmp_path / "c.json.gz", "chain-a").load() is None


class NoBlockReceipts(RpcClient):
    """A node without eth_getBlockReceipts (older clients): receipts come one by one."""

    def batch(self, calls: Any, *, allow_errors: bool = False) -> list[Any]:
        if calls and calls[0][0] == "eth_getBlockReceipts":
            return [RpcFailure("the method eth_getBlockReceipts does not exist", {}) for _ in calls]
        return super().batch(calls, allow_errors=allow_errors)


def test_a_node_without_block_receipts_is_walked_by_transaction_receipts(
    anvil: AnvilProcess, system: Deployment, busy_chain: int
) -> None:
    with NoBlockReceipts(anvil.url) as node:
        chunk = verify_chunk(_job(anvil, system, 0, busy_chain + 1), node)
    assert chunk.findings == [] and any(tx.logs for block in chunk.blocks for tx in block.txs)
