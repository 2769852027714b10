"""Ratings: residents rate a passed proposal once its execution is completed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import Address, OnChainId, RatingIn, RatingsOut, ReceiptOut
from api.services import ratings
from api.services.relay import accept

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


@router.post(
    "/ratings",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Rate a completed proposal (gasless for the resident)",
)
async def rate(body: RatingIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: score 1 to 5 (422 `InvalidScore`), signature (low-s, by
    the rater), the proposal passed and completed (409 `ProposalNotCompleted`), within the
    ratings window (409 `RatingsClosed`), rater on the roll (422 `NotOnRoll`), not rated
    already (409 `AlreadyRated`). The same signed rating sent twice gets the same receipt."""
    return await accept(services, "rating", body.model_dump())
