"""Communities, roles and the resident roll; the registrar's private address-to-person links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, ServicesDep
from api.errors import responses
from api.schemas import MAX_OFFSET, CommunityOut, EventOut, OnChainId, Page, PersonIn, PersonOut
from api.services import communities
from api.services.events import event_page

router = APIRouter(tags=["communities"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@router.get("/communities", response_model=Page[EventOut], responses=responses(503))
def list_communities(
    services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    return event_page(services, "registry", "CommunityCreated", None, limit, offset)


@router.get(
    "/communities/{community_id}", response_model=CommunityOut, responses=responses(404, 503)
)
def get_community(community_id: OnChainId, services: ServicesDep) -> CommunityOut:
    return communities.community(services, community_id)


@router.get(
    "/communities/{community_id}/roll", response_model=Page[str], responses=responses(404, 503)
)
def get_roll(
    community_id: OnChainId,
    services: ServicesDep,
    version: Annotated[int | None, Query(ge=0)] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Page[str]:
    """Residents' addresses on the published roll (or at an earlier published version)."""
    return communities.roll(services, community_id, version, limit, offset)


@router.put(
    "/communities/{community_id}/people",
    response_model=PersonOut,
    responses=responses(401, 403, 404, 422, 503),
    summary="Link a roll address to a person (registrar only; kept off-chain)",
)
def put_person(
    community_id: OnChainId, body: PersonIn, services: ServicesDep, user: CurrentUser
) -> PersonOut:
    return communities.link_person(services, community_id, body.address, body.person, user)


@router.get(
    "/communities/{community_id}/people",
    response_model=Page[PersonOut],
    responses=responses(401, 403, 404, 503),
    summary="The private address-to-person links (registrar only)",
)
def get_people(
    community_id: OnChainId,
    services: ServicesDep,
    user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PersonOut]:
    return communities.people(services, community_id, user, limit, offset)
