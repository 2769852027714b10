"""Re-execution in revm against what the node proves: every storage word of every contract,
changed alone, is named with its variable; a word nobody wrote is caught; a clean chain gives
no false alarm. (The whole audit runs the same check: tests/audit/test_audit_live.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger.audit.bytecode import Build
from ledger.audit.fetch import ChunkJob, verify_chunk
from ledger.audit.layout import Layout
from ledger.audit.model import AuditResult, Finding
from ledger.audit.reexec import Replayer, StorageCheck, check_storage, spec_of, storage_root
from ledger.deploy import PLAN
from ledger.node import rpc
from ledger.protocol.generated import MandateScope
from ledger.signing.mandates import MandateDomain, make_mandate, mandate_call_arg, sign_mandate
from ledger.transport import RpcClient
from ledger.tx import broadcast, pending_nonce, send, sign
from tests.audit.conftest import History, findings_of


@dataclass
class Replayed:
    replayer: Replayer
    rpc: RpcClient
    layouts: dict[str, dict]


@pytest.fixture(scope="module")
def replayed(history: History, build: Build) -> Iterator[Replayed]:
    """The demo history, replayed once from its deployment to its head."""
    client = RpcClient(history.live.node.url)
    record = history.record
    contracts = {k: bytes.fromhex(v["address"][2:]) for k, v in record["contracts"].items()}
    start, head = int(record["block"]), history.w3.eth.block_number
    first = client.call("eth_getBlockByNumber", [hex(start), False])
    replayer = Replayer(history.w3.eth.chain_id, contracts, spec_of(first))
    job = ChunkJob(
        url=history.live.node.url,
        start=start,
        stop=head + 1,
        watched=frozenset(a for k, a in contracts.items() if k != "forwarder"),
        forwarder=contracts["forwarder"],
        council=contracts["council"],
        council_domain=b"\0" * 32,  # ballot signatures are the walk's business, not this test's
        strict_from=start,
    )
    replayer.feed(verify_chunk(job, client))
    layouts = {key: build.contracts[name].layout for key, name, _ in PLAN}
    yield Replayed(replayer, client, layouts)
    client.close()


def head(history: History) -> dict:
    return rpc(history.w3, "eth_getBlockByNumber", ["latest", False])


def test_the_replayed_storage_is_the_proven_storage_of_every_contract(
    fresh: History, replayed: Replayed
) -> None:
    checks, findings, skipped = check_storage(replayed.replayer, replayed.rpc, head(fresh))
    assert findings == [] and skipped == []
    assert {c.contract for c in checks} == {key for key, _, _ in PLAN}
    # The PollOffice and ElectionProxies write no storage (their only variables are EIP712's
    # name and version fallbacks, unused for short names): nothing to compare but their code.
    # Every other contract is compared with words in it.
    stateless = {"poll_office", "election_proxies"}
    bad = [c for c in checks if not (c.ok and (c.words > 0 or c.contract in stateless))]
    assert bad == []


def every_word(replayed: Replayed) -> list[tuple[str, int]]:
    r = replayed.replayer
    return [(key, slot) for key, address in r.contracts.items() for slot in r.storage(address)]


def flipped(
    fresh: History, replayed: Replayed, words: list[tuple[str, int]]
) -> tuple[list[StorageCheck], list[Finding], list[dict[str, str]]]:
    """check_storage's verdict on the head with each of `words` changed (its lowest bit
    flipped), the chain put back afterwards."""
    snapshot = rpc(fresh.w3, "evm_snapshot")
    try:
        for key, slot in words:
            address = "0x" + replayed.replayer.contracts[key].hex()
            value = int(rpc(fresh.w3, "eth_getStorageAt", [address, hex(slot), "latest"]), 16)
            rpc(fresh.w3, "anvil_setStorageAt", [address, hex(slot), f"0x{value ^ 1:064x}"])
        rpc(fresh.w3, "evm_mine")
        return check_storage(replayed.replayer, replayed.rpc, head(fresh), replayed.layouts)
    finally:
        rpc(fresh.w3, "evm_revert", [snapshot])


def test_every_storage_word_changed_is_named_with_its_variable(
    fresh: History, replayed: Replayed
) -> None:
    """A sweep over the whole state, not a hand-picked list: each non-zero word of each
    contract gets its lowest bit flipped, and each must be named — contract, slot, variable."""
    words = every_word(replayed)
    assert len(words) > 50
    checks, findings, _ = flipped(fresh, replayed, words)
    named = {(c.contract, d["slot"]): d["variable"] for c in checks for d in c.differing}
    unnamed = [
        (key, hex(slot), named.get((key, hex(slot))))
        for key, slot in words
        if "no variable" in (named.get((key, hex(slot))) or "no variable")
    ]
    assert unnamed == []
    # Nothing else is reported as changed, and each contract touched has its finding.
    assert len(named) == len(words)
    touched = {key for key, _ in words}
    assert sorted(f.detail.split("'")[0] for f in findings if f.rule == "reexec.storage") == sorted(
        touched
    )
    assert all(f.rule == "reexec.storage" for f in findings)


def test_a_word_changed_alone_is_the_one_finding(fresh: History, replayed: Replayed) -> None:
    """One word per contract, each changed alone: exactly one finding, naming the contract,
    the slot and its variable."""
    firsts: dict[str, int] = {}
    for key, slot in every_word(replayed):
        firsts.setdefault(key, slot)
    for key, slot in firsts.items():
        _, findings, _ = flipped(fresh, replayed, [(key, slot)])
        assert len(findings) == 1, (key, [f.detail for f in findings])
        (finding,) = findings
        assert finding.rule == "reexec.storage" and finding.detail.startswith(key)
        assert hex(slot) in finding.detail and "no variable" not in finding.detail


def test_a_word_no_transaction_wrote_is_caught(fresh: History, replayed: Replayed) -> None:
    for key, address in replayed.replayer.contracts.items():
        snapshot = rpc(fresh.w3, "evm_snapshot")
        stray = (1 << 255) + 12345  # in no variable of any contract
        rpc(fresh.w3, "anvil_setStorageAt", ["0x" + address.hex(), hex(stray), f"0x{1:064x}"])
        rpc(fresh.w3, "evm_mine")
        try:
            _, findings, _ = check_storage(
                replayed.replayer, replayed.rpc, head(fresh), replayed.layouts
            )
        finally:
            rpc(fresh.w3, "evm_revert", [snapshot])
        assert [f.rule for f in findings] == ["reexec.storage"], (key, findings)
        assert "words no transaction wrote" in findings[0].detail


def test_a_contracts_code_swapped_for_anothers_is_named(fresh: History, replayed: Replayed) -> None:
    contracts = {k: "0x" + a.hex() for k, a in replayed.replayer.contracts.items()}
    code = rpc(fresh.w3, "eth_getCode", [contracts["timebank"], "latest"])
    rpc(fresh.w3, "anvil_setCode", [contracts["council"], code])
    rpc(fresh.w3, "evm_mine")
    _, findings, _ = check_storage(replayed.replayer, replayed.rpc, head(fresh), replayed.layouts)
    assert [(f.rule, f.detail.split("'")[0]) for f in findings] == [("reexec.code", "council")]


def test_a_mapping_entry_is_named_by_its_key_and_member(
    fresh: History, replayed: Replayed, build: Build
) -> None:
    garden = fresh.made["proposals"]["garden"]
    layout = Layout(build.contracts["Council"].layout)
    base, struct = layout.mapping("_proposals", garden)
    slot = base + layout.members(struct)["closesAt"][0]
    council = "0x" + replayed.replayer.contracts["council"].hex()
    value = int(rpc(fresh.w3, "eth_getStorageAt", [council, hex(slot), "latest"]), 16)
    rpc(fresh.w3, "anvil_setStorageAt", [council, hex(slot), f"0x{value + 86_400:064x}"])
    rpc(fresh.w3, "evm_mine")
    _, findings, _ = check_storage(replayed.replayer, replayed.rpc, head(fresh), replayed.layouts)
    (finding,) = findings
    assert f"_proposals[{garden}].closesAt" in finding.detail or (
        f"_proposals[{garden}]." in finding.detail
    ), finding.detail


def test_a_node_that_will_not_prove_its_storage_leaves_the_audit_incomplete_not_clean(
    fresh: History, replayed: Replayed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check the node does not let the audit make is said, and is never CLEAN."""
    call = replayed.rpc.try_call

    def no_proofs(method: str, params: list) -> tuple:  # type: ignore[type-arg]
        if method == "eth_getProof":
            return None, "Method eth_getProof is not supported"
        return call(method, params)

    monkeypatch.setattr(replayed.rpc, "try_call", no_proofs)
    checks, findings, skipped = check_storage(replayed.replayer, replayed.rpc, head(fresh))
    assert checks == [] and findings == []
    assert {s["contract"] for s in skipped} == set(replayed.replayer.contracts)
    assert all("not supported" in s["why"] for s in skipped)
    result = AuditResult([], [], {"skipped_checks": skipped})
    assert not result.ok


