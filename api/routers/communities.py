"""Communities, roles and the resident roll; the registrar's private address-to-person links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from web3 import Web3

from api.deps import CurrentUser, ServicesDep
from api.errors import ApiError, responses
from api.routers.events import event_out
from api.schemas import MAX_OFFSET, CommunityOut, EventOut, OnChainId, Page, PersonIn, PersonOut
from api.services import Services
from ledger.offchain import Person

router = APIRouter(tags=["communities"])

ROLES = {
    bytes(Web3.keccak(text=name)): name
    for name in ("COMMITTEE", "REGISTRAR", "COORDINATOR", "AUDITOR")
}
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _require_community(services: Services, community_id: int) -> str:
    count = services.deployment.registry.functions.communityCount().call()
    if not 1 <= community_id <= count:
        raise ApiError(404, "UnknownCommunity", f"no community {community_id}")
    admin: str = services.deployment.registry.functions.communityAdmin(community_id).call()
    return admin


def roles_of(services: Services, community_id: int) -> dict[str, list[str]]:
    """Current role holders, replayed from RoleGranted / RoleRevoked events."""
    holders: dict[str, set[str]] = {name: set() for name in ROLES.values()}
    where = {"communityId": community_id}
    for e in services.index.events(
        contract="registry", event=("RoleGranted", "RoleRevoked"), where=where, limit=None
    ):
        name = ROLES.get(bytes(e.args["role"]))
        if name is None:
            continue
        if e.event == "RoleGranted":
            holders[name].add(e.args["account"])
        else:
            holders[name].discard(e.args["account"])
    return {name: sorted(accounts) for name, accounts in holders.items()}


def roll_at(services: Services, community_id: int, version: int) -> list[str]:
    """The roll as published at `version`, replayed from RollUpdated events."""
    members: set[str] = set()
    for e in services.index.events(
        contract="registry", event="RollUpdated", where={"communityId": community_id}, limit=None
    ):
        if int(e.args["version"]) <= version:
            members.difference_update(e.args["removed"])
            members.update(e.args["added"])
    return sorted(members)


@router.get("/communities", response_model=Page[EventOut])
def list_communities(
    services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    rows = services.index.events(
        contract="registry", event="CommunityCreated", limit=limit, offset=offset
    )
    total = services.index.count(contract="registry", event="CommunityCreated")
    return Page(items=[event_out(e) for e in rows], total=total, limit=limit, offset=offset)


@router.get("/communities/{community_id}", response_model=CommunityOut, responses=responses(404))
def get_community(community_id: OnChainId, services: ServicesDep) -> CommunityOut:
    admin = _require_community(services, community_id)
    registry = services.deployment.registry.functions
    version, size = registry.rollSnapshot(community_id).call()
    return CommunityOut(
        id=community_id,
        admin=admin,
        roll_version=version,
        roll_size=size,
        committee_size=registry.committeeSize(community_id).call(),
        roles=roles_of(services, community_id),
    )


@router.get("/communities/{community_id}/roll", response_model=Page[str], responses=responses(404))
def get_roll(
    community_id: OnChainId,
    services: ServicesDep,
    version: Annotated[int | None, Query(ge=0)] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Page[str]:
    """Residents' addresses on the published roll (or at an earlier published version)."""
    _require_community(services, community_id)
    published, _ = services.deployment.registry.functions.rollSnapshot(community_id).call()
    if version is not None and version > published:
        raise ApiError(
            404, "UnknownRollVersion", f"version {version} is not published (latest {published})"
        )
    members = roll_at(services, community_id, published if version is None else version)
    return Page(
        items=members[offset : offset + limit], total=len(members), limit=limit, offset=offset
    )


def person_out(p: Person) -> PersonOut:
    return PersonOut(
        address=p.address, person=p.person, recorded_by=p.recorded_by, recorded_at=p.recorded_at
    )


def _require_registrar(services: Services, community_id: int, user: str) -> None:
    _require_community(services, community_id)
    registrar = Web3.keccak(text="REGISTRAR")
    if not services.deployment.registry.functions.hasRole(community_id, registrar, user).call():
        raise ApiError(403, "MissingRole", f"{user} is not a registrar of community {community_id}")


@router.put(
    "/communities/{community_id}/people",
    response_model=PersonOut,
    responses=responses(401, 403, 404, 422),
    summary="Link a roll address to a person (registrar only; kept off-chain)",
)
def put_person(
    community_id: OnChainId, body: PersonIn, services: ServicesDep, user: CurrentUser
) -> PersonOut:
    _require_registrar(services, community_id, user)
    address = Web3.to_checksum_address(body.address)
    services.store.put_person(community_id, address, body.person, user)
    stored = services.store.get_person(community_id, address)
    assert stored is not None
    return person_out(stored)


@router.get(
    "/communities/{community_id}/people",
    response_model=Page[PersonOut],
    responses=responses(401, 403, 404),
    summary="The private address-to-person links (registrar only)",
)
def get_people(
    community_id: OnChainId,
    services: ServicesDep,
    user: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PersonOut]:
    _require_registrar(services, community_id, user)
    people, total = services.store.people(community_id, limit, offset)
    return Page(items=[person_out(p) for p in people], total=total, limit=limit, offset=offset)
