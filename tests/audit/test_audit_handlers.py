"""The audit's rule handlers fed events no honest contract emits (what a swapped contract or a
hand-set storage word could produce): each must be named. Events are made up here; the live
tests make the same faults for real where the chain allows it."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ledger.audit import funds, recount, registry, timebank
from ledger.audit.chain import Call
from ledger.audit.context import Ctx
from ledger.audit.fetch import Log
from ledger.audit.state import AuditState, Community, Member, Proposal
from ledger.currency import is_currency_code
from ledger.hashing import keccak
from ledger.signing.digests import ballot_digest

ADMIN, HEIR, STRANGER = b"\xaa" * 20, b"\xbb" * 20, b"\xcc" * 20
TIMEBANK = b"\x7b" * 20
CID = 1


def _ctx() -> Ctx:
    state = AuditState(next_block=0)
    state.communities[CID] = Community(CID, ADMIN)
    return Ctx(
        state=state,
        chain_id=31337,
        contracts={"council": b"\xc0" * 20, "timebank": TIMEBANK},
        abis={},
        verifier=cast(Any, None),
        in_range=lambda _: True,
        error_names={},
    )


def _call(actor: bytes, logs: list[Log] | None = None) -> Call:
    return Call(1, 0, "0x" + "11" * 32, 0, actor, TIMEBANK, None, logs or [], "tx")


def _admin_event(ctx: Ctx, actor: bytes, name: str, **fields: bytes) -> None:
    ev: dict[str, Any] = {"communityId": CID, **fields}
    registry.handle(ctx, _call(actor), None, None, name, ev)


def _rules(ctx: Ctx) -> list[str]:
    return [f.rule for f in ctx.findings]


def test_admin_handover_named_then_accepted_audits_clean() -> None:
    ctx = _ctx()
    _admin_event(ctx, ADMIN, "AdminTransferStarted", admin=ADMIN, pendingAdmin=STRANGER)
    _admin_event(ctx, ADMIN, "AdminTransferStarted", admin=ADMIN, pendingAdmin=HEIR)
    _admin_event(ctx, HEIR, "AdminTransferred", previousAdmin=ADMIN, newAdmin=HEIR)
    assert ctx.findings == []
    assert ctx.state.communities[CID].admin == HEIR


def test_admin_taken_by_an_account_never_named_is_named() -> None:
    ctx = _ctx()
    _admin_event(ctx, STRANGER, "AdminTransferred", previousAdmin=ADMIN, newAdmin=STRANGER)
    assert _rules(ctx) == ["registry.permission"]
    assert "never named" in ctx.findings[0].detail


def test_admin_taken_after_the_offer_was_withdrawn_is_named() -> None:
    ctx = _ctx()
    _admin_event(ctx, ADMIN, "AdminTransferStarted", admin=ADMIN, pendingAdmin=HEIR)
    _admin_event(ctx, ADMIN, "AdminTransferCancelled", admin=ADMIN, pendingAdmin=HEIR)
    _admin_event(ctx, HEIR, "AdminTransferred", previousAdmin=ADMIN, newAdmin=HEIR)
    assert _rules(ctx) == ["registry.permission"]


def test_admin_offer_made_by_someone_not_the_admin_is_named() -> None:
    ctx = _ctx()
    _admin_event(ctx, STRANGER, "AdminTransferStarted", admin=STRANGER, pendingAdmin=STRANGER)
    assert set(_rules(ctx)) == {"registry.permission"}


# ---------------------------------------------------------------- time-bank batch commitments


def _recorded_log(provider: bytes, recipient: bytes, minutes: int, nonce: int) -> Log:
    data = (
        minutes.to_bytes(32, "big")
        + b"CARE".ljust(32, b"\0")
        + b"\x01" * 32
        + nonce.to_bytes(32, "big")
    )
    topics = [timebank.SERVICE_RECORDED, CID.to_bytes(32, "big"), provider.rjust(32, b"\0"),
              recipient.rjust(32, b"\0")]  # fmt: skip
    return Log(TIMEBANK, topics, data, 0)


def _commit_log(batch_id: int, root: bytes, count: int) -> Log:
    topics = [timebank.BATCH_COMMITTED, CID.to_bytes(32, "big"), batch_id.to_bytes(32, "big")]
    return Log(TIMEBANK, topics, root + count.to_bytes(32, "big"), 1)


def _ids(*logs: Log) -> list[bytes]:
    return [
        timebank.record_id(CID, (log.topics[2][12:], log.topics[3][12:],
                                 int.from_bytes(log.data[:32], "big"), log.data[32:40],
                                 log.data[64:96], int.from_bytes(log.data[96:128], "big")))
        for log in logs
    ]  # fmt: skip


def test_batch_commitment_rebuilt_from_events_audits_clean() -> None:
    ctx = _ctx()
    recorded = [_recorded_log(ADMIN, HEIR, 30, 0), _recorded_log(HEIR, ADMIN, 5, 0)]
    commit = _commit_log(1, keccak(b"".join(_ids(*recorded))), 2)
    call = _call(STRANGER, [*recorded, commit])
    timebank._commit_from_events(ctx, call, CID, commit)
    assert ctx.findings == []
    assert ctx.state.timebank_batches == {1: commit.data[:32]}


def test_batch_commitment_to_other_ids_is_named() -> None:
    ctx = _ctx()
    recorded = [_recorded_log(ADMIN, HEIR, 30, 0)]
    forged = keccak(b"".join(_ids(_recorded_log(ADMIN, STRANGER, 300, 0))))
    commit = _commit_log(1, forged, 1)
    timebank._commit_from_events(ctx, _call(STRANGER, [*recorded, commit]), CID, commit)
    assert _rules(ctx) == ["timebank.batch"]
    # The audit keeps its own root, not the one the event claims.
    assert ctx.state.timebank_batches[1] == keccak(_ids(*recorded)[0])


def test_reversal_proof_against_a_root_the_audit_never_rebuilt_is_named() -> None:
    ctx = _ctx()
    real = _ids(_recorded_log(ADMIN, HEIR, 30, 0))
    ctx.state.timebank_batches[1] = keccak(real[0])
    fake = _ids(_recorded_log(ADMIN, STRANGER, 300, 0))[0]
    timebank._check_proof(ctx, _call(ADMIN), fake, (1, [fake], 0))  # a root set by hand
    timebank._check_proof(ctx, _call(ADMIN), fake, (1, real, 0))  # the real batch, other id
    timebank._check_proof(ctx, _call(ADMIN), real[0], (1, real, 0))  # the real record
    assert _rules(ctx) == ["timebank.reversal", "timebank.reversal"]


# ---------------------------------------------------------------- currency codes


@pytest.mark.parametrize(
    ("code", "valid"),
    [(b"CNY", True), (b"AAA", True), (b"ZZZ", True), (b"cny", False), (b"CN1", False),
     (b"123", False), (b"CN\x00", False), (b"C Y", False), (b"EURO", False), (b"EU", False)],
)  # fmt: skip
def test_fund_currency_is_judged_by_the_contracts_rule(code: bytes, valid: bool) -> None:
    assert is_currency_code(code) is valid
    ctx = _ctx()
    ev = {"communityId": CID, "currency": code, "setBy": ADMIN}
    funds.handle(ctx, _call(ADMIN), "setCurrency", None, "FundCurrencySet", ev)
    assert _rules(ctx) == ([] if valid else ["fund.currency"])


# ---------------------------------------------------------------- BallotSkipped


def _ballot_log(topic: bytes, pid: int, voter: bytes, data: bytes) -> Log:
    return Log(b"\xc0" * 20, [topic, pid.to_bytes(32, "big"), voter.rjust(32, b"\0")], data, 0)


def test_a_skip_naming_a_voter_is_not_their_ballot() -> None:
    """Anyone can make the contract emit BallotSkipped naming any voter (a ballot with a bad
    signature): the audit counts it as a skip, never as the voter's turnout or vote, and the
    voter's own ballot afterwards counts."""
    ctx = _ctx()
    ctx.state.communities[CID].members[HEIR] = Member(0, [[1, 0]])
    p = Proposal(7, CID, ADMIN, b"\x01" * 32, 0, 3, 0, 2**40, 0, 5000, 0, b"\0\0\0", 1, 1, 1, "")
    p.tally, p.event_tally = [0, 0, 0], [0, 0, 0]
    ctx.state.proposals[7] = p
    skip = _ballot_log(recount.BALLOT_SKIPPED, 7, HEIR, (3).to_bytes(32, "big"))  # BadSignature
    recount.ballot_event_only(ctx, _call(STRANGER, [skip]), skip)
    assert (p.skipped, p.voted, p.tally) == (1, set(), [0, 0, 0])
    digest = ballot_digest(ctx.council_domain, 7, HEIR, 2)
    cast = _ballot_log(recount.BALLOT_CAST, 7, HEIR, (2).to_bytes(32, "big") + digest)
    recount.ballot_event_only(ctx, _call(HEIR, [cast]), cast)
    assert ctx.findings == []
    assert (p.voted, p.tally) == ({HEIR}, [0, 0, 1])


