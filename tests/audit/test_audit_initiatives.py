"""The initiatives recount fed calls and events no honest Initiatives contract produces (what a
swapped contract or hand-set storage could): each broken rule must be named, and an honest
history must audit clean. The live audit of a real history with initiatives runs in
test_audit_live.py (the module's history promotes one and leaves one collecting)."""

from __future__ import annotations

from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.audit import initiatives, recount
from ledger.audit.bytecode import Build
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted
from ledger.audit.fetch import Log
from ledger.audit.state import AuditState, Community, Initiative, Member, Proposal
from ledger.hashing import checksum_address, keccak
from ledger.protocol.generated import CoSignatureSkipReason as Skip
from ledger.signing.cosignatures import CoSignatureDomain, sign_cosignature
from tests.audit.conftest import History, findings_of
from tests.audit.test_audit_live import _set_storage, _slot, _storage

ADMIN = b"\xaa" * 20
INITIATIVES = b"\x1a" * 20
COUNCIL = b"\xc0" * 20
CID, IID, CHAIN = 1, 1, 31337
RESIDENTS = [Account.from_key(keccak(f"audit-initiatives-{i}".encode())) for i in range(4)]
STRANGER = Account.from_key(keccak(b"audit-initiatives-stranger"))
RULES = [5000, 3600, 7200, 0, 5000]  # needed 2 of the 4 residents
OPENS, CLOSES = 1000, 1000 + 3600


def _ctx() -> Ctx:
    state = AuditState(next_block=0)
    community = Community(CID, ADMIN, roll_version=1, roll_size=len(RESIDENTS))
    for i, r in enumerate(RESIDENTS):
        community.members[bytes.fromhex(r.address[2:])] = Member(i, [[1, 0]])
    state.communities[CID] = community
    state.initiative_rules[CID] = list(RULES)
    state.initiatives[IID] = Initiative(
        IID, CID, ADMIN, b"\x01" * 32, 0, b"\0\0\0", 1, 4, 2, OPENS, CLOSES, list(RULES), "0x"
    )
    return Ctx(
        state=state,
        chain_id=CHAIN,
        contracts={"council": COUNCIL, "initiatives": INITIATIVES, "timebank": b"\x7b" * 20},
        abis={},
        verifier=cast(Any, None),
        in_range=lambda _: True,
        error_names={},
    )


def _raw(account: LocalAccount) -> bytes:
    return bytes.fromhex(account.address[2:])


def _signed(account: LocalAccount, signer: LocalAccount | None = None) -> dict[str, Any]:
    """A co-signature entry as coSign's calldata decodes, signed by `account`, naming `signer`."""
    domain = CoSignatureDomain(CHAIN, checksum_address(INITIATIVES))
    r, vs = sign_cosignature(account, IID, domain).call_arg()[1:]
    return {"signer": (signer or account).address, "r": r, "vs": vs}


def _digest(account: LocalAccount) -> bytes:
    separator = initiatives._domain(_ctx())
    return initiatives.cosignature_digest(separator, IID, _raw(account))


def _event(account: LocalAccount, reason: int | None) -> Log:
    topics = [IID.to_bytes(32, "big"), _raw(account).rjust(32, b"\0")]
    if reason is None:
        return Log(INITIATIVES, [initiatives.COSIGNED, *topics], _digest(account), 0)
    return Log(
        INITIATIVES, [initiatives.COSIGNATURE_SKIPPED, *topics], reason.to_bytes(32, "big"), 0
    )


def _promoted(proposal: int, count: int) -> Log:
    topics = [initiatives.PROMOTED, IID.to_bytes(32, "big"), proposal.to_bytes(32, "big")]
    return Log(INITIATIVES, topics, count.to_bytes(32, "big"), 0)


def _co_sign(ctx: Ctx, entries: list[dict[str, Any]], logs: list[Log], at: int = OPENS + 1) -> None:
    call = Call(5, at, "0x" + "22" * 32, 0, b"\x99" * 20, INITIATIVES, b"", logs, "tx")
    initiatives.co_sign(ctx, call, "coSign", {"initiativeId": IID, "coSignatures": entries})


def _rules(ctx: Ctx) -> list[str]:
    return [f.rule for f in ctx.findings]


def test_an_honest_batch_with_skips_audits_clean() -> None:
    ctx = _ctx()
    a, b = RESIDENTS[:2]
    _co_sign(
        ctx,
        [_signed(a), _signed(STRANGER), _signed(b, signer=a), _signed(a)],
        [_event(a, None), _event(STRANGER, Skip.NotOnRoll), _event(a, Skip.BadSignature),
         _event(a, Skip.AlreadyCoSigned)],
    )  # fmt: skip
    assert ctx.findings == []
    assert ctx.state.initiatives[IID].signed == {_raw(a)}


def test_a_co_signature_counted_from_outside_the_roll_is_named() -> None:
    ctx = _ctx()
    _co_sign(ctx, [_signed(STRANGER)], [_event(STRANGER, None)])
    assert _rules(ctx) == ["initiative.cosignature"]


def test_a_co_signature_counted_twice_is_named() -> None:
    ctx = _ctx()
    a = RESIDENTS[0]
    _co_sign(ctx, [_signed(a), _signed(a)], [_event(a, None), _event(a, None)])
    assert _rules(ctx) == ["initiative.cosignature"]


def test_a_co_signature_by_someone_else_counted_is_named() -> None:
    ctx = _ctx()
    a, b = RESIDENTS[:2]
    _co_sign(ctx, [_signed(b, signer=a)], [_event(a, None)])
    assert _rules(ctx) == ["initiative.cosignature"]


