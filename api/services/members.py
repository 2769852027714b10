"""Members' display names: set by their owner, seen and searched only by signed-in members of
the same community (never on-chain, never logged)."""

from __future__ import annotations

from web3 import Web3

from api.errors import ApiError
from api.schemas import MemberOut, Page
from api.services.communities import require_community, roles_of, roll_at
from api.services.container import Services
from ledger.names import InvalidName, name_tag, normalise_name
from ledger.offchain import DisplayName
from ledger.protocol.generated import ROLE_NAMES


def is_member(services: Services, community_id: int, address: str) -> bool:
    """On the community's published roll, or holding one of its roles (the chain's word)."""
    registry = services.deployment.registry.functions
    if registry.isResident(community_id, address).call():
        return True
    return any(registry.hasRole(community_id, role, address).call() for role in ROLE_NAMES)


def require_member(services: Services, community_id: int, user: str) -> None:
    """404 `UnknownCommunity`; 403 `NotMember` unless `user` is a member of it."""
    require_community(services, community_id)
    if not is_member(services, community_id, user):
        raise ApiError(
            403, "NotMember", f"{user} is neither on the roll nor holds a role in {community_id}"
        )


def current_members(services: Services, community_id: int) -> set[str]:
    """Everyone on the published roll or holding a role now, replayed from the index."""
    published = services.deployment.registry.functions.rollSnapshot(community_id).call().version
    members = set(roll_at(services, community_id, published))
    for holders in roles_of(services, community_id).values():
        members.update(holders)
    return members


def member_out(stored: DisplayName) -> MemberOut:
    return MemberOut(
        address=stored.address,
        name=stored.name,
        tag=name_tag(stored.address),
        updated_at=stored.updated_at,
    )


def set_own_name(services: Services, community_id: int, user: str, raw: str) -> MemberOut:
    """The signed-in member's own name; 422 `InvalidName` (the reason, never the name)."""
    require_member(services, community_id, user)
    try:
        name = normalise_name(raw)
    except InvalidName as exc:
        raise ApiError(422, "InvalidName", str(exc)) from exc
    return member_out(services.store.put_name(community_id, user, name))


def find(
    services: Services, community_id: int, user: str, query: str, limit: int, offset: int
) -> Page[MemberOut]:
    """Current members only: someone taken off the roll (and holding no role) is not found,
    though records naming their address still show their name (`name_of`)."""
    require_member(services, community_id, user)
    members = current_members(services, community_id)
    rows = [r for r in services.store.find_names(community_id, query) if r.address in members]
    items = [member_out(r) for r in rows[offset : offset + limit]]
    return Page(items=items, total=len(rows), limit=limit, offset=offset)


def name_of(services: Services, community_id: int, user: str, address: str) -> MemberOut:
    """One address's name; 422 `InvalidAddress`, 404 `NoDisplayName`."""
    if not Web3.is_address(address):
        raise ApiError(422, "InvalidAddress", f"{address} is not an address")
    require_member(services, community_id, user)
    stored = services.store.get_name(community_id, Web3.to_checksum_address(address))
    if stored is None:
        raise ApiError(404, "NoDisplayName", f"{address} has not chosen a name here")
    return member_out(stored)
