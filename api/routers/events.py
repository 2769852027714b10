"""Rendering indexed events for responses."""

from __future__ import annotations

from typing import Any

from api.schemas import EventOut
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
