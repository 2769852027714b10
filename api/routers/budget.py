"""Participatory budgeting: a round with its projects, votes and the selection step by step; a
signed ballot; the round as CSV and as pabulib .pb for outside tools to re-tally."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import (
    BudgetBallotIn,
    BudgetProjectIn,
    BudgetRoundOut,
    BudgetRoundsOut,
    CompletedProjectsOut,
    OnChainId,
    ReceiptOut,
)
from api.services import budget
from api.services.relay import accept
from ledger.budget.pabulib import round_as_pb
from ledger.budget.tables import ballots_csv, projects_csv

router = APIRouter(tags=["budget"])


def _file(body: str, name: str, media_type: str) -> PlainTextResponse:
    disposition = f'attachment; filename="{name}"'
    return PlainTextResponse(
        body, media_type=media_type, headers={"Content-Disposition": disposition}
    )


def _text(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {**responses(404, 503), 200: {"content": {media_type: {}}, "description": media_type}}


@router.post(
    "/budget-ballots",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Cast a signed budget ballot (gasless for the resident)",
)
async def cast_budget_ballot(body: BudgetBallotIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the voter), voting open, the chosen
    projects known, eligible, within the round's limits (and, for a knapsack round, within its
    budget), voter on the roll at its snapshot, not already voted. The same signed ballot sent
    twice gets the same receipt and lands once; a ballot the contract skips gets its reason in
    the receipt."""
    return await accept(services, "budget-ballot", body.model_dump())


@router.post(
    "/budget-rounds/{round_id}/projects",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Submit a project: its text, and the resident's signed submitProject of its hash",
)
async def submit_budget_project(
    round_id: OnChainId, body: BudgetProjectIn, request: Request, services: ServicesDep
) -> ReceiptOut:
    """The request must call `ParticipatoryBudget.submitProject(round_id, keccak256(text), cost)`
    (422 `TextMismatch`, `NotASubmission`). The text is stored (the text store's quota and size
    apply, as for `POST /texts`), then the request is checked and relayed as `POST /forward`
    does: a rule it breaks (`SubmissionNotOpen`, `ProposerNotOnRoll`, `InvalidProjectCost`,
    `RoundFull`) is answered before acknowledgement."""
    return await budget.submit_project(services, request, round_id, body)


@router.get(
    "/communities/{community_id}/budget-rounds",
    response_model=BudgetRoundsOut,
    responses=responses(503),
)
def list_budget_rounds(community_id: OnChainId, services: ServicesDep) -> BudgetRoundsOut:
    """The community's participatory budgeting rounds, newest first (from the index)."""
    return budget.rounds_of(services, community_id)


@router.get(
    "/communities/{community_id}/completed-projects",
    response_model=CompletedProjectsOut,
    responses=responses(503),
)
def list_completed_projects(community_id: OnChainId, services: ServicesDep) -> CompletedProjectsOut:
    """The community's completed budget projects (what residents may rate), newest round first."""
    return budget.completed_projects(services, community_id)


@router.get(
    "/budget-rounds/{round_id}", response_model=BudgetRoundOut, responses=responses(404, 503)
)
def get_budget_round(round_id: OnChainId, services: ServicesDep) -> BudgetRoundOut:
    return budget.budget_round(services, round_id)


@router.get(
    "/budget-rounds/{round_id}/projects.csv",
    response_class=PlainTextResponse,
    responses=_text("text/csv"),
)
def budget_projects_csv(round_id: OnChainId, services: ServicesDep) -> PlainTextResponse:
    """One row per project: cost, votes, eligible, selected."""
    body = projects_csv(budget.round_record(services, round_id))
    return _file(body, f"budget-round-{round_id}-projects.csv", "text/csv")


@router.get(
    "/budget-rounds/{round_id}/ballots.csv",
    response_class=PlainTextResponse,
    responses=_text("text/csv"),
)
def budget_ballots_csv(round_id: OnChainId, services: ServicesDep) -> PlainTextResponse:
    """One row per counted ballot, one 0/1 column per project: a column's sum is its votes."""
    body = ballots_csv(budget.round_record(services, round_id))
    return _file(body, f"budget-round-{round_id}-ballots.csv", "text/csv")


@router.get(
    "/budget-rounds/{round_id}/round.pb",
    response_class=PlainTextResponse,
    responses=_text("text/plain"),
)
def budget_round_pb(round_id: OnChainId, services: ServicesDep) -> PlainTextResponse:
    """The round in the pabulib format (pabutools and pabulib's tools read it)."""
    body = round_as_pb(budget.round_record(services, round_id))
    return _file(body, f"budget-round-{round_id}.pb", "text/plain")
