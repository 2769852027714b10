"""Initiatives: residents put items on the council's agenda and co-sign them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import (
    MAX_OFFSET,
    Address,
    CoSignatureIn,
    InitiativeIn,
    InitiativeOut,
    OnChainId,
    Page,
    ReceiptOut,
)
from api.services import initiatives
from api.services.relay import accept

router = APIRouter(tags=["initiatives"])

Signer = Annotated[Address | None, Query(description="say whether this address co-signed")]


@router.get("/initiatives", response_model=Page[InitiativeOut], responses=responses(422, 503))
def list_initiatives(
    services: ServicesDep,
    community: Annotated[int | None, Query(ge=1, lt=2**256)] = None,
    signer: Signer = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[InitiativeOut]:
    """Initiatives, newest first, with their text, co-signatures, threshold, deadline and state
    (open, promoted with the proposal id, expired)."""
    return initiatives.initiatives(services, community, signer, limit, offset)


@router.get(
    "/initiatives/{initiative_id}", response_model=InitiativeOut, responses=responses(404, 503)
)
def get_initiative(
    initiative_id: OnChainId, services: ServicesDep, signer: Signer = None
) -> InitiativeOut:
    return initiatives.initiative(services, initiative_id, signer)


@router.post(
    "/initiatives",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(403, 409, 413, 422, 429, 503),
    summary="Submit an initiative: its text, and the author's signed submit of its hash",
)
async def submit_initiative(
    body: InitiativeIn, request: Request, services: ServicesDep
) -> ReceiptOut:
    """The request must call `Initiatives.submit` with keccak256 of `text` (422 `TextMismatch`,
    `NotASubmission`). The text is stored (the text store's quota and size apply, as for
    `POST /texts`), then the request is checked and relayed as `POST /forward` does: a rule
    it breaks (`AuthorNotOnRoll`, `InitiativesNotEnabled`) is answered before acknowledgement."""
    return await initiatives.submit(services, request, body)


@router.post(
    "/cosignatures",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Co-sign an initiative (gasless for the resident)",
)
async def cosign(body: CoSignatureIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the signer), initiative collecting
    (409 `InitiativeNotCollecting`), signer on the roll at its snapshot (422 `NotOnRoll`), not
    co-signed already (409 `AlreadyCoSigned`). The same signed co-signature sent twice gets the
    same receipt and lands once; the batch reaching the threshold opens the council proposal."""
    return await accept(services, "cosignature", body.model_dump())
