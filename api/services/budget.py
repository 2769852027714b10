"""Participatory budgeting rounds: one round read from the chain by name with its projects and
the selection's walk, and the round as CSV and pabulib .pb, its ballots replayed from the index
(the BudgetBallotCast events)."""

from __future__ import annotations

from fastapi import Request
from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.schemas import (
    BudgetProjectIn,
    BudgetProjectOut,
    BudgetRoundOut,
    BudgetRoundsOut,
    BudgetStepOut,
    CompletedProjectOut,
    CompletedProjectsOut,
    ReceiptOut,
)
from api.services.container import Services
from api.services.submissions import submit_text, submitted_args
from ledger.budget.grants import grant_id
from ledger.budget.record import BallotRecord, ProjectRecord, RoundRecord
from ledger.budget.selection import select
from ledger.protocol.generated import (
    BudgetProjectView,
    BudgetRoundState,
    BudgetRoundView,
    BudgetRule,
    Functions,
)


def _views(services: Services, round_id: int) -> tuple[BudgetRoundView, list[BudgetProjectView]]:
    """404 `UnknownBudgetRound` for an id no round has."""
    functions = services.deployment.budget.functions
    try:
        raw = functions.getRound(round_id).call()
        projects = functions.projects(round_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownBudgetRound", f"no round {round_id}") from exc
    return BudgetRoundView(*raw), [BudgetProjectView(*p) for p in projects]


def _walk(v: BudgetRoundView, projects: list[BudgetProjectView]) -> list[BudgetStepOut]:
    """The walk the contract ran, re-derived from its views (the audit checks it against the
    emitted steps): empty until the selection has run."""
    if v.state != BudgetRoundState.Selected:
        return []
    eligible = [not v.ineligible >> i & 1 for i in range(len(projects))]
    selection = select(v.selectionBudget, [p.cost for p in projects], [p.votes for p in projects],
                       eligible)  # fmt: skip
    return [BudgetStepOut(**step.__dict__) for step in selection.walk]


def _project(
    services: Services, round_id: int, v: BudgetRoundView, i: int, p: BudgetProjectView
) -> BudgetProjectOut:
    text_hash = "0x" + bytes(p.textHash).hex()
    return BudgetProjectOut(
        index=i,
        proposer=p.proposer,
        text_hash=text_hash,
        text=services.store.get_text(text_hash),
        cost=p.cost,
        votes=p.votes,
        eligible=not v.ineligible >> i & 1,
        selected=p.selected,
        completed=p.completed,
        ratings_id=str(grant_id(round_id, i)),
    )


def budget_round(services: Services, round_id: int) -> BudgetRoundOut:
    v, projects = _views(services, round_id)
    return BudgetRoundOut(
        round_id=round_id,
        community_id=v.communityId,
        text_hash="0x" + bytes(v.textHash).hex(),
        budget=v.budget,
        currency=bytes(v.currency).decode("ascii", "replace"),
        rule=BudgetRule(v.rule).name,
        min_projects=v.minProjects,
        max_projects=v.maxProjects,
        submission_opens_at=v.submissionOpensAt,
        submission_closes_at=v.submissionClosesAt,
        voting_opens_at=v.votingOpensAt,
        voting_closes_at=v.votingClosesAt,
        roll_version=v.rollVersion,
        roll_size=v.rollSize,
        state=BudgetRoundState(v.state).name,
        ballot_count=v.ballotCount,
        selection_budget=v.selectionBudget,
        spent=v.spent,
        projects=[_project(services, round_id, v, i, p) for i, p in enumerate(projects)],
        walk=_walk(v, projects),
    )


def round_record(services: Services, round_id: int) -> RoundRecord:
    """The round for the exports: its rules and projects from the views, its counted ballots
    from the index; the selection budget is the one the selection used (before it: the round's)."""
    v, projects = _views(services, round_id)
    events = services.index.events(
        contract="budget", event="BudgetBallotCast", where={"roundId": round_id}, limit=None
    )
    return RoundRecord(
        round_id=round_id,
        budget=v.budget,
        selection_budget=v.selectionBudget if v.state == BudgetRoundState.Selected else v.budget,
        currency=bytes(v.currency).decode("ascii", "replace"),
        rule=BudgetRule(v.rule),
        min_projects=v.minProjects,
        max_projects=v.maxProjects,
        projects=tuple(
            ProjectRecord(p.cost, "0x" + bytes(p.textHash).hex(), not v.ineligible >> i & 1)
            for i, p in enumerate(projects)
        ),
        ballots=tuple(BallotRecord(str(e.args["voter"]), int(e.args["projects"])) for e in events),
    )


def rounds_of(services: Services, community_id: int) -> BudgetRoundsOut:
    """The community's rounds by their BudgetRoundOpened events, newest first."""
    events = services.index.events(
        contract="budget", event="BudgetRoundOpened", where={"communityId": community_id},
        limit=None,
    )  # fmt: skip
    ids = sorted((int(e.args["roundId"]) for e in events), reverse=True)
    return BudgetRoundsOut(community_id=community_id, round_ids=ids)


def completed_projects(services: Services, community_id: int) -> CompletedProjectsOut:
    """Every completed project of the community's rounds, read from each round's views, so the
    committee's record needs one request rather than one per round."""
    found: list[CompletedProjectOut] = []
    for round_id in rounds_of(services, community_id).round_ids:
        v, projects = _views(services, round_id)
        found += [
            CompletedProjectOut(round_id=round_id, project=_project(services, round_id, v, i, p))
            for i, p in enumerate(projects)
            if p.completed
        ]
    return CompletedProjectsOut(community_id=community_id, projects=found)


async def submit_project(
    services: Services, request: Request, round_id: int, body: BudgetProjectIn
) -> ReceiptOut:
    """Store the project's text, then relay the resident's signed `submitProject` of its hash
    for `round_id` (422 `NotASubmission` for a call of another round): voters read the text."""
    forward = body.request.payload()
    target = services.deployment.budget.address
    submitted_round, text_hash, _ = submitted_args(forward, target, Functions.submitProject)
    if submitted_round != round_id:
        raise ApiError(
            422, "NotASubmission", f"the request submits to round {submitted_round}, not {round_id}"
        )
    return await submit_text(services, request, body.text, forward, text_hash)
