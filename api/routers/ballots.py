"""Ballots: residents' signed votes, relayed in batches."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import BallotIn, ReceiptOut
from api.services.relay import accept

router = APIRouter(tags=["ballots"])


@router.post(
    "/ballots",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Cast a signed ballot (gasless for the resident)",
)
async def cast_ballot(body: BallotIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the voter), proposal open, option
    valid, voter on the roll at the proposal's snapshot, not already voted. The same signed ballot
    sent twice gets the same receipt and lands once."""
    return await accept(services, "ballot", body.model_dump())
