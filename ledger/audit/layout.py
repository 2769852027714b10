"""Where solc keeps a contract's variables (its storageLayout output) and how it packs a struct's
members into 32-byte words."""

from __future__ import annotations

from typing import Any

from ledger.hashing import keccak


class Layout:
    """Slots from solc's storageLayout output."""

    def __init__(self, layout: dict[str, Any]) -> None:
        self.vars = {v["label"]: v for v in layout.get("storage", [])}
        self.types = layout.get("types", {}) or {}

    def base(self, label: str) -> tuple[int, str]:
        var = self.vars[label]
        return int(var["slot"]), var["type"]

    def mapping(self, label: str, *keys: int | bytes) -> tuple[int, str]:
        slot, kind = self.base(label)
        for key in keys:
            raw = key.rjust(32, b"\x00") if isinstance(key, bytes) else key.to_bytes(32, "big")
            slot = int.from_bytes(keccak(raw + slot.to_bytes(32, "big")), "big")
            kind = self.types[kind]["value"]
        return slot, kind

    def members(self, struct: str) -> dict[str, tuple[int, int, int]]:
        """label -> (slot offset, byte offset, size)."""
        return {
            m["label"]: (
                int(m["slot"]),
                int(m["offset"]),
                int(self.types[m["type"]]["numberOfBytes"]),
            )
            for m in self.types[struct]["members"]
        }


def pack(fields: dict[str, tuple[int, int, int]], values: dict[str, int]) -> dict[int, int]:
    """Words (by slot offset) holding `values`, packed as solc packs struct members."""
    words: dict[int, int] = {}
    for label, value in values.items():
        slot, offset, size = fields[label]
        words[slot] = words.get(slot, 0) | ((value & ((1 << (8 * size)) - 1)) << (8 * offset))
    return words