def test_the_storage_root_is_the_one_ethereum_defines() -> None:
    """Against a root computed with py-trie's reference values: an empty trie, one word."""
    assert storage_root({}).hex() == (
        "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    )
    # eth_getProof's storageHash of a contract whose slot 0 holds 1 (geth, anvil)
    assert storage_root({0: 1}).hex() == (
        "821e2556a290c86405f8160a2d662042a431ba456b9db265c79bb837c04be5f0"
    )


def test_a_change_is_dated_to_the_block_it_began_not_the_audited_one(
    fresh: History, replayed: Replayed
) -> None:
    council = "0x" + replayed.replayer.contracts["council"].hex()
    slot = max(replayed.replayer.storage(replayed.replayer.contracts["council"]))
    before = fresh.w3.eth.block_number
    value = int(rpc(fresh.w3, "eth_getStorageAt", [council, hex(slot), "latest"]), 16)
    rpc(fresh.w3, "anvil_setStorageAt", [council, hex(slot), f"0x{value ^ 1:064x}"])
    rpc(fresh.w3, "anvil_mine", ["0x8"])  # eight more blocks go by before the audit
    _, findings, _ = check_storage(replayed.replayer, replayed.rpc, head(fresh), replayed.layouts)
    (finding,) = findings
    # Bisected (each probe replays up to its block): where it began, not where it was seen.
    assert finding.block in (before, before + 1), (before, finding)
    assert f"at block {before + 8}" in finding.detail


def test_transactions_at_their_gas_limit_replay_as_the_chain_ran_them(
    fresh: History, accounts: list[LocalAccount]
) -> None:
    """pyrevm keeps one journal open across the replay, so a word an earlier transaction wrote
    would count as warm, and its value as the original one. Appointing a resident's proxy again
    deletes the mandate and writes it anew: sent with exactly its estimated gas it succeeded on
    the chain, and with a little less it ran out of gas. The replay agrees with both."""
    w3, c, cid = fresh.w3, fresh.live.deployment, fresh.community
    domain = MandateDomain(int(w3.eth.chain_id), c.mandates.address)
    resident, proxy = fresh.keys["resident7"], fresh.keys["resident1"]

    def appoint() -> Any:
        nonce = c.mandates.functions.nonceOf(resident.address).call()
        m = make_mandate(cid, resident.address, proxy.address, MandateScope.AllVotes, 0, nonce)
        return c.mandates.functions.appoint(
            [mandate_call_arg(m, sign_mandate(resident, m, domain))]
        )

    send(w3, accounts[0], appoint())
    again = send(w3, accounts[0], appoint())  # web3 fills in the node's estimate
    assert w3.eth.get_transaction(again["transactionHash"])["gas"] - again["gasUsed"] < 10_000
    sender = accounts[0].address
    short = appoint().build_transaction({"from": sender, "nonce": pending_nonce(w3, sender)})
    short["gas"] -= 4_000
    signed = sign(accounts[0], short)
    broadcast(w3, signed.raw)
    assert w3.eth.wait_for_transaction_receipt(HexBytes(signed.hash))["status"] == 0

    result = fresh.audit()
    assert findings_of(result, "reexec.outcome") == [] and result.ok, result.findings
