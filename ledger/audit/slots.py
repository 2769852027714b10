"""A storage slot's name (`_proposals[3].closesAt`), from solc's storage layout.

Plain variables and struct members sit at fixed slots; a mapping's entry sits at
keccak256(key . slot) and a dynamic array's items from keccak256(slot), so naming one means
guessing its keys. The guesses come from what the transactions carried and what they told: every
32-byte word of their calldata (ids, addresses, role hashes), every sender, and every word of the
events they made each contract emit (the ids it handed out). A slot no guess explains is named by
what can be said of it: inside no variable the layout knows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger.hashing import keccak

# Items of a dynamic array looked at past its start, and nesting followed into mappings.
MAX_ARRAY_ITEMS = 4096
MAX_DEPTH = 3
# Word positions of a bitmap or of packed tallies (`_boxes[round][word]`) are in no calldata or
# event: the first 256 are guessed at a mapping's last level (a roll of 65,000 residents).
WORDS = tuple(i.to_bytes(32, "big") for i in range(256))


@dataclass
class Keys:
    """Candidate mapping keys, gathered from transactions."""

    words: set[bytes] = field(default_factory=set)  # 32-byte words, as ABI-encoded
    # Indexed event arguments: ids of any size (a budget grant's has its top bit set).
    ids: set[bytes] = field(default_factory=set)
    _typed: dict[str, list[bytes]] = field(default_factory=dict, repr=False)

    def add_calldata(self, data: bytes) -> None:
        # The call's arguments start after its 4-byte selector; a call carried inside it (a
        # forwarded request's `data`) starts 32-byte aligned in it, so its own arguments sit 4
        # bytes further on.
        for start in (4, 8):
            for i in range(start, len(data) - 31, 32):
                self.words.add(data[i : i + 32])

    def add_address(self, address: bytes) -> None:
        self.words.add(address.rjust(32, b"\0"))

    def extend(self, words: Iterable[bytes]) -> None:
        self.words.update(words)

    def add_ids(self, topics: Iterable[bytes]) -> None:
        self.ids.update(topics)
        self.words.update(topics)

    def of_type(self, key_type: str) -> list[bytes]:
        """The candidates that are valid keys of this type: addresses for an address; for an
        integer, words below 2^32 (every count on-chain is) and the ids events named; any other
        word for the rest."""
        kind = (
            "address"
            if key_type.startswith(("t_address", "t_contract"))
            else "uint"
            if key_type.startswith("t_uint")
            else "word"
        )
        typed = self._typed.get(kind)
        if typed is None:
            address = [w for w in self.words if w[:12] == bytes(12)]
            small = [w for w in address if w[:28] == bytes(28)]
            typed = {
                "address": address,
                "uint": sorted({*small, *self.ids}),
                "word": [w for w in self.words if w[:12] != bytes(12)],
            }[kind]
            self._typed[kind] = typed
        return typed


def _label(prefix: str, key: bytes, key_type: str) -> str:
    if key_type.startswith("t_address") or key_type.startswith("t_contract"):
        return f"{prefix}[0x{key[12:].hex()}]"
    if key_type.startswith("t_uint") or key_type.startswith("t_int"):
        return f"{prefix}[{int.from_bytes(key, 'big')}]"
    return f"{prefix}[0x{key.hex()}]"


class SlotNamer:
    def __init__(self, layout: dict[str, Any], keys: Keys) -> None:
        self.types: dict[str, Any] = layout.get("types") or {}
        self.vars = layout.get("storage") or []
        self.keys = keys
        # (mapping slot, key type, last level) -> {entry slot: key}: each hashed once.
        self._entries: dict[tuple[int, str, bool], dict[int, bytes]] = {}

    def _entries_of(self, base: int, key_type: str, in_place: bool) -> dict[int, bytes]:
        cache_key = (base, key_type, in_place)
        entries = self._entries.get(cache_key)
        if entries is None:
            keys = self.keys.of_type(key_type)
            if in_place and key_type.startswith("t_uint"):
                keys = sorted({*keys, *WORDS})
            prefix = base.to_bytes(32, "big")
            entries = {int.from_bytes(keccak(k + prefix), "big"): k for k in keys}
            self._entries[cache_key] = entries
        return entries

    def _size(self, type_: str) -> int:
        return -(-int(self.types.get(type_, {}).get("numberOfBytes", 32)) // 32)

    def name(self, slot: int) -> str:
        for var in self.vars:
            found = self._within(var["label"], int(var["slot"]), var["type"], slot, 0)
            if found is not None:
                return found
        return "no variable of the contract's layout"

    def _within(self, label: str, base: int, type_: str, slot: int, depth: int) -> str | None:
        info = self.types.get(type_, {})
        encoding = info.get("encoding", "inplace")
        size = -(-int(info.get("numberOfBytes", 32)) // 32)
        if encoding == "inplace":
            if not base <= slot < base + size:
                return None
            members = info.get("members")
            if members:
                for m in members:
                    found = self._within(
                        f"{label}.{m['label']}", base + int(m["slot"]), m["type"], slot, depth
                    )
                    if found is not None:
                        return found
                return label
            base_type = info.get("base")
            if base_type:  # a static array
                item = -(-int(self.types.get(base_type, {}).get("numberOfBytes", 32)) // 32)
                index = (slot - base) // item
                return (
                    self._within(f"{label}[{index}]", base + index * item, base_type, slot, depth)
                    or f"{label}[{index}]"
                )
            return label
        if depth >= MAX_DEPTH:
            return None
        if encoding == "mapping":
            key_type, value_type = info["key"], info["value"]
            # An entry whose value lies in place starts at most its size below the slot; one
            # holding a mapping or an array is only a seed for the next hash.
            in_place = self.types.get(value_type, {}).get("encoding", "inplace") == "inplace"
            entries = self._entries_of(base, key_type, in_place)
            if in_place:
                candidates = [
                    (slot - o, entries[slot - o])
                    for o in range(self._size(value_type))
                    if slot - o in entries
                ]
            else:
                candidates = list(entries.items())
            for entry, key in candidates:
                found = self._within(
                    _label(label, key, key_type), entry, value_type, slot, depth + 1
                )
                if found is not None:
                    return found
            return None
        if encoding == "dynamic_array":
            if slot == base:
                return f"{label}.length"
            start = int.from_bytes(keccak(base.to_bytes(32, "big")), "big")
            item_type = info["base"]
            item = -(-int(self.types.get(item_type, {}).get("numberOfBytes", 32)) // 32)
            if start <= slot < start + MAX_ARRAY_ITEMS * item:
                index = (slot - start) // item
                return (
                    self._within(
                        f"{label}[{index}]", start + index * item, item_type, slot, depth + 1
                    )
                    or f"{label}[{index}]"
                )
            return None
        if encoding == "bytes":
            return label if slot == base else None
        return None
