"""Elections: a community's elections, one election with its candidates' statements, its
ballots as CSV and its round-by-round count as CSV and as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import (
    MAX_OFFSET,
    ElectionBallotIn,
    ElectionOut,
    ElectionRoundsOut,
    OnChainId,
    Page,
    ReceiptOut,
)
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


@router.get("/elections", response_model=Page[ElectionOut], responses=responses(422, 503))
def list_elections(
    services: ServicesDep,
    community: Annotated[int | None, Query(ge=1, lt=2**256)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[ElectionOut]:
    """Elections, newest first (from the index; each one's state read from the chain)."""
    return elections.elections(services, community, limit, offset)


@router.get("/elections/{election_id}", response_model=ElectionOut, responses=responses(404, 503))
def get_election(election_id: OnChainId, services: ServicesDep) -> ElectionOut:
    """An election as the chain has it now, with each candidate's statement where stored
    (POST /v1/texts; the election commits to each statement's keccak256)."""
    return elections.election(services, election_id)


@router.get(
    "/elections/{election_id}/rounds",
    response_model=ElectionRoundsOut,
    responses=responses(404, 503),
)
def election_rounds(election_id: OnChainId, services: ServicesDep) -> ElectionRoundsOut:
    """The count so far, seat by seat and round by round, from the chain's events."""
    return elections.rounds(services, election_id)


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
