"""The community fund: balances, grants, payouts, and the full trail of every cent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import MAX_OFFSET, FundOut, GrantOut, OnChainId, Page, PayoutOut, TrailEntryOut
from api.services import fund

router = APIRouter(tags=["fund"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@router.get(
    "/communities/{community_id}/fund", response_model=FundOut, responses=responses(404, 503)
)
def get_fund(community_id: OnChainId, services: ServicesDep) -> FundOut:
    return fund.fund(services, community_id)


@router.get("/grants/{proposal_id}", response_model=GrantOut, responses=responses(404, 503))
def get_grant(proposal_id: OnChainId, services: ServicesDep) -> GrantOut:
    return fund.grant(services, proposal_id)


@router.get("/payouts/{request_id}", response_model=PayoutOut, responses=responses(404, 503))
def get_payout(request_id: OnChainId, services: ServicesDep) -> PayoutOut:
    return fund.payout(services, request_id)


@router.get(
    "/communities/{community_id}/fund/trail",
    response_model=Page[TrailEntryOut],
    responses=responses(404, 422, 503),
)
def fund_trail(
    community_id: OnChainId,
    services: ServicesDep,
    proposal: Annotated[
        int | None, Query(ge=1, lt=2**256, description="only this grant's steps")
    ] = None,
    recipient: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> Page[TrailEntryOut]:
    """Every step in chain order: income -> fund -> grant -> payout -> recipient."""
    entries = fund.trail(services, community_id, proposal, recipient)
    return Page(
        items=entries[offset : offset + limit], total=len(entries), limit=limit, offset=offset
    )


@router.get(
    "/communities/{community_id}/fund/trail.csv",
    response_class=PlainTextResponse,
    responses={
        **responses(404, 503),
        200: {"content": {"text/csv": {}}, "description": "the trail as CSV"},
    },
)
def fund_trail_csv(
    community_id: OnChainId,
    services: ServicesDep,
    proposal: Annotated[int | None, Query(ge=1, lt=2**256)] = None,
    recipient: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
) -> PlainTextResponse:
    body = fund.trail_csv(fund.trail(services, community_id, proposal, recipient))
    disposition = f'attachment; filename="fund-{community_id}.csv"'
    return PlainTextResponse(
        body, media_type="text/csv", headers={"Content-Disposition": disposition}
    )
