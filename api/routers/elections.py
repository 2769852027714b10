"""Elections: one election, and its ballots and round-by-round count as CSV."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import ElectionBallotIn, ElectionOut, OnChainId, ReceiptOut
from api.services import elections
from api.services.relay import accept

router = APIRouter(tags=["elections"])

_CSV = {**responses(404, 503), 200: {"content": {"text/csv": {}}, "description": "CSV"}}


def _csv(body: str, name: str) -> PlainTextResponse:
    disposition = f'attachment; filename="{name}"'
    return PlainTextResponse(
        body, media_type="text/csv", headers={"Content-Disposition": disposition}
    )


@router.post(
    "/election-ballots",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Cast a signed election ballot (gasless for the resident)",
)
async def cast_election_ballot(body: ElectionBallotIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the voter), election open, the
    choices well formed for its kind, voter on the roll at its snapshot, not already voted. The
    same signed ballot sent twice gets the same receipt and lands once; a ballot the contract
    skips gets its reason in the receipt."""
    return await accept(services, "election-ballot", body.model_dump())


@router.get("/elections/{election_id}", response_model=ElectionOut, responses=responses(404, 503))
def get_election(election_id: OnChainId, services: ServicesDep) -> ElectionOut:
    return elections.election(services, election_id)


@router.get(
    "/elections/{election_id}/ballots.csv", response_class=PlainTextResponse, responses=_CSV
)
def election_ballots_csv(election_id: OnChainId, services: ServicesDep) -> PlainTextResponse:
    """Every counted ballot, in the order the contract stored and counts them."""
    body = elections.ballots_csv(services, election_id)
    return _csv(body, f"election-{election_id}-ballots.csv")


@router.get("/elections/{election_id}/rounds.csv", response_class=PlainTextResponse, responses=_CSV)
def election_rounds_csv(election_id: OnChainId, services: ServicesDep) -> PlainTextResponse:
    """The count round by round: votes, transfers, exhausted ballots, eliminations."""
    body = elections.rounds_csv(services, election_id)
    return _csv(body, f"election-{election_id}-rounds.csv")
