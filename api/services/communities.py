"""Communities, their role holders and rolls (from the index), and the registrar's private
address-to-person links."""

from __future__ import annotations

from web3 import Web3

from api.errors import ApiError
from api.schemas import CommunityOut, Page, PersonOut
from api.services.container import Services
from ledger.offchain import Person
from ledger.protocol.generated import ROLE_NAMES, Roles


def require_community(services: Services, community_id: int) -> str:
    """The community's admin; 404 `UnknownCommunity` when there is no such community."""
    registry = services.deployment.registry.functions
    if not 1 <= community_id <= registry.communityCount().call():
        raise ApiError(404, "UnknownCommunity", f"no community {community_id}")
    admin: str = registry.communityAdmin(community_id).call()
    return admin


def roles_of(services: Services, community_id: int) -> dict[str, list[str]]:
    """Current role holders, replayed from RoleGranted / RoleRevoked events."""
    holders: dict[str, set[str]] = {name: set() for name in sorted(ROLE_NAMES.values())}
    where = {"communityId": community_id}
    for e in services.index.events(
        contract="registry", event=("RoleGranted", "RoleRevoked"), where=where, limit=None
    ):
        name = ROLE_NAMES.get(bytes(e.args["role"]))
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


def community(services: Services, community_id: int) -> CommunityOut:
    admin = require_community(services, community_id)
    registry = services.deployment.registry.functions
    snapshot = registry.rollSnapshot(community_id).call()
    return CommunityOut(
        id=community_id,
        admin=admin,
        roll_version=snapshot.version,
        roll_size=snapshot.size,
        committee_size=registry.committeeSize(community_id).call(),
        roles=roles_of(services, community_id),
    )


def roll(
    services: Services, community_id: int, version: int | None, limit: int, offset: int
) -> Page[str]:
    """The published roll (or an earlier published version); 404 for a version not published."""
    require_community(services, community_id)
    published = services.deployment.registry.functions.rollSnapshot(community_id).call().version
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


def require_registrar(services: Services, community_id: int, user: str) -> None:
    """403 `MissingRole` unless `user` holds the community's REGISTRAR role."""
    require_community(services, community_id)
    registry = services.deployment.registry.functions
    if not registry.hasRole(community_id, Roles.REGISTRAR, user).call():
        raise ApiError(403, "MissingRole", f"{user} is not a registrar of community {community_id}")


def link_person(
    services: Services, community_id: int, address: str, person: str, user: str
) -> PersonOut:
    require_registrar(services, community_id, user)
    checksum = Web3.to_checksum_address(address)
    services.store.put_person(community_id, checksum, person, user)
    stored = services.store.get_person(community_id, checksum)
    assert stored is not None
    return person_out(stored)


def people(
    services: Services, community_id: int, user: str, limit: int, offset: int
) -> Page[PersonOut]:
    require_registrar(services, community_id, user)
    rows, total = services.store.people(community_id, limit, offset)
    return Page(items=[person_out(p) for p in rows], total=total, limit=limit, offset=offset)
