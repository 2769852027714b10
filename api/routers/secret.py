"""Secret votes: a community's secret votes, one vote (its key, window and counts; the tally
once finalized; nothing partial before the close), a resident's signed encrypted ballot for
the relay, where a resident's ballot was counted, and the count found from the trustees' parts
for anyone to record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import MAX_OFFSET, Address, OnChainId, Page, ReceiptOut
from api.secret_schemas import (
    SecretBallotIn,
    SecretBallotInclusionOut,
    SecretTallyOut,
    SecretVoteOut,
)
from api.services import secret
from api.services.relay import accept

router = APIRouter(tags=["secret votes"])


@router.post(
    "/secret-ballots",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Cast a signed encrypted ballot (gasless for the resident)",
)
async def cast_secret_ballot(body: SecretBallotIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the voter), the vote open (its key
    generated, inside its window), 7·options + 2 words whose points are on the curve and whose
    proofs verify for this voter and vote, the voter on the roll at its snapshot, not already
    voted. The same signed ballot sent twice gets the same receipt and lands once."""
    return await accept(services, "secret-ballot", body.model_dump())


@router.get("/secret-votes", response_model=Page[SecretVoteOut], responses=responses(422, 503))
def list_secret_votes(
    services: ServicesDep,
    community: Annotated[int | None, Query(ge=1, lt=2**256)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[SecretVoteOut]:
    """Secret votes, newest first (from the index; each one's state read from the chain)."""
    return secret.votes(services, community, limit, offset)


@router.get("/secret-votes/{vote_id}", response_model=SecretVoteOut, responses=responses(404, 503))
def get_secret_vote(vote_id: OnChainId, services: ServicesDep) -> SecretVoteOut:
    """A secret vote as the chain has it now."""
    return secret.vote(services, vote_id)


@router.get(
    "/secret-votes/{vote_id}/tally",
    response_model=SecretTallyOut,
    responses=responses(404, 409, 503),
)
def secret_vote_tally(vote_id: OnChainId, services: ServicesDep) -> SecretTallyOut:
    """The count found from the trustees' published parts (anyone may then record it with
    finalizeSecretVote, through POST /v1/forward; the contract checks it before it is kept)."""
    return secret.found_tally(services, vote_id)


@router.get(
    "/secret-votes/{vote_id}/ballots/{voter}",
    response_model=SecretBallotInclusionOut,
    responses=responses(404, 422, 503),
)
def secret_ballot_inclusion(
    vote_id: OnChainId, voter: Address, services: ServicesDep
) -> SecretBallotInclusionOut:
    """Whether the resident's ballot was counted, in which transaction, batch and position,
    and whether a challenge voided it (the ballot's receipt: GET /v1/receipts/{id})."""
    return secret.inclusion(services, vote_id, voter)
