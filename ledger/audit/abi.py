"""Decoding calls and events of our contracts from raw calldata and logs, by their ABIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError

from ledger.hashing import keccak
from ledger.protocol.generated import Event as ProtocolEvent


def abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


Namer = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def namer(item: dict[str, Any]) -> Namer:
    """What turns eth-abi's decoding of `item` into one read by name: a struct (tuple) becomes a
    dict keyed by its members' names, through arrays and nested structs; anything else is
    left as it is."""
    kind = str(item["type"])
    if kind.endswith("]"):
        inner = namer({**item, "type": kind[: kind.rindex("[")]})
        return _same if inner is _same else lambda values: [inner(v) for v in values]
    if kind != "tuple":
        return _same
    members = tuple((c["name"], namer(c)) for c in item["components"])
    return lambda values: {name: read(v) for (name, read), v in zip(members, values, strict=True)}


def _named(items: list[dict[str, Any]]) -> tuple[tuple[str, Namer], ...]:
    return tuple((i["name"] or f"arg{n}", namer(i)) for n, i in enumerate(items))


WordReader = Callable[[bytes], Any]


def _uint_reader(bits: int) -> WordReader:
    def read(word: bytes) -> int:
        value = int.from_bytes(word, "big")
        if value >> bits:
            raise ValueError("dirty padding")
        return value

    return read


def _int_reader(bits: int) -> WordReader:
    def read(word: bytes) -> int:
        value = int.from_bytes(word, "big", signed=True)
        if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
            raise ValueError("dirty padding")
        return value

    return read


def _bytes_reader(size: int) -> WordReader:
    def read(word: bytes) -> bytes:
        if any(word[size:]):
            raise ValueError("dirty padding")
        return word[:size]

    return read


def _read_address(word: bytes) -> str:
    if any(word[:12]):
        raise ValueError("dirty padding")
    return "0x" + word[12:].hex()


def _read_bool(word: bytes) -> bool:
    value = int.from_bytes(word, "big")
    if value > 1:
        raise ValueError("dirty padding")
    return value == 1


def _word_reader(kind: str) -> WordReader | None:
    """How eth-abi reads a one-word static type, or None for any other type."""
    if kind == "address":
        return _read_address
    if kind == "bool":
        return _read_bool
    for prefix, make in (("uint", _uint_reader), ("int", _int_reader)):
        bits = kind.removeprefix(prefix)
        if kind.startswith(prefix) and (bits.isdigit() or not bits):
            return make(int(bits or 256))
    if kind.startswith("bytes") and kind[5:].isdigit():
        return _bytes_reader(int(kind[5:]))
    return None


def word_decoder(kinds: list[str]) -> Callable[[bytes], tuple[Any, ...]]:
    """eth-abi's decoding of `kinds`, read word by word when every one is a one-word static type
    (an audit decodes one event per ballot: eth-abi's general decoder was most of its time).
    Short data or dirty padding goes to eth-abi, which raises its own error."""
    readers = [_word_reader(k) for k in kinds]
    if any(r is None for r in readers):
        return lambda data: tuple(abi_decode(kinds, data))
    static = [r for r in readers if r is not None]
    size = 32 * len(static)

    def decode(data: bytes) -> tuple[Any, ...]:
        if len(data) >= size:
            try:
                return tuple(r(data[32 * i : 32 * i + 32]) for i, r in enumerate(static))
            except ValueError:
                pass
        return tuple(abi_decode(kinds, data))

    return decode


@dataclass(frozen=True)
class Function:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    input_names: tuple[tuple[str, Namer], ...]
    outputs: tuple[str, ...]
    output_names: tuple[tuple[str, Namer], ...]

    def decode_input(self, data: bytes) -> dict[str, Any]:
        """The call's arguments by name (structs as dicts by member name)."""
        values = abi_decode(list(self.inputs), data[4:])
        return {name: read(v) for (name, read), v in zip(self.input_names, values, strict=True)}

    def encode_call(self, *args: Any) -> bytes:
        return self.selector + abi_encode(list(self.inputs), list(args))

    def decode_output(self, data: bytes) -> Any:
        """A view's answer read by name: its one value (a struct as a dict by member name), or
        a dict of its named values when it returns several."""
        values = abi_decode(list(self.outputs), data)
        if len(values) == 1:
            return self.output_names[0][1](values[0])
        return {name: read(v) for (name, read), v in zip(self.output_names, values, strict=True)}


@dataclass(frozen=True)
class Event:
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]  # (name, type)
    data: tuple[tuple[str, str], ...]
    data_names: tuple[tuple[str, Namer], ...]
    _topic_decoders: tuple[Callable[[bytes], tuple[Any, ...]], ...] = field(
        init=False, repr=False, compare=False
    )
    _data_decoder: Callable[[bytes], tuple[Any, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Indexed dynamic values are only their hash; ours are all static.
        topics = tuple(word_decoder([kind]) for _, kind in self.indexed)
        object.__setattr__(self, "_topic_decoders", topics)
        object.__setattr__(self, "_data_decoder", word_decoder([t for _, t in self.data]))

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        if len(topics) != len(self.indexed) + 1:
            raise ValueError(
                f"{self.name}: {len(topics) - 1} indexed topics, not {len(self.indexed)}"
            )
        out: dict[str, Any] = {}
        for (name, _), read, topic in zip(
            self.indexed, self._topic_decoders, topics[1:], strict=True
        ):
            out[name] = read(topic)[0]
        values = self._data_decoder(data)
        out.update((name, read(v)) for (name, read), v in zip(self.data_names, values, strict=True))
        return out


class ContractAbi:
    def __init__(self, name: str, abi: list[dict[str, Any]]) -> None:
        self.name = name
        self.functions: dict[bytes, Function] = {}
        self.by_name: dict[str, Function] = {}
        self.events: dict[bytes, Event] = {}
        self.event_by_name: dict[str, Event] = {}
        for item in abi:
            if item.get("type") == "function":
                inputs = tuple(abi_type(i) for i in item.get("inputs", []))
                signature = f"{item['name']}({','.join(inputs)})"
                fn = Function(
                    item["name"],
                    keccak(signature.encode())[:4],
                    inputs,
                    _named(item.get("inputs", [])),
                    tuple(abi_type(o) for o in item.get("outputs", [])),
                    _named(item.get("outputs", [])),
                )
                self.functions[fn.selector] = fn
                self.by_name[fn.name] = fn
            elif item.get("type") == "event" and not item.get("anonymous"):
                params = item.get("inputs", [])
                signature = f"{item['name']}({','.join(abi_type(i) for i in params)})"
                event = Event(
                    item["name"],
                    keccak(signature.encode()),
                    tuple((i["name"], abi_type(i)) for i in params if i.get("indexed")),
                    tuple((i["name"], abi_type(i)) for i in params if not i.get("indexed")),
                    _named([i for i in params if not i.get("indexed")]),
                )
                self.events[event.topic] = event
                self.event_by_name[event.name] = event

    def function_of(self, data: bytes) -> Function | None:
        return self.functions.get(bytes(data[:4]))

    def topic(self, event_name: str) -> bytes:
        return self.event_by_name[event_name].topic


def event_of(spec: ProtocolEvent) -> Event:
    """A decoder of the logs of an event ledger.protocol describes (its values by name)."""
    data = tuple((name, kind) for name, kind, indexed in spec.inputs if not indexed)
    return Event(
        spec.name,
        spec.topic,
        tuple((name, kind) for name, kind, indexed in spec.inputs if indexed),
        data,
        tuple((name, _same) for name, _ in data),
    )


def log_values(event: Event, log: Mapping[str, Any]) -> dict[str, Any] | None:
    """A JSON-RPC log's values by name, if it is a well-formed log of `event` (else None)."""
    topics = [bytes.fromhex(str(t)[2:]) for t in log.get("topics") or []]
    if not topics or topics[0] != event.topic:
        return None
    try:
        return event.decode(topics, bytes.fromhex(str(log["data"])[2:]))
    except (ValueError, DecodingError):
        return None


def error_selectors(abis: list[list[dict[str, Any]]]) -> dict[bytes, str]:
    """Custom error selector -> name, across ABIs (a skipped time-bank record carries one)."""
    out: dict[bytes, str] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "error":
                types = ",".join(abi_type(i) for i in item.get("inputs", []))
                out[keccak(f"{item['name']}({types})".encode())[:4]] = item["name"]
    return out


def address_arrays(data: bytes, heads: tuple[int, ...]) -> list[list[bytes]] | None:
    """The `address[]` values whose offsets sit at byte positions `heads` of ABI-encoded `data`
    (decoded by hand: a 100,000-resident roll is 100,000 addresses in its calldata and again in
    its events). None if the encoding is not well-formed, so the caller can fall back."""
    out: list[list[bytes]] = []
    for head in heads:
        if head + 32 > len(data):
            return None
        start = int.from_bytes(data[head : head + 32], "big")
        if start + 32 > len(data):
            return None
        count = int.from_bytes(data[start : start + 32], "big")
        end = start + 32 + 32 * count
        if end > len(data):
            return None
        words = [data[i : i + 32] for i in range(start + 32, end, 32)]
        if any(w[:12] != b"\x00" * 12 for w in words):
            return None
        out.append([w[12:] for w in words])
    return out
