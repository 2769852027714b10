"""Paper ballot boxes: each poll officer's signed totals of a box, and an election's boxes with
the totals signed so far (the second officer confirms the first's, or signs their own)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import BoxTotalsIn, OnChainId, PaperBoxOut, ReceiptOut
from api.services import paper
from api.services.relay import accept

router = APIRouter(tags=["elections"])


@router.post(
    "/box-totals",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(403, 409, 413, 422, 429, 503),
    summary="Record a poll officer's signed totals of a paper box",
)
async def sign_box_totals(body: BoxTotalsIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement, in the poll office's order: the officer's signature
    (low-s), the box exists and has not counted, its election is open, POLL_OFFICER in its
    community, one nonzero count per valid pattern, no more ballots than residents assigned, and
    not this officer's second signature of the same totals. The second officer's signature of
    totals a different officer signed makes the box count; the receipt says so."""
    return await accept(services, "box-totals", body.model_dump())


@router.get(
    "/elections/{election_id}/paper-boxes",
    response_model=list[PaperBoxOut],
    responses=responses(503),
)
def election_paper_boxes(election_id: OnChainId, services: ServicesDep) -> list[PaperBoxOut]:
    """The election's paper boxes (from the index), each officer's signed totals as the chain's
    calldata holds them, and the ballots each counted box handed to Elections."""
    return paper.boxes(services, election_id)
