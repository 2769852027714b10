"""Ratings: residents rate a passed proposal, or a funded budget project, once its execution is
completed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import Address, OnChainId, RatingIn, RatingsOut, ReceiptOut
from api.services import ratings
from api.services.relay import accept
from ledger.budget.grants import grant_id

router = APIRouter(tags=["ratings"])


@router.get(
    "/proposals/{proposal_id}/ratings", response_model=RatingsOut, responses=responses(422, 503)
)
def proposal_ratings(
    proposal_id: OnChainId,
    services: ServicesDep,
    rater: Annotated[Address | None, Query(description="say whether this address rated")] = None,
) -> RatingsOut:
    """Count and average from the chain, the histogram of scores from its Rated events."""
    return ratings.ratings(services, proposal_id, rater)


@router.get(
    "/budget-rounds/{round_id}/projects/{index}/ratings",
    response_model=RatingsOut,
    responses=responses(422, 503),
)
def project_ratings(
    round_id: Annotated[int, Path(ge=1, lt=2**247)],
    index: Annotated[int, Path(ge=0, le=255)],
    services: ServicesDep,
    rater: Annotated[Address | None, Query(description="say whether this address rated")] = None,
) -> RatingsOut:
    """A funded budget project's ratings, which go by its grant id once a milestone recorded it
    completed; as for a proposal, count and average from the chain and the histogram from its
    Rated events."""
    return ratings.ratings(services, grant_id(round_id, index), rater)


@router.post(
    "/ratings",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Rate a completed proposal or budget project (gasless for the resident)",
)
async def rate(body: RatingIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: score 1 to 5 (422 `InvalidScore`), signature (low-s, by
    the rater), the proposal passed and completed (409 `ProposalNotCompleted`; a budget project,
    named by its grant id, completed by a milestone: 409 `ProjectNotCompleted`), within the
    ratings window (409 `RatingsClosed`), rater on the roll (422 `NotOnRoll`), not rated
    already (409 `AlreadyRated`). The same signed rating sent twice gets the same receipt."""
    return await accept(services, "rating", body.model_dump())
