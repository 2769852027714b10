"""Join requests: a resident's signed request to be put on the roll, stored until a registrar
adds them. Whether one is still pending is read from the roll (the index), never kept twice."""

from __future__ import annotations

import time
from typing import Literal

from starlette.requests import Request

from api.errors import ApiError
from api.limits import client_key, quotas
from api.schemas import JoinOut, JoinRequestIn, Page
from api.services.communities import require_community, require_registrar, roll_at
from api.services.container import Services
from ledger.offchain import StoredJoin
from ledger.signing.eip712 import SignatureError
from ledger.signing.joins import JoinRequest, read_code, short_code, verify_join

# A request may be dated this far ahead of the server's clock (a phone's clock runs fast).
MAX_CLOCK_AHEAD_S = 300


def _verified(
    services: Services, community_id: int, body: JoinRequestIn
) -> tuple[JoinRequest, str]:
    if body.communityId != community_id:
        raise ApiError(
            422,
            "CommunityMismatch",
            f"the request asks to join community {body.communityId}, sent to {community_id}",
        )
    if body.issuedAt > time.time() + MAX_CLOCK_AHEAD_S:
        raise ApiError(422, "IssuedInFuture", "the request is dated ahead of now: check the clock")
    deployment = services.deployment
    try:
        request = JoinRequest.from_json(body.model_dump())
        digest = verify_join(request, deployment.chain_id, deployment.registry.address)
    except SignatureError as exc:
        raise ApiError(422, "BadSignature", str(exc)) from None
    return request, "0x" + digest.hex()


def submit(services: Services, request: Request, community_id: int, body: JoinRequestIn) -> JoinOut:
    """Store a request whose signature is the resident's own; the same request again is answered
    with what was stored (it costs no quota)."""
    require_community(services, community_id)
    join, digest = _verified(services, community_id, body)
    stored = services.store.get_join(digest)
    if (
        stored is not None
        and _expired(services, stored)
        and join.resident not in _standing(services, community_id)[0]
    ):
        raise ApiError(410, "JoinExpired", "this request expired unanswered: sign a new one")
    if stored is None:
        quotas(request).joins.take(client_key(request))
        stored = StoredJoin(
            digest=digest,
            code=short_code(bytes.fromhex(digest[2:])),
            community=community_id,
            resident=join.resident,
            issued_at=join.issued_at,
            signature="0x" + join.signature.hex(),
            received_at=time.time(),
        )
        services.store.put_join(stored)
        stored = services.store.get_join(digest) or stored
    return _out(stored, _standing(services, community_id))


def pending(
    services: Services, community_id: int, user: str, limit: int, offset: int
) -> Page[JoinOut]:
    """Unexpired requests whose resident is not on the published roll (registrar only), oldest
    first; a resident who asked more than once is listed once, by their newest request."""
    require_registrar(services, community_id, user)
    published, staged = _standing(services, community_id)
    newest: dict[str, StoredJoin] = {}
    for join in services.store.joins(community_id):
        if join.resident not in published and not _expired(services, join):
            newest.pop(join.resident, None)
            newest[join.resident] = join
    rows = sorted(newest.values(), key=lambda j: j.received_at)
    items = [_out(j, (published, staged)) for j in rows[offset : offset + limit]]
    return Page(items=items, total=len(rows), limit=limit, offset=offset)


def by_code(services: Services, request: Request, community_id: int, code: str) -> JoinOut:
    """The newest request with this short code (the code is what the resident shows), unless it
    expired before its resident was put on the roll."""
    quotas(request).join_lookups.take(client_key(request))
    require_community(services, community_id)
    try:
        normal = read_code(code)
    except ValueError as exc:
        raise ApiError(422, "MalformedJoinCode", str(exc)) from None
    found = services.store.joins_by_code(community_id, normal)
    if not found:
        raise ApiError(404, "UnknownJoin", f"no join request {normal} in community {community_id}")
    standing = _standing(services, community_id)
    if found[0].resident not in standing[0] and _expired(services, found[0]):
        raise ApiError(
            410, "JoinExpired", f"join request {normal} expired unanswered: the resident asks again"
        )
    return _out(found[0], standing)


def _expired(services: Services, join: StoredJoin) -> bool:
    return time.time() - join.received_at > services.settings.join_request_ttl_s


def _standing(services: Services, community_id: int) -> tuple[set[str], set[str]]:
    """The published roll, and the roll with the registrar's staged changes."""
    registry = services.deployment.registry.functions
    version = registry.rollSnapshot(community_id).call().version
    published = set(roll_at(services, community_id, version))
    return published, set(roll_at(services, community_id, version + 1))


def _out(join: StoredJoin, standing: tuple[set[str], set[str]]) -> JoinOut:
    published, staged = standing
    status: Literal["pending", "staged", "onRoll"] = (
        "onRoll"
        if join.resident in published
        else "staged"
        if join.resident in staged
        else "pending"
    )
    return JoinOut(
        code=join.code,
        digest=join.digest,
        community_id=join.community,
        resident=join.resident,
        issued_at=join.issued_at,
        signature=join.signature,
        received_at=join.received_at,
        status=status,
    )
