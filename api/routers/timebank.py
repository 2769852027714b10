"""The time bank: log a service, confirm it, see balances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, ServicesDep
from api.errors import responses
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
from api.services import timebank
from api.services.relay import accept

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
    return timebank.log_service(services, body.model_dump(), user)


@router.get("/services/pending", response_model=Page[PendingServiceOut])
def pending_services(
    services: ServicesDep,
    recipient: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[PendingServiceOut]:
    """Services logged for `recipient` and not yet confirmed (the community's account: use
    the zero address)."""
    return timebank.pending_for(services, recipient, limit, offset)


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
    return await timebank.confirm(services, record_id_, body.recipientSig)


@router.get(
    "/communities/{community_id}/balances",
    response_model=Page[BalanceOut],
    responses=responses(404, 503),
)
def balances(
    community_id: OnChainId, services: ServicesDep, limit: Limit = 200, offset: Offset = 0
) -> Page[BalanceOut]:
    """Every member's minutes (and the community's own account), replayed from the time bank's
    events; they always sum to zero."""
    return timebank.balances(services, community_id, limit, offset)


@router.get(
    "/communities/{community_id}/balances/{account}",
    response_model=BalanceOut,
    responses=responses(404, 422, 503),
)
def balance(community_id: OnChainId, account: str, services: ServicesDep) -> BalanceOut:
    """One account's balance, read from the contract itself."""
    return timebank.balance(services, community_id, account)


@router.get(
    "/communities/{community_id}/services",
    response_model=Page[EventOut],
    responses=responses(404, 503),
)
def service_records(
    community_id: OnChainId, services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    """Recorded and reversed services, in chain order."""
    return timebank.records(services, community_id, limit, offset)
