"""The budgeting audit's handlers fed events no honest contract emits (what a swapped contract
could produce): a ballot breaking the round's rules, a walk that is not the reference selection,
a tally or spending that does not follow, and a grant for a project that was not selected or for
another amount must each be named."""

from __future__ import annotations

from typing import Any, cast

from ledger.audit import budget
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted
from ledger.audit.fetch import Log
from ledger.audit.state import AuditState, Community, Member
from ledger.budget.grants import grant_id
from ledger.protocol.generated import BudgetRule

COMMITTEE, BUDGET = b"\xc1" * 20, b"\xb0" * 20
VOTERS = [bytes([i + 1]) * 20 for i in range(4)]
CID, RID = 1, 1
COSTS = [60, 50, 30]


def _ctx(available: int = 1_000) -> Ctx:
    state = AuditState(next_block=0)
    community = Community(CID, COMMITTEE, roll_version=1, roll_size=len(VOTERS))
    community.roles["COMMITTEE"].add(COMMITTEE)
    for i, voter in enumerate(VOTERS):
        community.members[voter] = Member(i, [[1, 0]])
    state.communities[CID] = community
    state.fund(CID).available = available
    return Ctx(
        state=state,
        chain_id=31337,
        contracts={"council": b"\xc0" * 20, "timebank": b"\x7b" * 20, "budget": BUDGET},
        abis={},
        verifier=cast(Any, None),
        in_range=lambda _: True,
        error_names={},
    )


def _call(actor: bytes, at: int) -> Call:
    return Call(1, at, "0x" + "11" * 32, 0, actor, BUDGET, None, [], "tx")


def _emit(ctx: Ctx, actor: bytes, at: int, name: str, **ev: Any) -> None:
    budget.handle_event(ctx, _call(actor, at), Emitted(None, None, name, {"roundId": RID, **ev}),
                        cast(Log, None))  # fmt: skip


def _voted(ballots: list[int]) -> Ctx:
    ctx = _ctx()
    params = {
        "budget": 100, "currency": b"CNY", "rule": int(BudgetRule.Knapsack), "minProjects": 1,
        "maxProjects": 3, "submissionOpensAt": 0, "submissionClosesAt": 100,
        "votingOpensAt": 100, "votingClosesAt": 200,
    }  # fmt: skip
    _emit(ctx, COMMITTEE, 10, "BudgetRoundOpened", communityId=CID, opener=COMMITTEE,
          params=params, rollVersion=1, rollSize=len(VOTERS))  # fmt: skip
    for i, cost in enumerate(COSTS):
        _emit(ctx, VOTERS[i], 20, "BudgetProjectSubmitted", index=i, proposer=VOTERS[i], cost=cost)
    for voter, bitmap in zip(VOTERS, ballots, strict=False):
        _emit(ctx, BUDGET, 150, "BudgetBallotCast", voter=voter, projects=bitmap)
    return ctx


def _walk(ctx: Ctx, steps: list[tuple[int, int, int, bool]], selected: int, spent: int) -> None:
    for index, votes, remaining, chosen in steps:
        name = "BudgetProjectSelected" if chosen else "BudgetProjectPassedOver"
        _emit(ctx, BUDGET, 300, name, index=index, votes=votes, cost=COSTS[index],
              remaining=remaining)  # fmt: skip
    _emit(ctx, BUDGET, 300, "BudgetRoundSelected", selected=selected, selectionBudget=100,
          spent=spent)  # fmt: skip


def _rules(ctx: Ctx) -> list[str]:
    return [f.rule for f in ctx.findings]


# Votes 2, 1, 2: project 2 (30) first on the tie, then 0 (60), then 1 (50) no longer fits.
BALLOTS = [0b101, 0b101, 0b010]
HONEST = [(2, 2, 70, True), (0, 2, 10, True), (1, 1, 10, False)]


def test_the_reference_walk_with_its_grants_is_clean() -> None:
    ctx = _voted(BALLOTS)
    _walk(ctx, HONEST, 0b101, 90)
    budget.grant_opened(ctx, _call(BUDGET, 300), CID, grant_id(RID, 0), 60)
    budget.grant_opened(ctx, _call(BUDGET, 300), CID, grant_id(RID, 2), 30)
    budget.final_checks(ctx, 1)
    assert ctx.findings == []


