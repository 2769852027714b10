"""Poll officers: in-person ballots of residents present at the polling place."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import InPersonBallotIn, ReceiptOut
from api.services.relay import accept

router = APIRouter(tags=["elections"])


@router.post(
    "/in-person-ballots",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(403, 409, 413, 422, 429, 503),
    summary="Record a resident's in-person ballot, signed by a poll officer",
)
async def cast_in_person_ballot(body: InPersonBallotIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: the officer's signature (low-s) and POLL_OFFICER role in
    the election's community, then the election's rules as for an online ballot (open, choices,
    voter on the roll at its snapshot, no ballot yet by either channel). The receipt carries the
    poll office's refusal reason, or what Elections did with the ballot."""
    return await accept(services, "in-person-ballot", body.model_dump())
