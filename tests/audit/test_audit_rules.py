"""No false alarms on every path the rules allow, built directly on the session chain: a roll
that changes across versions (leave, rejoin, undone changes), multiple-choice and failed
proposals, every reason a relayed ballot is skipped, direct votes, cancelled and lapsed payouts,
a closed grant, skipped service records, service to the community and a genuine reversal. The
audit must judge all of it exactly as the contracts did, and find nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.node import AnvilProcess, rpc
from ledger.signing.ballots import (
    BallotDomain,
    make_ballot,
    malleate,
    sign_ballot,
    to_compact,
    typed_data_parts,
)
from ledger.signing.eip712 import sign_typed_data
from ledger.signing.services import (
    COMMUNITY_ACCOUNT,
    ServiceRecord,
    category_code,
    record_id,
    sign_both,
    sign_reversal,
    timebank_domain,
)
from ledger.tx import send
from tests.audit.conftest import audit_data_dir, audit_deployment
from tests.contract_wrappers.timebank import TimeBankContract

ROLE = {name: Web3.keccak(text=name) for name in ("COMMITTEE", "REGISTRAR", "COORDINATOR")}
CNY = b"CNY"


def _ballot(voter: LocalAccount, pid: int, option: int, domain: BallotDomain) -> tuple[Any, ...]:
    return sign_ballot(voter, make_ballot(pid, voter.address, option), domain).call_arg()


def _forged(
    voter: LocalAccount, signer: LocalAccount, pid: int, domain: BallotDomain
) -> tuple[Any, ...]:
    signature = sign_typed_data(
        signer, *typed_data_parts(make_ballot(pid, voter.address, 0), domain)
    )
    return (voter.address, 0, *to_compact(signature))


def _high_s(voter: LocalAccount, pid: int, domain: BallotDomain) -> tuple[Any, ...]:
    good = sign_typed_data(voter, *typed_data_parts(make_ballot(pid, voter.address, 1), domain))
    twin = malleate(good)
    s, v = int.from_bytes(twin[32:64], "big"), twin[64] - 27
    return (voter.address, 1, twin[:32], (s | (v << 255)).to_bytes(32, "big"))


@pytest.fixture
def rich_history(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> dict[str, Any]:
    registry, council, fund, timebank = (
        system.registry,
        system.council,
        system.fund,
        system.timebank,
    )
    admin, c1, c2, c3, coordinator = accounts[:5]
    residents = accounts[4:10]
    relayer = accounts[9]
    fresh = [Account.create() for _ in range(16)]
    outsider = Account.create()

    send(w3, admin, registry.functions.createCommunity(b"\x05" * 32))
    cid = registry.functions.communityCount().call()
    for role, member in (("REGISTRAR", admin), ("COMMITTEE", c1), ("COMMITTEE", c2),
                         ("COMMITTEE", c3), ("COORDINATOR", coordinator)):  # fmt: skip
        send(w3, admin, registry.functions.grantRole(cid, ROLE[role], member.address))
    roll = [a.address for a in residents] + [a.address for a in fresh[:10]]
    send(w3, admin, registry.functions.updateRoll(cid, roll, [], True))  # v1
    # v2: five join; one leaves and rejoins in the same pending version (as if nothing happened)
    send(
        w3,
        admin,
        registry.functions.updateRoll(
            cid, [a.address for a in fresh[10:15]], [fresh[1].address], False
        ),
    )
    send(w3, admin, registry.functions.updateRoll(cid, [fresh[1].address], [], False))
    send(w3, admin, registry.functions.publishRoll(cid))  # v2

    now = w3.eth.get_block("latest")["timestamp"]
    closes = now + 3600

    def open_(kind: int, options: int, quorum: int, threshold: int, budget: int = 0) -> int:
        params = (cid, Web3.keccak(text=f"p{kind}{options}{quorum}"), kind, options, now - 1, closes,
                  quorum, threshold, budget, CNY if budget else b"\0\0\0")  # fmt: skip
        send(w3, c1, council.functions.openProposal(params))
        return int(council.functions.proposalCount().call())

    choice = open_(1, 4, 2000, 3000)  # multiple choice
    grant_for = open_(0, 3, 1000, 5000, budget=100_000)  # passes
    unattended = open_(0, 3, 9000, 5000)  # no quorum
    refused = open_(0, 3, 1000, 5000)  # rejected
    # v3 after the snapshots: fresh[2] leaves, but still votes on the proposals opened at v2.
    send(w3, admin, registry.functions.updateRoll(cid, [], [fresh[2].address], True))

    domain = BallotDomain(w3.eth.chain_id, council.address)
    batch = [_ballot(v, choice, i % 3, domain) for i, v in enumerate(fresh[2:9])]
    batch += [
        _ballot(fresh[9], choice, 7, domain),  # InvalidOption
        _forged(fresh[10], fresh[11], choice, domain),  # BadSignature
        _high_s(fresh[11], choice, domain),  # MalleableSignature
        _ballot(outsider, choice, 0, domain),  # NotOnRoll
        _ballot(fresh[2], choice, 1, domain),  # AlreadyVoted (in the same batch)
    ]
    send(w3, relayer, council.functions.castBallots(choice, batch))
    send(
        w3, relayer, council.functions.castBallots(choice, [_ballot(fresh[3], choice, 2, domain)])
    )  # AlreadyVoted
    send(w3, residents[1], council.functions.castVote(choice, 3))  # a direct vote
    send(
        w3,
        relayer,
        council.functions.castBallots(
            grant_for, [_ballot(v, grant_for, 0, domain) for v in fresh[3:8]]
        ),
    )
    send(w3, residents[2], council.functions.castVote(grant_for, 1))
    send(
        w3,
        relayer,
        council.functions.castBallots(unattended, [_ballot(fresh[3], unattended, 0, domain)]),
    )
    send(
        w3,
        relayer,
        council.functions.castBallots(
            refused, [_ballot(v, refused, 1, domain) for v in fresh[3:6]]
        ),
    )

    rpc(w3, "evm_increaseTime", [7200])
    rpc(w3, "evm_mine")
    send(
        w3, relayer, council.functions.castBallots(choice, [_ballot(fresh[12], choice, 0, domain)])
    )  # ProposalNotOpen
    for pid in (choice, grant_for, unattended, refused):
        send(w3, accounts[7], council.functions.finalize(pid))
    send(w3, c2, council.functions.recordMilestone(grant_for, b"\x09" * 32, False))

    send(w3, admin, fund.functions.setCurrency(cid, CNY))
    send(w3, admin, fund.functions.setApprovalThreshold(cid, 2))
    send(w3, c1, fund.functions.recordIncome(cid, 1, 300_000, CNY, b"\x0a" * 32))
    send(w3, c1, fund.functions.openGrant(grant_for, 100_000))
    recipient = Account.create().address
    send(
        w3,
        c1,
        fund.functions.requestPayout(grant_for, recipient, 30_000, b"\x01" * 32, b"\x02" * 32),
    )
    send(w3, c2, fund.functions.approvePayout(1))
    send(w3, c3, fund.functions.approvePayout(1))
    send(w3, c2, fund.functions.executePayout(1))
    send(
        w3,
        c2,
        fund.functions.requestPayout(grant_for, recipient, 40_000, b"\x03" * 32, b"\x04" * 32),
    )
    send(w3, c1, fund.functions.approvePayout(2))
    send(w3, c2, fund.functions.cancelPayout(2))  # cancelled by its requester
    send(
        w3,
        c3,
        fund.functions.requestPayout(grant_for, recipient, 10_000, b"\x05" * 32, b"\x06" * 32),
    )
    send(w3, c1, fund.functions.approvePayout(3))
    send(w3, c1, fund.functions.closeGrant(grant_for))  # payout 3 lapses

    tb = timebank_domain(w3.eth.chain_id, timebank.address)
    send(w3, admin, timebank.functions.setLimits(cid, -300, 3000))
    a, b, c, d = residents[1], residents[2], residents[3], residents[4]

    def record(
        provider: LocalAccount | str, recipient: LocalAccount | str, minutes: int, nonce: int
    ) -> ServiceRecord:
        p = provider if isinstance(provider, str) else provider.address
        r = recipient if isinstance(recipient, str) else recipient.address
        return ServiceRecord(
            p, r, minutes, category_code("CARE"), Web3.keccak(text=f"{p}{nonce}"), nonce
        )

    first, second = record(a, b, 60, 1), record(b, c, 30, 1)
    services = [
        sign_both(a, b, tb, cid, first),
        sign_both(b, c, tb, cid, second),
        sign_both(c, a, tb, cid, record(c, d, 20, 1)),  # WrongSigner (d's side signed by a)
        sign_both(a, b, tb, cid, first),  # NonceAlreadyUsed
        sign_both(d, c, tb, cid, record(d, c, 1000, 1)),  # BelowFloor
    ]
    send(w3, relayer, timebank.functions.recordServices(cid, [s.as_tuple() for s in services]))
    to_community = record(residents[5], COMMUNITY_ACCOUNT, 90, 1)
    send(
        w3,
        relayer,
        timebank.functions.recordService(
            cid, sign_both(residents[5], coordinator, tb, cid, to_community).as_tuple()
        ),
    )
    reason = Web3.keccak(text="wrong day")
    sigs = [sign_reversal(k, tb, record_id(cid, second), reason).as_tuple() for k in (b, c)]
    proof = TimeBankContract(w3, timebank).batch_proof(cid, second)
    assert proof is not None
    send(w3, relayer, timebank.functions.reverseService(cid, second.as_tuple(), proof.as_tuple(),
                                                         reason, *sigs))  # fmt: skip
    # The admin seat in two steps: named, replaced, withdrawn, named again and accepted.
    heir = residents[5]
    for call in (registry.functions.transferAdmin(cid, c3.address),
                 registry.functions.transferAdmin(cid, c2.address),
                 registry.functions.cancelAdminTransfer(cid),
                 registry.functions.transferAdmin(cid, heir.address)):  # fmt: skip
        send(w3, admin, call)
    send(w3, heir, registry.functions.acceptAdmin(cid))
    send(w3, heir, registry.functions.grantRole(cid, ROLE["REGISTRAR"], c3.address))
    return {"community": cid, "proposals": (choice, grant_for, unattended, refused)}


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-rules"), build_cache)


def test_every_allowed_path_audits_clean(rich_history: dict[str, Any], anvil: AnvilProcess,
                                         system: Deployment, settings: Settings, audit_dir: Path) -> None:  # fmt: skip
    result = audit_deployment(anvil, system, settings, audit_dir)
    assert result.ok, result.findings
    assert result.warnings == []
    report = result.report
    by_id = {p["id"]: p for p in report["proposals"]}
    choice, grant_for, unattended, refused = rich_history["proposals"]
    assert (
        by_id[choice]["recount_tally"] == [3, 2, 2, 1] and by_id[choice]["ballots"]["skipped"] == 7
    )
    assert [by_id[p]["onchain_outcome"] for p in (choice, grant_for, unattended, refused)] == [
        "Passed", "Passed", "NoQuorum", "Rejected"]  # fmt: skip
    assert [p["status"] for p in report["payouts"]] == ["Executed", "Cancelled", "Pending"]
    # The session's chain may hold other tests' communities: this one's fund and bank, by id.
    cid = rich_history["community"]
    (grant,) = [g for g in report["grants"] if g["proposal"] == grant_for]
    (fund,) = [f for f in report["funds"] if f["community"] == cid]
    assert grant["state"] == "Closed" and fund["total_paid"] == 30_000
    (bank,) = [b for b in report["timebank"] if b["community"] == cid]
    assert (bank["records"], bank["reversals"], bank["sum"]) == (3, 1, 0)
    assert report["summary"]["service_records_checked"] == 6