# ------------------------------------------------------------------ auditors' report keys

KEY, OTHER_KEY = b"\x01" * 32, b"\x02" * 32
AUDITOR_ = b"\xad" * 20


def _key_event(ctx: Ctx, actor: bytes, name: str, **fields: Any) -> None:
    registry.handle(ctx, _call(actor), None, None, name, {"communityId": CID, **fields})


def _auditor_ctx() -> Ctx:
    ctx = _ctx()
    ctx.state.communities[CID].roles["AUDITOR"].add(AUDITOR_)
    return ctx


def test_auditor_key_registered_and_revoked_by_the_rules_audits_clean() -> None:
    ctx = _auditor_ctx()
    _key_event(ctx, AUDITOR_, "AuditorKeyRegistered", auditor=AUDITOR_, keyFingerprint=KEY)
    _key_event(ctx, AUDITOR_, "AuditorKeyRegistered", auditor=AUDITOR_, keyFingerprint=OTHER_KEY)
    _key_event(
        ctx, AUDITOR_, "AuditorKeyRevoked", auditor=AUDITOR_, keyFingerprint=KEY, sender=AUDITOR_
    )
    _key_event(
        ctx, ADMIN, "AuditorKeyRevoked", auditor=AUDITOR_, keyFingerprint=OTHER_KEY, sender=ADMIN
    )
    assert ctx.findings == []
    keys = ctx.state.auditor_keys
    assert keys[KEY].auditor == AUDITOR_ and keys[KEY].revoked_at == 1


