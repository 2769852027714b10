"""Proposals: texts kept off-chain with their hash check, results, ballots, milestones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import MAX_OFFSET, EventOut, OnChainId, Page, ProposalOut, TextIn, TextOut
from api.services import proposals
from api.services.events import event_page

router = APIRouter(tags=["proposals"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@router.post("/texts", status_code=201, response_model=TextOut, responses=responses(413, 422, 429))
def store_text(body: TextIn, request: Request, services: ServicesDep) -> TextOut:
    """Store a proposal's full text; its keccak256 is what the proposal commits to on-chain.
    Storing a text already stored costs nothing; a new one counts against the client's hourly
    quota (429 `TextQuotaExceeded`) and the store's total size (413 `TextStoreFull`)."""
    return proposals.store_text(services, request, body.text)


@router.get("/texts/{text_hash}", response_model=TextOut, responses=responses(404))
def get_text(text_hash: str, services: ServicesDep) -> TextOut:
    return proposals.text(services, text_hash)


@router.get("/proposals", response_model=Page[ProposalOut], responses=responses(422, 503))
def list_proposals(
    services: ServicesDep,
    community: Annotated[int | None, Query(ge=1, lt=2**256)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProposalOut]:
    """Proposals, newest first (from the index; each one's state read from the chain)."""
    return proposals.proposals(services, community, limit, offset)


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, responses=responses(404, 503))
def get_proposal(proposal_id: OnChainId, services: ServicesDep) -> ProposalOut:
    """A proposal with its tally and outcome from the chain, and its text with the hash check."""
    return proposals.proposal(services, proposal_id)


@router.get(
    "/proposals/{proposal_id}/ballots",
    response_model=Page[EventOut],
    responses=responses(404, 503),
)
def proposal_ballots(
    proposal_id: OnChainId, services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    """Counted ballots (BallotCast: voter, option, digest) in chain order."""
    where = {"proposalId": proposal_id}
    return event_page(services, "council", "BallotCast", where, limit, offset)


@router.get(
    "/proposals/{proposal_id}/milestones",
    response_model=Page[EventOut],
    responses=responses(503),
)
def proposal_milestones(
    proposal_id: OnChainId, services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    """Execution milestones with their evidence hashes, in order."""
    where = {"proposalId": proposal_id}
    return event_page(services, "council", "MilestoneRecorded", where, limit, offset)
