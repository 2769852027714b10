"""The ratings recount fed calls and events no honest Ratings contract produces: each broken rule
is named, and an honest batch audits clean, for a proposal and for a budget project (named by its
grant id). The live history (tests/audit/conftest.py) rates a completed proposal;
test_audit_live.py's clean report covers it."""

from __future__ import annotations

from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.audit import ratings
from ledger.audit.bytecode import Build
from ledger.audit.chain import Call
from ledger.audit.context import Ctx
from ledger.audit.fetch import Log
from ledger.audit.state import AuditState, BudgetRound, Community, Member, Proposal
from ledger.budget.grants import grant_id
from ledger.hashing import checksum_address, keccak
from ledger.protocol.generated import ExecutionStatus, Outcome
from ledger.protocol.generated import RatingSkipReason as Skip
from ledger.signing.ratings import RatingDomain, sign_rating
from tests.audit.conftest import History, findings_of
from tests.audit.test_audit_live import _set_storage, _slot, _storage

RATINGS = b"\x2a" * 20
CID, PID, CHAIN, AT = 1, 7, 31337, 5000
RID, INDEX = 4, 2
PROJECT = grant_id(RID, INDEX)
RESIDENTS = [Account.from_key(keccak(f"audit-ratings-{i}".encode())) for i in range(3)]
STRANGER = Account.from_key(keccak(b"audit-ratings-stranger"))


def _raw(account: LocalAccount) -> bytes:
    return bytes.fromhex(account.address[2:])


def _ctx(*, completed: bool = True) -> Ctx:
    state = AuditState(next_block=0)
    community = Community(CID, b"\xaa" * 20, roll_version=1, roll_size=len(RESIDENTS))
    for i, r in enumerate(RESIDENTS):
        community.members[_raw(r)] = Member(i, [[1, 0]])
    state.communities[CID] = community
    p = Proposal(PID, CID, b"\xaa" * 20, b"\x01" * 32, 0, 3, 0, 10, 0, 5000, 0, b"\0\0\0", 1, 3,
                 1, "0x")  # fmt: skip
    p.outcome = Outcome.Passed
    p.execution = ExecutionStatus.Completed if completed else ExecutionStatus.InProgress
    state.proposals[PID] = p
    return Ctx(
        state=state,
        chain_id=CHAIN,
        contracts={"council": b"\xc0" * 20, "ratings": RATINGS, "timebank": b"\x7b" * 20},
        abis={},
        verifier=cast(Any, None),
        in_range=lambda _: True,
        error_names={},
    )


def _signed(
    account: LocalAccount, score: int, rater: LocalAccount | None = None, pid: int = PID
) -> dict[str, Any]:
    domain = RatingDomain(CHAIN, checksum_address(RATINGS))
    s = sign_rating(account, pid, score, bytes(32), domain)
    _, _, _, r, vs = s.call_arg()
    return {"rater": (rater or account).address, "score": score, "commentHash": bytes(32),
            "r": r, "vs": vs, "digest": s.digest}  # fmt: skip


def _opened(
    version: int = 1, size: int = 3, closes: int = AT + ratings.RATING_PERIOD, pid: int = PID
) -> Log:
    topics = [ratings.OPENED, pid.to_bytes(32, "big"), CID.to_bytes(32, "big")]
    data = b"".join(v.to_bytes(32, "big") for v in (version, size, closes))
    return Log(RATINGS, topics, data, 0)


def _event(entry: dict[str, Any], reason: int | None, pid: int = PID) -> Log:
    topics = [pid.to_bytes(32, "big"), bytes.fromhex(entry["rater"][2:]).rjust(32, b"\0")]
    if reason is None:
        data = entry["score"].to_bytes(32, "big") + bytes(32) + entry["digest"]
        return Log(RATINGS, [ratings.RATED, *topics], data, 0)
    return Log(RATINGS, [ratings.RATING_SKIPPED, *topics], reason.to_bytes(32, "big"), 0)


def _rate(
    ctx: Ctx, entries: list[dict[str, Any]], logs: list[Log], at: int = AT, pid: int = PID
) -> None:
    call = Call(9, at, "0x" + "66" * 32, 0, b"\x99" * 20, RATINGS, b"", logs, "tx")
    ratings.rate(ctx, call, "rate", {"proposalId": pid, "ratings": entries})


def _rules(ctx: Ctx) -> list[str]:
    return [f.rule for f in ctx.findings]


def test_an_honest_batch_with_skips_audits_clean() -> None:
    ctx = _ctx()
    a, b = RESIDENTS[:2]
    good, bad_score, outsider = _signed(a, 5), _signed(b, 6), _signed(STRANGER, 3)
    _rate(
        ctx,
        [good, bad_score, outsider, good],
        [_opened(), _event(good, None), _event(bad_score, Skip.InvalidScore),
         _event(outsider, Skip.NotOnRoll), _event(good, Skip.AlreadyRated)],
    )  # fmt: skip
    ratings.final_checks(ctx, 10)
    assert ctx.findings == []
    assert ctx.state.rating_rounds[PID].score_sum == 5