def test_auditor_key_registered_by_an_account_without_the_role_is_named() -> None:
    ctx = _auditor_ctx()
    _key_event(ctx, STRANGER, "AuditorKeyRegistered", auditor=STRANGER, keyFingerprint=KEY)
    assert _rules(ctx) == ["registry.auditor_key"]
    assert "without the AUDITOR role" in ctx.findings[0].detail


def test_auditor_key_registered_for_another_account_is_named() -> None:
    ctx = _auditor_ctx()
    _key_event(ctx, STRANGER, "AuditorKeyRegistered", auditor=AUDITOR_, keyFingerprint=KEY)
    assert _rules(ctx) == ["event.actor"]


def test_auditor_key_registered_twice_keeps_its_first_auditor() -> None:
    ctx = _auditor_ctx()
    ctx.state.communities[CID].roles["AUDITOR"].add(HEIR)
    _key_event(ctx, AUDITOR_, "AuditorKeyRegistered", auditor=AUDITOR_, keyFingerprint=KEY)
    _key_event(ctx, HEIR, "AuditorKeyRegistered", auditor=HEIR, keyFingerprint=KEY)
    assert _rules(ctx) == ["registry.auditor_key"]
    assert "registered twice" in ctx.findings[0].detail
    assert ctx.state.auditor_keys[KEY].auditor == AUDITOR_


def test_auditor_key_revoked_by_a_stranger_twice_or_unregistered_is_named() -> None:
    ctx = _auditor_ctx()
    _key_event(ctx, AUDITOR_, "AuditorKeyRegistered", auditor=AUDITOR_, keyFingerprint=KEY)
    _key_event(
        ctx, STRANGER, "AuditorKeyRevoked", auditor=AUDITOR_, keyFingerprint=KEY, sender=STRANGER
    )
    _key_event(
        ctx, AUDITOR_, "AuditorKeyRevoked", auditor=AUDITOR_, keyFingerprint=KEY, sender=AUDITOR_
    )
    _key_event(
        ctx, ADMIN, "AuditorKeyRevoked", auditor=AUDITOR_, keyFingerprint=OTHER_KEY, sender=ADMIN
    )
    details = [f.detail for f in ctx.findings]
    assert _rules(ctx) == ["registry.auditor_key"] * 3, details
    assert "by an account that may not" in details[0]
    assert "revoked twice" in details[1] and "revoked unregistered" in details[2]
