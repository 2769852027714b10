"""The time bank: log a service, confirm it, see balances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from web3 import Web3

from api.deps import CurrentUser, ServicesDep
from api.errors import ApiError, QuotaExceeded, responses
from api.routers.communities import _require_community
from api.routers.events import event_out
from api.routers.relay import accept
from api.schemas import (
    MAX_OFFSET,
    BalanceOut,
    ConfirmServiceIn,
    EventOut,
    OnChainId,
    Page,
    PendingServiceIn,
    PendingServiceOut,
    ReceiptOut,
    SignedServiceIn,
)
from api.services import Services
from ledger.errors import InvalidMessage
from ledger.signing.eip712 import recover_typed_data
from ledger.signing.services import SERVICE_TYPES, record_id

router = APIRouter(tags=["timebank"])
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@router.post(
    "/services",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(403, 409, 413, 422, 429, 503),
    summary="Record a service signed by both sides",
)
async def record_service(body: SignedServiceIn, services: ServicesDep) -> ReceiptOut:
    return await accept(services, "service", body.model_dump())


# A full inbox clears only as its records are confirmed: ask again after this long.
INBOX_RETRY_S = 60.0


@router.post(
    "/services/pending",
    status_code=201,
    response_model=PendingServiceOut,
    responses=responses(401, 403, 422, 429),
    summary="Log a service (the provider's signed half), for the recipient to confirm",
)
def log_service(
    body: PendingServiceIn, services: ServicesDep, user: CurrentUser
) -> PendingServiceOut:
    """Only the provider, signed in, logs their own service (403 `NotProvider` otherwise): the
    inbox is not a place anyone may write into. Unconfirmed records are bounded per provider
    and per recipient (429 `TooManyPending`)."""
    if user.lower() != body.record.provider.lower():
        raise ApiError(403, "NotProvider", f"signed in as {user}, not as the provider")
    kind = services.service_kind
    # The record's parser wants both halves: the provider's stands in for the missing one.
    community, signed, provider_sig, _ = kind.read(
        {**body.model_dump(), "recipientSig": body.providerSig}
    )
    message = signed.record.message(community)
    try:
        signer = recover_typed_data(
            provider_sig, kind.domain, SERVICE_TYPES, "ServiceRecord", message
        )
    except ValueError as exc:
        raise InvalidMessage("BadSignature", str(exc)) from exc
    if signer != signed.record.provider:
        raise InvalidMessage("WrongSigner", f"provider side signed by {signer}")
    rid = "0x" + record_id(community, signed.record).hex()
    _check_inbox(services, signed.record.provider, signed.record.recipient)
    stored = body.model_dump()
    # Stored checksummed, as the per-provider count looks it up.
    stored["record"] |= {"provider": signed.record.provider}
    services.store.put_pending(rid, community, signed.record.recipient, stored)
    pending = services.store.get_pending(rid)
    assert pending is not None
    return PendingServiceOut(id=rid, **pending[0], created_at=pending[1])


def _check_inbox(services: Services, provider: str, recipient: str) -> None:
    by_provider, by_recipient = services.store.pending_counts(provider, recipient)
    limits = services.settings
    if by_provider >= limits.max_pending_per_provider:
        detail = f"{provider} has {by_provider} services waiting to be confirmed"
    elif by_recipient >= limits.max_pending_per_recipient:
        detail = f"{recipient} has {by_recipient} services waiting to confirm"
    else:
        return
    raise QuotaExceeded("TooManyPending", f"{detail}: the limit", INBOX_RETRY_S)


@router.get("/services/pending", response_model=Page[PendingServiceOut])
def pending_services(
    services: ServicesDep,
    recipient: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PendingServiceOut]:
    """Services logged for `recipient` and not yet confirmed (the community's account: use
    the zero address)."""
    rows, total = services.store.pending_for(Web3.to_checksum_address(recipient), limit, offset)
    items = [PendingServiceOut(id=rid, **body, created_at=at) for rid, body, at in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/services/pending/{record_id_}/confirm",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(403, 404, 409, 422, 429),
    summary="Confirm a logged service with the recipient's (or a coordinator's) signature",
)
async def confirm_service(
    record_id_: str, body: ConfirmServiceIn, services: ServicesDep
) -> ReceiptOut:
    pending = services.store.get_pending(record_id_)
    if pending is None:
        raise ApiError(404, "UnknownRecord", f"no logged service {record_id_}")
    receipt = await accept(services, "service", {**pending[0], "recipientSig": body.recipientSig})
    services.store.mark_confirmed(record_id_.lower())
    return receipt


@router.get(
    "/communities/{community_id}/balances",
    response_model=Page[BalanceOut],
    responses=responses(404),
)
def balances(
    community_id: OnChainId, services: ServicesDep, limit: Limit = 200, offset: Offset = 0
) -> Page[BalanceOut]:
    """Every member's minutes (and the community's own account), replayed from the time bank's
    events; they always sum to zero."""
    _require_community(services, community_id)
    totals: dict[str, int] = {}
    for e in services.index.events(
        contract="timebank",
        event=("ServiceRecorded", "ServiceReversed"),
        where={"communityId": community_id},
        limit=None,
    ):
        minutes = int(e.args["minutesServed"])
        sign = 1 if e.event == "ServiceRecorded" else -1
        totals[e.args["provider"]] = totals.get(e.args["provider"], 0) + sign * minutes
        totals[e.args["recipient"]] = totals.get(e.args["recipient"], 0) - sign * minutes
    rows = sorted(totals.items())
    items = [BalanceOut(account=a, minutes=m) for a, m in rows[offset : offset + limit]]
    return Page(items=items, total=len(rows), limit=limit, offset=offset)


@router.get(
    "/communities/{community_id}/balances/{account}",
    response_model=BalanceOut,
    responses=responses(404, 422),
)
def balance(community_id: OnChainId, account: str, services: ServicesDep) -> BalanceOut:
    """One account's balance, read from the contract itself."""
    _require_community(services, community_id)
    if not Web3.is_address(account):
        raise ApiError(422, "InvalidAddress", f"{account} is not an address")
    address = Web3.to_checksum_address(account)
    minutes = services.deployment.timebank.functions.balanceOf(community_id, address).call()
    return BalanceOut(account=address, minutes=minutes)


@router.get(
    "/communities/{community_id}/services", response_model=Page[EventOut], responses=responses(404)
)
def service_records(
    community_id: OnChainId, services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    """Recorded and reversed services, in chain order."""
    _require_community(services, community_id)
    where = {"communityId": community_id}
    names = ("ServiceRecorded", "ServiceReversed")
    rows = services.index.events(
        contract="timebank", event=names, where=where, limit=limit, offset=offset
    )
    total = services.index.count(contract="timebank", event=names, where=where)
    return Page(items=[event_out(e) for e in rows], total=total, limit=limit, offset=offset)
