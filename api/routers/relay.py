"""Signed requests relayed on a person's behalf (ERC-2771), and receipts for every message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import AcksPage, Address, ForwardRequestIn, NonceOut, ReceiptOut
from api.services import relay

router = APIRouter(tags=["relay"])


@router.post(
    "/forward",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(403, 409, 413, 422, 429, 503),
    summary="Relay a signed ERC-2771 request (committee, registrar, admin actions)",
)
async def forward(body: ForwardRequestIn, services: ServicesDep) -> ReceiptOut:
    """The request is checked (signature, nonce, deadline, and a simulation of the call, which
    surfaces the contract rule it would break) before it is stored and acknowledged."""
    return await relay.accept(services, "forward", body.payload())


@router.get("/forward/nonce/{address}", response_model=NonceOut, responses=responses(422, 503))
def forward_nonce(address: Address, services: ServicesDep) -> NonceOut:
    """The nonce to sign the next forward request of `address` with: the forwarder's nonce plus
    the requests of theirs still waiting in the outbox."""
    return relay.forward_nonce(services, address)


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut, responses=responses(404))
def get_receipt(receipt_id: str, services: ServicesDep) -> ReceiptOut:
    """queued -> sent -> included -> counted (or rejected, with the reason)."""
    return relay.receipt(services, receipt_id)


@router.get(
    "/relay/acks",
    response_model=AcksPage,
    responses=responses(422, 503),
    summary="Every acknowledgement the relay signed, oldest first, for anyone to keep",
)
def relay_acks(
    services: ServicesDep,
    since: Annotated[float, Query(ge=0, description="unix time: acknowledged at or after")] = 0,
    after: Annotated[int, Query(ge=0, description="the previous page's `nextAfter`")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AcksPage:
    """What the relay promised, so a resident or an observer can save it: `commons audit
    --acks FILE` names each message acknowledged here that is not on the chain by the block
    its acknowledgement promised. Rejected messages are listed too: a promise stands."""
    return relay.acknowledgements(services, since, after, limit)
