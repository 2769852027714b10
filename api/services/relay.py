"""Accepting signed messages for the relay (every kind), receipts and acknowledgements."""

from __future__ import annotations

import asyncio
from typing import Any

from web3 import Web3

from api.schemas import AckedOut, AckOut, AcksPage, NonceOut, ReceiptOut
from api.services.container import Services
from ledger.errors import InvalidMessage, LedgerError
from ledger.relay.message import Receipt


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


def receipt(services: Services, receipt_id: str) -> ReceiptOut:
    return receipt_out(services.outbox.get(receipt_id))


def forward_nonce(services: Services, address: str) -> NonceOut:
    """The forwarder's nonce of `address` plus its requests still waiting in the outbox."""
    checksum = Web3.to_checksum_address(address)
    return NonceOut(address=checksum, nonce=services.forward_kind.next_nonce(checksum))


def acknowledgements(services: Services, since: float, after: int, limit: int) -> AcksPage:
    """A page of every acknowledgement the relay signed, oldest first."""
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