def test_a_co_signature_counted_after_the_window_is_named() -> None:
    ctx = _ctx()
    a = RESIDENTS[0]
    _co_sign(ctx, [_signed(a)], [_event(a, None)], at=CLOSES)
    assert _rules(ctx) == ["initiative.cosignature"]


def test_a_co_signed_event_with_another_digest_is_named() -> None:
    ctx = _ctx()
    a = RESIDENTS[0]
    wrong = _event(a, None)._replace(data=b"\x42" * 32)
    _co_sign(ctx, [_signed(a)], [wrong])
    assert _rules(ctx) == ["initiative.digest"]


def test_a_reached_threshold_without_promotion_is_named() -> None:
    ctx = _ctx()
    a, b = RESIDENTS[:2]
    _co_sign(ctx, [_signed(a), _signed(b)], [_event(a, None), _event(b, None)])
    assert _rules(ctx) == ["initiative.promotion"]


def test_a_promotion_short_of_the_threshold_is_named() -> None:
    ctx = _ctx()
    a = RESIDENTS[0]
    _co_sign(ctx, [_signed(a)], [_event(a, None), _promoted(9, 1)])
    assert _rules(ctx) == ["initiative.promotion"]


def _proposal(ctx: Ctx, pid: int, closes_after: int) -> None:
    ctx.state.proposals[pid] = Proposal(
        pid, CID, INITIATIVES, b"\x01" * 32, 0, 3, OPENS + 1, OPENS + 1 + closes_after, 0, 5000,
        0, b"\0\0\0", 1, 4, 5, "0x",
    )  # fmt: skip


def test_a_promotion_into_the_proposal_it_describes_audits_clean() -> None:
    ctx = _ctx()
    a, b = RESIDENTS[:2]
    _co_sign(ctx, [_signed(a), _signed(b)], [_event(a, None), _event(b, None), _promoted(3, 2)])
    _proposal(ctx, 3, RULES[2])
    initiatives.final_checks(ctx, 9)
    assert ctx.findings == []


def test_a_promotion_into_a_proposal_with_another_voting_period_is_named() -> None:
    ctx = _ctx()
    a, b = RESIDENTS[:2]
    _co_sign(ctx, [_signed(a), _signed(b)], [_event(a, None), _event(b, None), _promoted(3, 2)])
    _proposal(ctx, 3, 60)
    initiatives.final_checks(ctx, 9)
    assert _rules(ctx) == ["initiative.promotion"]


def test_a_proposal_in_the_initiatives_name_without_a_promotion_is_named() -> None:
    ctx = _ctx()
    _proposal(ctx, 3, RULES[2])
    initiatives.final_checks(ctx, 9)
    assert _rules(ctx) == ["initiative.promotion"]


def test_the_council_accepts_the_initiatives_contract_as_proposer() -> None:
    ctx = _ctx()
    params = {
        "communityId": CID, "textHash": b"\x01" * 32, "kind": 0, "optionCount": 3,
        "opensAt": OPENS, "closesAt": OPENS + 100, "quorumBps": 0, "thresholdBps": 5000,
        "budgetAmount": 0, "budgetCurrency": b"\0\0\0",
    }  # fmt: skip
    ev = {"proposalId": 1, "communityId": CID, "proposer": INITIATIVES, "params": params,
          "rollVersion": 1, "rollSize": 4}  # fmt: skip
    call = Call(5, OPENS, "0x" + "33" * 32, 0, INITIATIVES, COUNCIL, None, [], "trace")
    recount.proposal_opened(ctx, call, Emitted("openProposal", None, "ProposalOpened", ev))
    assert ctx.findings == []


def test_rules_set_by_someone_other_than_the_admin_are_named() -> None:
    ctx = _ctx()
    call = Call(5, OPENS, "0x" + "44" * 32, 0, b"\x99" * 20, INITIATIVES, None, [], "tx")
    ev = {"communityId": CID, "rules": RULES, "setBy": b"\x99" * 20}
    initiatives.rules_set(ctx, call, Emitted("setRules", None, "InitiativeRulesSet", ev))
    assert _rules(ctx) == ["initiative.rules"]


def test_a_submission_by_a_non_resident_with_a_wrong_threshold_is_named() -> None:
    ctx = _ctx()
    who = _raw(STRANGER)
    call = Call(5, OPENS, "0x" + "55" * 32, 0, who, INITIATIVES, None, [], "tx")
    ev = {
        "initiativeId": 2, "communityId": CID, "author": who, "textHash": b"\x02" * 32,
        "budgetAmount": 0, "budgetCurrency": b"\0\0\0", "rollVersion": 1, "rollSize": 4,
        "needed": 1, "closesAt": OPENS + RULES[1], "rules": RULES,
    }  # fmt: skip
    initiatives.submitted(ctx, call, Emitted("submit", None, "InitiativeSubmitted", ev))
    assert _rules(ctx) == ["initiative.submission", "initiative.submission"]


# ---------------------------------------------------------------------------- live


def test_a_co_signature_count_set_by_hand_is_named(fresh: History, build: Build) -> None:
    address = fresh.record["contracts"]["initiatives"]["address"]
    slot = _slot(build, "Initiatives", "_initiatives", 2, "coSignatures")
    word = _storage(fresh.w3, address, slot)
    _set_storage(fresh.w3, address, slot, word + (5 << 128))  # coSignatures: bits 128..159

    result = fresh.audit()

    assert any("initiative 2" in f.detail for f in findings_of(result, "initiative.count"))
