"""Signed requests relayed on a person's behalf (ERC-2771), and receipts for every message."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from web3 import Web3

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import (
    AckedOut,
    AckOut,
    AcksPage,
    Address,
    ForwardRequestIn,
    NonceOut,
    ReceiptOut,
)
from api.services import Services
from ledger.errors import InvalidMessage, LedgerError
from ledger.relay.message import Receipt

router = APIRouter(tags=["relay"])


def receipt_out(r: Receipt) -> ReceiptOut:
    ack = AckOut.model_validate_json(r.ack) if r.ack else None
    return ReceiptOut(**{**r.__dict__, "ack": ack})


async def accept(services: Services, kind: str, payload: dict[str, Any]) -> ReceiptOut:
    """Check (signature, then the chain's rules), store durably, then acknowledge.

    Checks that must ask the chain run in a worker thread, so the event loop stays free; the
    common case (a ballot for a proposal whose schedule and roll are cached) runs inline, which
    spares the relay's sender thread the GIL contention of a busy thread pool.
    """
    handler = services.kinds[kind]
    message = handler.parse(payload)
    try:
        if handler.check_is_local(message):
            handler.check(message)
        else:
            await asyncio.to_thread(handler.check, message)
    except InvalidMessage:
        # The same signed message again gets the receipt it already has, whatever happened
        # since (the proposal closed, the nonce was used: by this very message). Looked up only
        # here: a repeat that still passes its checks gets its receipt from the outbox's write.
        known = services.outbox.get(message.receipt_id, missing_ok=True)
        if known is not None:
            return receipt_out(known)
        raise
    message = services.acknowledgement(handler, message)
    try:
        stored = await asyncio.wrap_future(services.outbox.submit(message))
    except LedgerError:
        # Refused (queue full) or not stored (disk full): nothing was acknowledged, so nothing
        # the check noted may stand — the voter may vote, the nonce may be used.
        handler.release(message)
        raise
    return receipt_out(stored)


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
    return await accept(services, "forward", body.payload())


@router.get("/forward/nonce/{address}", response_model=NonceOut, responses=responses(422, 503))
def forward_nonce(address: Address, services: ServicesDep) -> NonceOut:
    """The nonce to sign the next forward request of `address` with: the forwarder's nonce plus
    the requests of theirs still waiting in the outbox."""
    checksum = Web3.to_checksum_address(address)
    return NonceOut(address=checksum, nonce=services.forward_kind.next_nonce(checksum))


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut, responses=responses(404))
def get_receipt(receipt_id: str, services: ServicesDep) -> ReceiptOut:
    """queued -> sent -> included -> counted (or rejected, with the reason)."""
    return receipt_out(services.outbox.get(receipt_id))


@router.get(
    "/relay/acks",
    response_model=AcksPage,
    responses=responses(422, 503),
    summary="Every acknowledgement the relay signed, oldest first, for anyone to keep",
)
def relay_acks(
    services: ServicesDep,
    since: Annotated[float, Query(ge=0, description="unix time: acknowledged at or after")] = 0,
    after: Annotated[int, Query(ge=0, description="the previous page's `next_after`")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AcksPage:
    """What the relay promised, so a resident or an observer can save it: `commons audit
    --acks FILE` names each message acknowledged here that is not on the chain by the block
    its acknowledgement promised. Rejected messages are listed too: a promise stands."""
    rows = services.outbox.acknowledged(since, after, limit)
    items = [
        AckedOut(
            position=position,
            id=r.id,
            kind=r.kind,  # type: ignore[arg-type]
            status=r.status,  # type: ignore[arg-type]
            payload=payload,
            ack=AckOut.model_validate_json(r.ack or "{}"),
        )
        for position, r, payload in rows
    ]
    return AcksPage(items=items, next_after=rows[-1][0] if len(rows) == limit else None)