def test_a_walk_that_takes_the_costlier_project_on_a_tie_is_named() -> None:
    ctx = _voted(BALLOTS)
    _walk(ctx, [(0, 2, 40, True), (2, 2, 10, True), (1, 1, 10, False)], 0b101, 90)
    assert _rules(ctx) == ["budget.selection"]


def test_a_selection_that_counts_a_vote_the_ballots_do_not_hold_is_named() -> None:
    ctx = _voted(BALLOTS)
    _walk(ctx, [(1, 3, 50, True), (2, 2, 20, True), (0, 2, 20, False)], 0b110, 80)
    assert _rules(ctx) == ["budget.selection"]


def test_a_counted_ballot_over_the_budget_or_of_a_stranger_is_named() -> None:
    ctx = _voted([0b011])
    _emit(ctx, BUDGET, 150, "BudgetBallotCast", voter=b"\xee" * 20, projects=0b1)
    _emit(ctx, BUDGET, 150, "BudgetBallotCast", voter=VOTERS[1], projects=0b1)
    _emit(ctx, BUDGET, 150, "BudgetBallotCast", voter=VOTERS[1], projects=0b1)
    _emit(ctx, BUDGET, 250, "BudgetBallotCast", voter=VOTERS[2], projects=0b1)
    details = [f.found for f in ctx.findings if f.rule == "budget.ballot"]
    assert len(details) == 4
    assert "OverBudget" in str(details[0]) and "not on roll" in str(details[1])
    assert "second ballot" in str(details[2]) and "outside" in str(details[3])


def test_a_grant_for_a_passed_over_project_or_another_amount_and_a_missing_grant_are_named() -> (
    None
):
    ctx = _voted(BALLOTS)
    _walk(ctx, HONEST, 0b101, 90)
    budget.grant_opened(ctx, _call(BUDGET, 300), CID, grant_id(RID, 1), 50)
    budget.grant_opened(ctx, _call(BUDGET, 300), CID, grant_id(RID, 0), 61)
    budget.grant_opened(ctx, _call(COMMITTEE, 300), CID, grant_id(RID, 2), 30)
    budget.final_checks(ctx, 1)
    assert _rules(ctx) == ["budget.grant"] * 3
    ctx = _voted(BALLOTS)
    _walk(ctx, HONEST, 0b101, 90)
    budget.grant_opened(ctx, _call(BUDGET, 300), CID, grant_id(RID, 0), 60)
    budget.final_checks(ctx, 1)
    assert [f.found for f in ctx.findings] == ["none for [2]"]


def test_a_selection_budget_above_the_funds_available_is_named() -> None:
    ctx = _voted(BALLOTS)
    ctx.state.fund(CID).available = 80
    _walk(ctx, HONEST, 0b101, 90)
    assert "budget.selection" in _rules(ctx)


def _milestone(ctx: Ctx, by: bytes, index: int, n: int, completed: bool = False) -> None:
    _emit(ctx, by, 400, "BudgetProjectMilestoneRecorded", index=index, milestoneIndex=n,
          evidenceHash=b"\x09" * 32, completed=completed, recordedBy=by)  # fmt: skip


def test_milestones_of_a_passed_over_project_after_completion_or_by_a_stranger_are_named() -> None:
    ctx = _voted(BALLOTS)
    _walk(ctx, HONEST, 0b101, 90)
    _milestone(ctx, COMMITTEE, 0, 0)
    _milestone(ctx, COMMITTEE, 0, 1, completed=True)
    assert ctx.findings == []
    _milestone(ctx, COMMITTEE, 0, 2)
    _milestone(ctx, COMMITTEE, 1, 0)
    _milestone(ctx, VOTERS[0], 2, 0)
    found = [str(f.found) for f in ctx.findings if f.rule == "budget.milestone"]
    assert len(found) == 3
    assert "after its completion" in found[0] and "not selected" in found[1]
    assert "outside the committee" in found[2]