def test_ratings_opened_before_completion_are_named() -> None:
    ctx = _ctx(completed=False)
    good = _signed(RESIDENTS[0], 4)
    _rate(ctx, [good], [_opened(), _event(good, None)])
    assert "rating.open" in _rules(ctx)


def test_ratings_opened_with_a_longer_window_are_named() -> None:
    ctx = _ctx()
    good = _signed(RESIDENTS[0], 4)
    _rate(ctx, [good], [_opened(closes=AT + 10 * ratings.RATING_PERIOD), _event(good, None)])
    assert _rules(ctx) == ["rating.open"]


def test_a_forged_or_late_or_out_of_range_rating_counted_is_named() -> None:
    ctx = _ctx()
    a, b = RESIDENTS[:2]
    forged = _signed(b, 5, rater=a)
    zero = _signed(b, 0)
    _rate(ctx, [forged, zero], [_opened(), _event(forged, None), _event(zero, None)])
    late = _signed(RESIDENTS[2], 3)
    _rate(ctx, [late], [_event(late, None)], at=AT + ratings.RATING_PERIOD)
    assert _rules(ctx) == ["rating.judged"] * 3


def test_a_rated_event_with_another_digest_is_named() -> None:
    ctx = _ctx()
    good = _signed(RESIDENTS[0], 4)
    _rate(ctx, [good], [_opened(), _event({**good, "digest": b"\x42" * 32}, None)])
    assert _rules(ctx) == ["rating.digest"]


def _with_project(ctx: Ctx, *, completed: bool) -> Ctx:
    """`ctx` with budget round RID of community CID, whose project INDEX a milestone completed
    or not (selected and funded either way: the rebuilt round's completion is what counts)."""
    r = BudgetRound(RID, CID, 500, b"CNY", 0, 1, 3, 0, 10, 10, 20, 1, costs=[100, 100, 100])
    r.selected, r.granted, r.milestones = 0b111, {INDEX: 100}, {INDEX: 1}
    if completed:
        r.completed.add(INDEX)
    ctx.state.budget_rounds[RID] = r
    return ctx


def test_an_honest_batch_on_a_completed_budget_project_audits_clean() -> None:
    ctx = _with_project(_ctx(), completed=True)
    a, b = RESIDENTS[:2]
    good, other, again = (_signed(a, 4, pid=PROJECT), _signed(b, 2, pid=PROJECT),
                          _signed(a, 5, pid=PROJECT))  # fmt: skip
    _rate(
        ctx,
        [good, other, again],
        [_opened(pid=PROJECT), _event(good, None, PROJECT), _event(other, None, PROJECT),
         _event(again, Skip.AlreadyRated, PROJECT)],
        pid=PROJECT,
    )  # fmt: skip
    ratings.final_checks(ctx, 10)
    assert ctx.findings == []
    round_ = ctx.state.rating_rounds[PROJECT]
    assert (round_.community, round_.score_sum, len(round_.raters)) == (CID, 6, 2)


def test_a_budget_projects_ratings_opened_before_completion_or_in_no_round_are_named() -> None:
    for ctx in (_with_project(_ctx(), completed=False), _ctx()):  # under way; no such round
        good = _signed(RESIDENTS[0], 4, pid=PROJECT)
        _rate(ctx, [good], [_opened(pid=PROJECT), _event(good, None, PROJECT)], pid=PROJECT)
        opened = [f for f in ctx.findings if f.rule == "rating.open"]
        assert [f.found for f in opened] == ["1 RatingsOpened, not completed"]
        assert f"budget project {INDEX} of round {RID}" in opened[0].detail


def test_a_proposal_completed_does_not_open_the_budget_project_sharing_its_low_bits() -> None:
    """The proposal with id RID << 8 | INDEX is completed, the project is not: the grant id's top
    bit keeps the two apart."""
    ctx = _ctx()
    ctx.state.proposals[RID << 8 | INDEX] = ctx.state.proposals.pop(PID)
    good = _signed(RESIDENTS[0], 4, pid=PROJECT)
    _rate(ctx, [good], [_opened(pid=PROJECT), _event(good, None, PROJECT)], pid=PROJECT)
    assert _rules(ctx)[:1] == ["rating.open"]


def test_a_rating_count_set_by_hand_is_named(fresh: History, build: Build) -> None:
    address = fresh.record["contracts"]["ratings"]["address"]
    pid = fresh.made["proposals"]["playground"]
    slot = _slot(build, "Ratings", "_rounds", pid, "count")
    word = _storage(fresh.w3, address, slot)
    _set_storage(fresh.w3, address, slot, word + (1 << 168))  # count: bits 168..199

    result = fresh.audit()

    assert any(f"proposal {pid}" in f.detail for f in findings_of(result, "rating.count"))
