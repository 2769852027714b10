"""Members' display names: set your own, find others by name, name an address. Only for
signed-in members of the community (on its published roll, or holding a role there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import CurrentUser, ServicesDep
from api.errors import responses
from api.limits import client_key, quotas
from api.schemas import MAX_OFFSET, MemberOut, NameIn, OnChainId, Page
from api.services import members
from ledger.names import MAX_NAME_CHARS

router = APIRouter(tags=["members"])
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Search = Annotated[str, Query(max_length=MAX_NAME_CHARS)]


@router.put(
    "/communities/{community_id}/members/me/name",
    response_model=MemberOut,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="Set your own display name (members only; kept off-chain)",
)
def set_my_name(
    community_id: OnChainId,
    body: NameIn,
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
) -> MemberOut:
    """Only the signed-in member's own name, and only in a community whose published roll holds
    them or where they hold a role (403 `NotMember`). Two members may choose one name: show
    the `tag` beside it. Changes are limited per client (429 `NameQuotaExceeded`)."""
    quotas(request).names.take(client_key(request))
    return members.set_own_name(services, community_id, user, body.name)


@router.get(
    "/communities/{community_id}/members",
    response_model=Page[MemberOut],
    responses=responses(401, 403, 404, 503),
    summary="Find members by name (members only)",
)
def find_members(
    community_id: OnChainId,
    services: ServicesDep,
    user: CurrentUser,
    q: Search = "",
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[MemberOut]:
    """Names holding `q`, ignoring case and full/half width (full-width WANG finds `Wang`); all
    names when `q` is empty. Members without a name, and anyone no longer on the roll nor
    holding a role, are not listed."""
    return members.find(services, community_id, user, q, limit, offset)


@router.get(
    "/communities/{community_id}/members/{address}",
    response_model=MemberOut,
    responses=responses(401, 403, 404, 422, 503),
    summary="The display name of one address (members only)",
)
def member_name(
    community_id: OnChainId, address: str, services: ServicesDep, user: CurrentUser
) -> MemberOut:
    """404 `NoDisplayName` when the address has chosen no name in this community."""
    return members.name_of(services, community_id, user, address)
