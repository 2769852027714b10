"""Join requests: a resident asks to be put on the roll; the registrar finds the request by its
short code (or lists the pending ones) and adds them on-chain from their own page or CLI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.deps import CurrentUser, ServicesDep
from api.errors import responses
from api.schemas import MAX_OFFSET, JoinOut, JoinRequestIn, OnChainId, Page
from api.services import joins

router = APIRouter(tags=["joins"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Code = Annotated[str, Path(min_length=8, max_length=9, description="XXXX-XXXX, any case")]


@router.post(
    "/communities/{community_id}/joins",
    response_model=JoinOut,
    responses=responses(404, 422, 429, 503),
    summary="Ask to join the roll (a JoinRequest signed by the resident's own key)",
)
def post_join(
    community_id: OnChainId, body: JoinRequestIn, request: Request, services: ServicesDep
) -> JoinOut:
    """Stored once its signature is checked to be the resident's own, for this chain and
    deployment (422 `BadSignature`) and community (422 `CommunityMismatch`). Sending the same
    request again answers what was stored; each new one counts against the client's hourly
    quota (429 `JoinQuotaExceeded`)."""
    return joins.submit(services, request, community_id, body)


@router.get(
    "/communities/{community_id}/joins",
    response_model=Page[JoinOut],
    responses=responses(401, 403, 404, 503),
    summary="Unexpired join requests whose resident is not on the published roll (registrar only)",
)
def list_joins(
    community_id: OnChainId,
    services: ServicesDep,
    user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[JoinOut]:
    return joins.pending(services, community_id, user, limit, offset)


@router.get(
    "/communities/{community_id}/joins/{code}",
    response_model=JoinOut,
    responses=responses(404, 410, 422, 429, 503),
    summary="A join request by its short code, and whether its resident is on the roll",
)
def get_join(
    community_id: OnChainId, code: Code, request: Request, services: ServicesDep
) -> JoinOut:
    """Check the signature yourself before adding the resident: this service is not trusted.
    Each lookup counts against the client's quota (429 `JoinLookupQuotaExceeded`); a request
    older than `COMMONS_JOIN_REQUEST_TTL_S` whose resident is not on the roll answers 410
    `JoinExpired` (the resident asks again)."""
    return joins.by_code(services, request, community_id, code)
