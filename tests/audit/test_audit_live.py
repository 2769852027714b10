"""Fault injection against a live system: every fault is made for real on anvil, and the audit
must catch it and name it (rule, block, tx); a clean history must give a clean report, and the
index database the API keeps must make no difference to it."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.bytecode import Build, split_metadata
from ledger.audit.chain import ChainWalker
from ledger.audit.layout import Layout
from ledger.audit.model import AuditResult
from ledger.audit.report import (
    comparable,
    generate_key,
    load_public_key,
    markdown,
    raw_public_key,
)
from ledger.audit.signers import fingerprint
from ledger.hashing import keccak
from ledger.node import rpc
from ledger.signing.ballots import make_ballot, sign_ballot
from ledger.signing.services import (
    ServiceRecord,
    category_code,
    record_id,
    sign_reversal,
    timebank_domain,
)
from ledger.tx import send
from tests.audit.conftest import History, auditor_account, findings_of, register_report_key


@pytest.fixture(scope="module")
def clean(history: History) -> AuditResult:
    return history.audit()


def test_a_node_that_cannot_trace_gives_the_same_clean_report(
    history: History, clean: AuditResult
) -> None:
    """Attached to a node without debug_traceTransaction, every call one of our contracts makes
    into another (the poll office's and ElectionProxies' into Elections, among others) comes
    without calldata; each is judged by its events within the call the audit decoded."""
    walker_init = ChainWalker.__init__

    def untraced(self: ChainWalker, *args: Any, **kwargs: Any) -> None:
        walker_init(self, *args, **kwargs)
        self._traced_unavailable = True

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ChainWalker, "__init__", untraced)
        result = history.audit()
    assert result.findings == [] and result.warnings == []

    # The same report, part for part, when it was made and how long things took aside.
    def untimed(report: dict[str, Any]) -> dict[str, Any]:
        reexecution = {k: v for k, v in report["reexecution"].items() if k != "seconds"}
        return {**report, "generated_at": None, "timings": None, "reexecution": reexecution}

    found, traced = untimed(result.report), untimed(clean.report)
    assert [k for k in traced if found.get(k) != traced[k]] == []


def _slot(build: Build, contract: str, var: str, key: int, member: str) -> int:
    layout = Layout(build.contracts[contract].layout)
    base, struct = layout.mapping(var, key)
    return base + layout.members(struct)[member][0]


def _storage(w3: Web3, address: str, slot: int) -> int:
    return int(rpc(w3, "eth_getStorageAt", [address, hex(slot), "latest"]), 16)


def _set_storage(w3: Web3, address: str, slot: int, value: int) -> None:
    rpc(w3, "anvil_setStorageAt", [address, hex(slot), "0x" + value.to_bytes(32, "big").hex()])
    rpc(w3, "evm_mine")  # the next block's state root commits to the change


def test_clean_history_gives_a_clean_report(clean: AuditResult) -> None:
    summary = clean.report["summary"]
    assert clean.ok, clean.findings
    assert clean.warnings == []
    # It did look at everything: every ballot, both ways a call arrives, the fund, the time bank.
    assert summary["ballots_checked"] == 23 and summary["signatures_verified"] == 22
    assert summary["forwarded_requests"] > 15 and summary["proofs_checked"] > 20
    assert {p["onchain_outcome"] for p in clean.report["proposals"]} == {
        "Passed",
        "Rejected",
        "None",
    }
    assert [f["total_paid"] for f in clean.report["funds"]] == [200_000]
    assert clean.report["timebank"][0]["sum"] == 0 and clean.report["timebank"][0]["reversals"] == 1
    assert all(
        c["code_matches"] and c["creation_ok"] for c in clean.report["bytecode"]["contracts"]
    )
    steps = [row["step"] for row in clean.report["fund_trail"]]
    assert steps[:2] == ["income", "income"] and "payout_executed" in steps


def test_the_report_names_every_admin_act_in_order_with_who_acted(
    clean: AuditResult, history: History
) -> None:
    acts = clean.report["admin_acts"]
    registry = history.live.client.contracts["registry"]
    events = [
        (log["blockNumber"], log["logIndex"], name)
        for name in ("CommunityCreated", "RoleGranted", "RollPublished")
        for log in getattr(registry.events, name).get_logs(from_block=0)
    ]
    expected = [name for *_, name in sorted(events)]
    assert [a["act"] for a in acts if a["act"] in set(expected)] == expected
    granted = [a for a in acts if a["act"] == "RoleGranted"]
    assert {"COMMITTEE", "REGISTRAR", "COORDINATOR"} <= {
        a["detail"].split("role=")[1].split(",")[0] for a in granted
    }
    admin = history.keys["admin"].address.lower()
    assert all(a["by"] == admin for a in granted), "each grant names the admin who signed it"
    assert {"FundCurrencySet", "ApprovalThresholdSet", "LimitsSet"} <= {a["act"] for a in acts}
    rendered = markdown({"report": clean.report})
    assert "## Admin acts" in rendered and rendered.count("| RoleGranted |") == len(granted)


def test_tally_changed_in_storage_is_named_at_the_audited_block(
    fresh: History, build: Build
) -> None:
    w3 = fresh.w3
    council = fresh.record["contracts"]["council"]["address"]
    garden = fresh.made["proposals"]["garden"]
    slot = _slot(build, "Council", "_proposals", garden, "tally")
    _set_storage(w3, council, slot, _storage(w3, council, slot) + (5 << 32))  # five more "no"
    head = w3.eth.block_number

    result = fresh.audit()

    tally = findings_of(result, "council.tally")
    assert any(f.block == head and f.tx is None and f"proposal {garden}" in f.detail for f in tally)
    assert any(
        f"proposal {garden} tally" in f.detail and f.block == head
        for f in findings_of(result, "state.proof")
    )
    # Re-execution names the word itself: the storage is not what the transactions left.
    # Bisected to where it began: anvil writes the word into the state it holds for the head
    # before the change (whose proofs then no longer check), and the next block commits to it.
    (storage,) = findings_of(result, "reexec.storage")
    assert hex(slot) in storage.detail and "council" in storage.detail
    assert storage.block in (head - 1, head) and f"_proposals[{garden}].tally" in storage.detail
    assert result.rules_broken() == {"council.tally", "state.proof", "reexec.storage"}


def test_tampered_tally_finalized_later_is_named_at_the_finalize_tx(
    fresh: History, build: Build, accounts: list[LocalAccount]
) -> None:
    w3 = fresh.w3
    council = fresh.live.client.contracts["council"]
    garden = fresh.made["proposals"]["garden"]
    slot = _slot(build, "Council", "_proposals", garden, "tally")
    _set_storage(w3, council.address, slot, _storage(w3, council.address, slot) + (5 << 32))
    rpc(w3, "evm_increaseTime", [8 * 86_400])
    rpc(w3, "evm_mine")
    receipt = send(w3, accounts[0], council.functions.finalize(garden))
    tx = "0x" + bytes(receipt["transactionHash"]).hex()

    result = fresh.audit()

    at_tx = [f for f in result.findings if f.tx == tx and f.block == receipt["blockNumber"]]
    assert {f.rule for f in at_tx} == {"council.tally", "council.outcome"}
    outcome = next(f for f in at_tx if f.rule == "council.outcome")
    assert outcome.expected is not None and outcome.expected.startswith("Passed")
    assert outcome.found is not None and outcome.found.startswith("Rejected")


def test_fund_balance_changed_in_storage_is_named(fresh: History, build: Build) -> None:
    w3 = fresh.w3
    fund = fresh.record["contracts"]["fund"]["address"]
    slot = _slot(build, "CommunityFund", "_funds", fresh.community, "available")
    _set_storage(w3, fund, slot, _storage(w3, fund, slot) + 1_000)
    head = w3.eth.block_number

    result = fresh.audit()

    balance = findings_of(result, "fund.balance")
    assert (
        len(balance) == 1
        and balance[0].block == head
        and f"community {fresh.community}" in balance[0].detail
    )
    assert (
        balance[0].found is not None
        # The demo's 9,200.00 income less the playground's grant and the budget round's grants.
        and "available 121000" in balance[0].found
        and "available 120000" in (balance[0].expected or "")
    )
    assert any("fund of community" in f.detail for f in findings_of(result, "state.proof"))


def test_contract_code_swapped_is_named_with_the_differing_part(fresh: History) -> None:
    w3 = fresh.w3
    record = fresh.record
    council = record["contracts"]["council"]["address"]
    timebank = record["contracts"]["timebank"]["address"]
    rpc(w3, "anvil_setCode", [council, "0x" + bytes(w3.eth.get_code(timebank)).hex()])

    result = fresh.audit()

    code = [f for f in findings_of(result, "deploy.code") if council in f.detail]
    assert len(code) == 1 and code[0].found == "body+metadata differ"
    assert code[0].block == w3.eth.block_number and code[0].tx is None


def test_metadata_only_change_is_reported_as_metadata(fresh: History) -> None:
    w3 = fresh.w3
    council = fresh.record["contracts"]["council"]["address"]
    code = bytearray(w3.eth.get_code(council))
    body, _ = split_metadata(bytes(code))
    code[len(body) + 10] ^= 0x01  # inside the CBOR's IPFS hash
    rpc(w3, "anvil_setCode", [council, "0x" + bytes(code).hex()])
    rpc(w3, "evm_mine")  # else the node's state no longer matches its head's state root

    result = fresh.audit()

    (finding,) = findings_of(result, "deploy.code")
    assert finding.found == "metadata differ" and "ipfs" in finding.detail
    # The code is not what the deployment, run again, left: every byte counts there.
    assert result.rules_broken() == {"deploy.code", "reexec.code"}


def test_swapped_immutable_is_caught_by_the_wiring_check(fresh: History, build: Build) -> None:
    w3 = fresh.w3
    record = fresh.record
    council = record["contracts"]["council"]["address"]
    registry = bytes.fromhex(record["contracts"]["registry"]["address"][2:]).rjust(32, b"\0")
    impostor = bytes.fromhex("66" * 20).rjust(32, b"\0")
    code = bytes(w3.eth.get_code(council))
    spots = [s for s, n in build.contracts["Council"].immutables if code[s : s + n] == registry]
    assert spots, "the registry address is one of Council's immutables"
    patched = bytearray(code)
    for start in spots:
        patched[start : start + 32] = impostor
    rpc(w3, "anvil_setCode", [council, "0x" + bytes(patched).hex()])

    result = fresh.audit()

    assert findings_of(result, "deploy.code") == []  # the code itself is the compiled code...
    wiring = findings_of(result, "deploy.wiring")  # ...but it points at another registry
    assert any("council.registry()" in f.detail for f in wiring)
    # Re-execution ran Council's constructor: the immutables it set are not these (or, with no
    # block mined since, the node's state is not its head's and cannot be compared at all).
    named = findings_of(result, "reexec.code") + findings_of(result, "state.proof")
    assert any(f.detail.startswith("council") for f in named)


def test_a_poll_office_trusting_another_forwarder_is_named(fresh: History, build: Build) -> None:
    """The poll office takes the committee's box declarations through the forwarder: one that
    trusts another could be handed a forged committee member."""
    w3 = fresh.w3
    office = fresh.record["contracts"]["poll_office"]["address"]
    forwarder = fresh.record["contracts"]["forwarder"]["address"]
    wired = bytes.fromhex(forwarder[2:]).rjust(32, b"\0")
    code = bytes(w3.eth.get_code(office))
    spots = [s for s, n in build.contracts["PollOffice"].immutables if code[s : s + n] == wired]
    assert spots, "the forwarder address is one of PollOffice's immutables"
    patched = bytearray(code)
    for start in spots:
        patched[start : start + 32] = bytes.fromhex("77" * 20).rjust(32, b"\0")
    rpc(w3, "anvil_setCode", [office, "0x" + bytes(patched).hex()])

    wiring = findings_of(fresh.audit(), "deploy.wiring")

    assert any("poll_office's trusted forwarder" in f.detail for f in wiring), wiring


def test_immutable_replaced_while_the_getter_copy_is_kept_is_named(
    fresh: History, build: Build
) -> None:
    """The attack the wiring check cannot see: the registry immutable replaced where the code
    uses it, left alone where `registry()` reads it."""
    w3 = fresh.w3
    record = fresh.record
    council = record["contracts"]["council"]["address"]
    registry = bytes.fromhex(record["contracts"]["registry"]["address"][2:]).rjust(32, b"\0")
    code = bytes(w3.eth.get_code(council))
    spots = [s for s, n in build.contracts["Council"].immutables if code[s : s + n] == registry]
    assert len(spots) > 1, "the registry immutable is read in more than one place"
    patched = bytearray(code)
    patched[spots[-1] : spots[-1] + 32] = bytes.fromhex("66" * 20).rjust(32, b"\0")
    rpc(w3, "anvil_setCode", [council, "0x" + bytes(patched).hex()])
    rpc(w3, "evm_mine")

    result = fresh.audit()

    assert any(f.detail.startswith("council's code") for f in findings_of(result, "reexec.code"))


def test_deployment_file_pointing_at_the_wrong_address_is_named(history: History) -> None:
    record: dict[str, Any] = history.record
    real_fund = record["contracts"]["fund"]
    record["contracts"]["fund"] = {
        **real_fund,
        "address": record["contracts"]["timebank"]["address"],
    }

    result = history.audit(record=record)

    code = findings_of(result, "deploy.code")
    assert any(f"fund at {record['contracts']['timebank']['address']}" in f.detail for f in code)
    creation = findings_of(result, "deploy.creation")
    assert any(
        f.tx == real_fund["tx_hash"] and real_fund["address"] in (f.found or "") for f in creation
    )


def test_editing_the_index_database_changes_nothing(
    history: History, clean: AuditResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = history.live.data_dir / "var" / "index-31337.sqlite"
    assert index.exists()
    with sqlite3.connect(index) as db:
        db.execute("UPDATE events SET args = '{}' WHERE event = 'BallotCast'")
        db.execute("DELETE FROM events WHERE event = 'PayoutExecuted'")
    # And, to be sure it is never even opened: no database can be opened during the audit.
    monkeypatch.setattr(
        sqlite3, "connect", lambda *a, **k: pytest.fail("the audit opened a database")
    )

    again = history.audit()

    assert again.ok
    assert comparable(again.report) == comparable(clean.report)


# ------------------------------------------------------------------------------ other paths


def test_worker_process_path_agrees_with_the_inline_path(
    history: History, clean: AuditResult
) -> None:
    pooled = history.audit(pool_chunks=True, chunk_blocks=8)
    assert pooled.report["timings"]["chunks_in_workers"] is True
    assert comparable(pooled.report) == comparable(clean.report)


def test_rerun_resumes_from_its_checkpoint_and_walks_only_new_blocks(fresh: History) -> None:
    first = fresh.audit(resume=True)
    again = fresh.audit(resume=True)
    assert again.report["summary"]["resumed_from_block"] == first.report["chain"]["to_block"] + 1
    assert comparable(again.report)["findings"] == comparable(first.report)["findings"] == []
    for _ in range(3):
        rpc(fresh.w3, "evm_mine")
    later = fresh.audit(resume=True)
    assert later.report["summary"]["resumed_from_block"] == first.report["chain"]["to_block"] + 1
    assert later.report["summary"]["blocks"] == first.report["summary"]["blocks"] + 3
    assert later.ok


def test_reversal_against_a_batch_root_set_by_hand_is_named(
    fresh: History, build: Build, accounts: list[LocalAccount]
) -> None:
    """TimeBank takes a reversal only of a record its batch commitment holds. A node operator who
    writes a root of their own into storage can make the chain take the "reversal" of a service
    that never happened; the audit judges reversals against the roots it rebuilt from the
    recording calls, so it still names it."""
    keys, c = fresh.keys, fresh.live.client.contracts
    # resident3 really served resident1 for 45 minutes under nonce 2 (seeded); the "original"
    # below (500 minutes to resident4, same provider and nonce) was never recorded.
    fake = ServiceRecord(keys["resident3"].address, keys["resident4"].address, 500,
                         category_code("REPAIR"), Web3.keccak(text="never happened"), 2)  # fmt: skip
    domain = timebank_domain(fresh.live.client.chain_id, c["timebank"].address)
    reason = Web3.keccak(text="cover story")
    rid = record_id(fresh.community, fake)
    sigs = [
        sign_reversal(keys[k], domain, rid, reason).as_tuple() for k in ("resident3", "resident4")
    ]
    forged_batch = 10**6
    slot, _ = Layout(build.contracts["TimeBank"].layout).mapping("_batchRoots", forged_batch)
    _set_storage(fresh.w3, c["timebank"].address, slot, int.from_bytes(keccak(rid), "big"))
    receipt = send(fresh.w3, accounts[0], c["timebank"].functions.reverseService(
        fresh.community, fake.as_tuple(), (forged_batch, [rid], 0), reason, *sigs))  # fmt: skip

    result = fresh.audit()

    found = findings_of(result, "timebank.reversal")
    assert {f.tx for f in found} == {"0x" + bytes(receipt["transactionHash"]).hex()}
    assert {f.block for f in found} == {receipt["blockNumber"]}
    assert any("never recorded" in f.detail for f in found)
    assert any(f"not batch {forged_batch}'s" in f.detail for f in found)


def test_audit_up_to_an_earlier_block_reads_the_state_there(
    history: History, clean: AuditResult
) -> None:
    to = clean.report["chain"]["to_block"] - 5
    early = history.audit(to_block=to)
    assert early.ok and early.report["chain"]["to_block"] == to
    assert early.report["summary"]["blocks"] == to - history.record["block"] + 1
    assert (
        early.report["chain"]["block_hash"]
        == "0x" + bytes(history.w3.eth.get_block(to)["hash"]).hex()
    )


def test_outsider_slipped_onto_the_roll_is_named_at_the_ballot_tx(
    fresh: History, build: Build, accounts: list[LocalAccount]
) -> None:
    registry = fresh.record["contracts"]["registry"]["address"]
    outsider = Account.create()
    layout = Layout(build.contracts["Registry"].layout)
    slot, _ = layout.mapping("_records", fresh.community, bytes.fromhex(outsider.address[2:]))
    _set_storage(fresh.w3, registry, slot, 999 | (1 << 64))  # index 998, member since version 1
    garden = fresh.made["proposals"]["garden"]
    domain = fresh.live.client.ballot_domain
    ballot = sign_ballot(outsider, make_ballot(garden, outsider.address, 0), domain).call_arg()
    council = fresh.live.client.contracts["council"]
    receipt = send(fresh.w3, accounts[0], council.functions.castBallots(garden, [ballot]))

    result = fresh.audit()

    eligibility = findings_of(result, "council.ballot_eligibility")
    assert len(eligibility) == 1
    assert eligibility[0].tx == "0x" + bytes(receipt["transactionHash"]).hex()
    assert (
        eligibility[0].block == receipt["blockNumber"]
        and outsider.address.lower() in eligibility[0].detail
    )
    assert any(f"proposal {garden}" in f.detail for f in findings_of(result, "council.tally"))


def test_report_key_put_in_storage_for_a_non_auditor_is_named(
    fresh: History, build: Build, accounts: list[LocalAccount], tmp_path: Any
) -> None:
    """A key registered by its auditor, then handed to a stranger by a storage write (what a
    swapped contract or a node could do): verify-report would name the stranger as the signer,
    so the audit must name the registration."""
    w3 = fresh.w3
    key = tmp_path / "auditor.pem"
    generate_key(key)
    register_report_key(fresh, auditor_account(accounts), key)
    fp = fingerprint(raw_public_key(load_public_key(key)))
    registry = fresh.record["contracts"]["registry"]["address"]
    layout = Layout(build.contracts["Registry"].layout)
    base, struct = layout.mapping("_auditorKeys", fp)
    slot = base + layout.members(struct)["auditor"][0]
    stranger = int(Account.create().address, 16)
    word = _storage(w3, registry, slot)
    _set_storage(w3, registry, slot, (word >> 160 << 160) | stranger)

    result = fresh.audit()

    (view,) = findings_of(result, "registry.auditor_key_view")
    assert f"report key 0x{fp.hex()}" in view.detail
    assert f"auditor 0x{stranger:040x}" in str(view.found)
    assert auditor_account(accounts).address.lower()[2:] in str(view.expected)
    storage = findings_of(result, "reexec.storage")
    assert any("_auditorKeys" in f"{f.detail} {f.found} {f.expected}" for f in storage), storage
