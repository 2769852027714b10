"""Event decoding: a log's topics and data into named args, stored as JSON and read back.

Args are stored as JSON in ABI order with integers as decimal strings (uint256 does not fit
SQLite's integers or JSON doubles), bytes as 0x-hex, addresses checksummed, structs as objects.
Decoding is deterministic and a row carries nothing local (no insertion ids or times), so a
rebuild and an incremental sync produce identical tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple
from hexbytes import HexBytes

from ledger.hashing import checksum_address, keccak

UNKNOWN = "Unknown"
AbiItem = Mapping[str, Any]
UNKNOWN_INPUTS: tuple[AbiItem, ...] = (
    {"name": "topics", "type": "bytes32[]"},
    {"name": "data", "type": "bytes"},
)


@dataclass(frozen=True)
class IndexedEvent:
    """One decoded log. `args` holds Python values (int, bytes, str, bool, dict for structs,
    list for arrays); `json_args` the same args as stored, safe for JSON (ints as decimal
    strings, bytes as 0x-hex). Unknown logs have `event == "Unknown"` and args `topics`, `data`.
    """

    block_number: int
    log_index: int
    block_hash: str
    tx_hash: str
    tx_index: int
    timestamp: int
    contract: str
    address: str
    event: str
    signature: str
    args: dict[str, Any]
    json_args: dict[str, Any] = field(repr=False, compare=False)


class DecodedLog(NamedTuple):
    event: str
    signature: str
    args: dict[str, Any]  # JSON form


# -- ABI values <-> JSON ------------------------------------------------------------------------


def canonical_type(item: AbiItem) -> str:
    """The type as a signature spells it: a struct as (t1,t2,...)."""
    return collapse_if_tuple(dict(item))


def arg_name(item: AbiItem, position: int) -> str:
    return str(item.get("name") or f"arg{position}")


def _element(item: AbiItem) -> AbiItem:
    kind = str(item["type"])
    return {**item, "type": kind[: kind.rindex("[")]}


def to_json(item: AbiItem, value: Any) -> Any:
    """An ABI value (as eth_abi decodes it, or as a caller writes it) in its stored JSON form."""
    kind = str(item["type"])
    if kind.endswith("]"):
        if isinstance(value, str | bytes | bytearray) or not isinstance(value, Sequence):
            raise ValueError(f"{kind} needs a list, got {value!r}")
        element = _element(item)
        return [to_json(element, v) for v in value]
    if kind == "tuple":
        components = item["components"]
        if isinstance(value, Mapping):
            value = [value[arg_name(c, i)] for i, c in enumerate(components)]
        if len(value) != len(components):
            raise ValueError(f"struct needs {len(components)} fields, got {value!r}")
        return {
            arg_name(c, i): to_json(c, v)
            for i, (c, v) in enumerate(zip(components, value, strict=True))
        }
    if kind.startswith(("uint", "int")):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{kind} needs an int, got {value!r}")
        return str(int(value))
    if kind.startswith(("ufixed", "fixed")):
        return str(Decimal(value))
    if kind.startswith("bytes"):
        if not isinstance(value, str | bytes | bytearray):
            raise ValueError(f"{kind} needs bytes, got {value!r}")
        return "0x" + bytes(HexBytes(value)).hex()
    if kind == "address":
        return checksum_address(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"bool needs a bool, got {value!r}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"string needs a str, got {value!r}")
        return value
    raise ValueError(f"unsupported ABI type {kind}")


def from_json(item: AbiItem, value: Any) -> Any:
    kind = str(item["type"])
    if kind.endswith("]"):
        element = _element(item)
        return [from_json(element, v) for v in value]
    if kind == "tuple":
        return {
            arg_name(c, i): from_json(c, value[arg_name(c, i)])
            for i, c in enumerate(item["components"])
        }
    if kind.startswith(("uint", "int")):
        return int(value)
    if kind.startswith(("ufixed", "fixed")):
        return Decimal(value)
    if kind.startswith("bytes"):
        return bytes.fromhex(value[2:])
    return value


def _is_dynamic(item: AbiItem) -> bool:
    kind = str(item["type"])
    return kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("tuple")


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- decoding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    name: str
    signature: str
    topic0: bytes
    # As stored: an indexed dynamic value is only its keccak hash in the topic, hence bytes32.
    stored_inputs: tuple[AbiItem, ...]
    names: tuple[str, ...]
    indexed: tuple[bool, ...]
    topic_types: tuple[str, ...]
    data_types: tuple[str, ...]


class EventDecoder:
    """Decodes the logs of one contract with its ABI; a log it cannot name becomes Unknown."""

    def __init__(self, abi: Sequence[AbiItem]) -> None:
        self._by_topic: dict[tuple[bytes, int], EventSpec] = {}
        self.specs: dict[str, EventSpec] = {}
        for item in abi:
            # An anonymous event has no signature topic: nothing identifies its logs.
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            inputs = list(item.get("inputs", []))
            signature = f"{item['name']}({','.join(canonical_type(i) for i in inputs)})"
            indexed = tuple(bool(i.get("indexed")) for i in inputs)
            spec = EventSpec(
                name=str(item["name"]),
                signature=signature,
                topic0=keccak(signature.encode()),
                stored_inputs=tuple(
                    {"name": i.get("name", ""), "type": "bytes32"} if x and _is_dynamic(i) else i
                    for i, x in zip(inputs, indexed, strict=True)
                ),
                names=tuple(arg_name(i, n) for n, i in enumerate(inputs)),
                indexed=indexed,
                topic_types=tuple(
                    "bytes32" if _is_dynamic(i) else canonical_type(i)
                    for i, x in zip(inputs, indexed, strict=True)
                    if x
                ),
                data_types=tuple(
                    canonical_type(i) for i, x in zip(inputs, indexed, strict=True) if not x
                ),
            )
            self._by_topic[(spec.topic0, 1 + len(spec.topic_types))] = spec
            self.specs[signature] = spec

    def decode(self, topics: Sequence[bytes], data: bytes) -> DecodedLog:
        spec = self._by_topic.get((bytes(topics[0]), len(topics))) if topics else None
        if spec is not None:
            try:
                topic_values = iter(
                    abi_decode([t], bytes(topic))[0]
                    for t, topic in zip(spec.topic_types, topics[1:], strict=True)
                )
                data_values = iter(abi_decode(list(spec.data_types), bytes(data)))
                args = {
                    name: to_json(stored, next(topic_values) if x else next(data_values))
                    for name, stored, x in zip(
                        spec.names, spec.stored_inputs, spec.indexed, strict=True
                    )
                }
                return DecodedLog(spec.name, spec.signature, args)
            except DecodingError:
                pass  # same topic, other layout (e.g. a foreign contract's event): Unknown
        return DecodedLog(
            UNKNOWN,
            "0x" + bytes(topics[0]).hex() if topics else "",
            {"topics": ["0x" + bytes(t).hex() for t in topics], "data": "0x" + bytes(data).hex()},
        )

    def stored_inputs(self, signature: str) -> tuple[AbiItem, ...]:
        spec = self.specs.get(signature)
        return UNKNOWN_INPUTS if spec is None else spec.stored_inputs
