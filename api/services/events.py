"""Indexed events as responses: one event, and a page of them."""

from __future__ import annotations

from typing import Any

from api.schemas import EventOut, Page
from api.services.container import Services
from ledger.index.codec import IndexedEvent

JS_SAFE = 2**53


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -JS_SAFE < value < JS_SAFE else str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def event_out(e: IndexedEvent) -> EventOut:
    return EventOut(
        block=e.block_number,
        tx_hash=e.tx_hash,
        log_index=e.log_index,
        event=e.event,
        args=_plain(e.args),
    )


def event_page(
    services: Services,
    contract: str,
    event: str | tuple[str, ...],
    where: dict[str, Any] | None,
    limit: int,
    offset: int,
) -> Page[EventOut]:
    """A page of one contract's indexed events, in chain order, with the total."""
    rows = services.index.events(
        contract=contract, event=event, where=where, limit=limit, offset=offset
    )
    total = services.index.count(contract=contract, event=event, where=where)
    return Page(items=[event_out(e) for e in rows], total=total, limit=limit, offset=offset)
