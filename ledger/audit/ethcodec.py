"""Ethereum's byte formats, rebuilt from a node's JSON: RLP, keccak, signed transaction envelopes
(legacy, EIP-2930, EIP-1559, EIP-4844, EIP-7702), block headers, receipts and ordered tries.

The auditor recomputes each hash itself instead of taking the node's word for it: a transaction's
fields must hash to its hash and recover to its sender, a header's fields to the block hash, and a
block's transactions and receipts to the roots its header commits to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import coincurve

from ledger.hashing import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2
EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")


class CodecError(ValueError):
    """Fields that cannot form the structure they claim to (unknown tx type, bad RLP...)."""


# --------------------------------------------------------------------------------- hex helpers


def hex_bytes(value: str | None) -> bytes:
    """0x-hex to bytes (None and "0x" to b"")."""
    if not value:
        return b""
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def to_hex(data: bytes) -> str:
    """bytes to 0x-hex, as JSON-RPC wants data."""
    return "0x" + data.hex()


def hex_int(value: str | int | None) -> int:
    """0x-hex quantity to int (None to 0)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(value, 16)


def int_bytes(value: int) -> bytes:
    """Minimal big-endian bytes of a non-negative int (0 -> b""), as RLP wants quantities."""
    if value < 0:
        raise CodecError("negative quantity")
    return value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""


# ----------------------------------------------------------------------------------------- RLP


_PREFIXES: dict[tuple[int, int], bytes] = {}


def _length_prefix(length: int, short: int) -> bytes:
    # Memoized: a large election's receipts repeat the same few lengths a hundred thousand times.
    key = (length, short)
    prefix = _PREFIXES.get(key)
    if prefix is None:
        if length < 56:
            prefix = bytes([short + length])
        else:
            size = int_bytes(length)
            prefix = bytes([short + 55 + len(size)]) + size
        if len(_PREFIXES) < 65_536:
            _PREFIXES[key] = prefix
    return prefix


def rlp_bytes(data: bytes) -> bytes:
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _length_prefix(len(data), 0x80) + data


def rlp_list_payload(payload: bytes) -> bytes:
    """An RLP list around already-encoded items."""
    return _length_prefix(len(payload), 0xC0) + payload


RlpItem = bytes | int | Sequence[Any]


def rlp_encode(item: RlpItem) -> bytes:
    """RLP of bytes, non-negative ints (as minimal big-endian) and nested lists of them."""
    if isinstance(item, bytes | bytearray):
        return rlp_bytes(bytes(item))
    if isinstance(item, int):
        return rlp_bytes(int_bytes(item))
    return rlp_list_payload(b"".join(rlp_encode(x) for x in item))


def rlp_decode(data: bytes) -> Any:
    """Decode one RLP item (bytes or nested lists of bytes); the whole input must be used."""
    item, end = _rlp_decode_at(data, 0)
    if end != len(data):
        raise CodecError("trailing bytes after RLP item")
    return item


def _rlp_decode_at(data: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise CodecError("RLP input too short")
    first = data[pos]
    if first < 0x80:
        return data[pos : pos + 1], pos + 1
    if first < 0xB8:
        end = pos + 1 + first - 0x80
        return _slice(data, pos + 1, end), end
    if first < 0xC0:
        size_len = first - 0xB7
        length = int.from_bytes(_slice(data, pos + 1, pos + 1 + size_len), "big")
        start = pos + 1 + size_len
        return _slice(data, start, start + length), start + length
    if first < 0xF8:
        start, end = pos + 1, pos + 1 + first - 0xC0
    else:
        size_len = first - 0xF7
        length = int.from_bytes(_slice(data, pos + 1, pos + 1 + size_len), "big")
        start = pos + 1 + size_len
        end = start + length
    if end > len(data):
        raise CodecError("RLP list runs past the input")
    items = []
    while start < end:
        item, start = _rlp_decode_at(data, start)
        items.append(item)
    if start != end:
        raise CodecError("RLP list length mismatch")
    return items, end


def _slice(data: bytes, start: int, end: int) -> bytes:
    if end > len(data):
        raise CodecError("RLP string runs past the input")
    return data[start:end]


# ---------------------------------------------------------------------------------- signatures


class _Recovery(threading.local):
    """libsecp256k1 recovery through its C API with buffers allocated once per thread: about
    10% faster than coincurve's wrapper, which matters at 100,000 signatures."""

    def __init__(self) -> None:
        from coincurve._libsecp256k1 import ffi, lib
        from coincurve.context import GLOBAL_CONTEXT

        self.lib = lib
        self.ctx = GLOBAL_CONTEXT.ctx
        self.signature = ffi.new("secp256k1_ecdsa_recoverable_signature *")
        self.public = ffi.new("secp256k1_pubkey *")
        self.out = ffi.new("unsigned char[65]")
        self.out_len = ffi.new("size_t *")
        self.buffer = ffi.buffer(self.out, 65)

    def recover(self, digest: bytes, compact: bytes, recid: int) -> bytes | None:
        lib = self.lib
        if not lib.secp256k1_ecdsa_recoverable_signature_parse_compact(
            self.ctx, self.signature, compact, recid
        ):
            return None
        if not lib.secp256k1_ecdsa_recover(self.ctx, self.public, self.signature, digest):
            return None
        self.out_len[0] = 65
        lib.secp256k1_ec_pubkey_serialize(
            self.ctx, self.out, self.out_len, self.public, lib.SECP256K1_EC_UNCOMPRESSED
        )
        return keccak(self.buffer[1:])[12:]


try:
    _recovery: _Recovery | None = _Recovery()
except Exception:  # pragma: no cover - coincurve without its C API exposed
    _recovery = None


def recover_address(digest: bytes, recid: int, r: int, s: int) -> bytes | None:
    """The 20-byte address that signed `digest`, or None if the signature is invalid."""
    if recid not in (0, 1) or not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        return None
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if _recovery is not None:
        return _recovery.recover(digest, compact, recid)
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            compact + bytes([recid]), digest, hasher=None
        )
    except Exception:
        return None
    return keccak(public.format(compressed=False)[1:])[12:]


def recover_compact(digest: bytes, r: bytes, vs: bytes) -> tuple[bytes | None, bool]:
    """EIP-2098 (r, vs) recovery as our contracts do it: (signer or None, low_s)."""
    value = int.from_bytes(vs, "big")
    s = value & ((1 << 255) - 1)
    if s > HALF_N:
        return None, False
    return recover_address(digest, value >> 255, int.from_bytes(r, "big"), s), True


# -------------------------------------------------------------------------------- transactions


def _access_list(items: list[dict[str, Any]] | None) -> list[Any]:
    return [
        [hex_bytes(i["address"]), [hex_bytes(k) for k in i.get("storageKeys", [])]]
        for i in items or []
    ]


def _authorizations(items: list[dict[str, Any]] | None) -> list[Any]:
    return [
        [
            hex_int(a["chainId"]),
            hex_bytes(a["address"]),
            hex_int(a["nonce"]),
            hex_int(a.get("yParity", a.get("v"))),
            hex_int(a["r"]),
            hex_int(a["s"]),
        ]
        for a in items or []
    ]


def tx_envelope(tx: dict[str, Any]) -> tuple[bytes, bytes, int, int, int]:
    """(signed envelope, signing payload, recovery id, r, s) of a JSON-RPC transaction.

    The envelope is what the transaction hash and the block's transaction trie are computed over;
    the payload is what the sender signed.
    """
    kind = hex_int(tx.get("type", "0x0"))
    to = hex_bytes(tx.get("to"))
    data = hex_bytes(tx.get("input") or tx.get("data"))
    r, s = hex_int(tx["r"]), hex_int(tx["s"])
    if kind == 0:
        v = hex_int(tx["v"])
        fields = [
            hex_int(tx["nonce"]),
            hex_int(tx["gasPrice"]),
            hex_int(tx["gas"]),
            to,
            hex_int(tx["value"]),
            data,
        ]
        envelope = rlp_encode([*fields, v, r, s])
        if v >= 35:
            chain_id = (v - 35) // 2
            return envelope, rlp_encode([*fields, chain_id, 0, 0]), v - 35 - 2 * chain_id, r, s
        return envelope, rlp_encode(fields), v - 27, r, s
    y_parity = hex_int(tx.get("yParity", tx.get("v")))
    common_1559 = [
        hex_int(tx["chainId"]),
        hex_int(tx["nonce"]),
        hex_int(tx["maxPriorityFeePerGas"]) if kind >= 2 else hex_int(tx["gasPrice"]),
    ]
    if kind == 1:
        unsigned = [
            *common_1559,
            hex_int(tx["gas"]),
            to,
            hex_int(tx["value"]),
            data,
            _access_list(tx.get("accessList")),
        ]
    elif kind in (2, 3, 4):
        unsigned = [
            *common_1559,
            hex_int(tx["maxFeePerGas"]),
            hex_int(tx["gas"]),
            to,
            hex_int(tx["value"]),
            data,
            _access_list(tx.get("accessList")),
        ]
        if kind == 3:
            unsigned += [
                hex_int(tx["maxFeePerBlobGas"]),
                [hex_bytes(h) for h in tx.get("blobVersionedHashes", [])],
            ]
        elif kind == 4:
            unsigned.append(_authorizations(tx.get("authorizationList")))
    else:
        raise CodecError(f"unsupported transaction type {kind}")
    prefix = bytes([kind])
    return (
        prefix + rlp_encode([*unsigned, y_parity, r, s]),
        prefix + rlp_encode(unsigned),
        y_parity,
        r,
        s,
    )


def tx_sender(tx: dict[str, Any]) -> tuple[bytes, bytes | None]:
    """(tx hash recomputed from the fields, recovered sender or None)."""
    envelope, payload, recid, r, s = tx_envelope(tx)
    return keccak(envelope), recover_address(keccak(payload), recid, r, s)


# ------------------------------------------------------------------------------- headers, logs

# Header fields in RLP order; the optional tail is present from the fork that introduced it on.
_HEADER_FIELDS: tuple[tuple[str, Callable[[Any], RlpItem]], ...] = (
    ("parentHash", hex_bytes),
    ("sha3Uncles", hex_bytes),
    ("miner", hex_bytes),
    ("stateRoot", hex_bytes),
    ("transactionsRoot", hex_bytes),
    ("receiptsRoot", hex_bytes),
    ("logsBloom", hex_bytes),
    ("difficulty", hex_int),
    ("number", hex_int),
    ("gasLimit", hex_int),
    ("gasUsed", hex_int),
    ("timestamp", hex_int),
    ("extraData", hex_bytes),
    ("mixHash", hex_bytes),
    ("nonce", hex_bytes),
)
_HEADER_OPTIONAL: tuple[tuple[str, Callable[[Any], RlpItem]], ...] = (
    ("baseFeePerGas", hex_int),
    ("withdrawalsRoot", hex_bytes),
    ("blobGasUsed", hex_int),
    ("excessBlobGas", hex_int),
    ("parentBeaconBlockRoot", hex_bytes),
    ("requestsHash", hex_bytes),
)


def header_hash(block: dict[str, Any]) -> bytes:
    fields: list[RlpItem] = [conv(block[name]) for name, conv in _HEADER_FIELDS]
    for name, conv in _HEADER_OPTIONAL:
        if block.get(name) is None:
            break
        fields.append(conv(block[name]))
    return keccak(rlp_encode(fields))


def encode_log(address: bytes, topics: Sequence[bytes], data: bytes) -> bytes:
    """RLP of one log [address, [topics], data], written out for speed (receipts hold many).
    Topics are 32 bytes each (the node's JSON says so; a shorter one changes the encoding)."""
    if topics:
        topic_payload = b"\xa0" + b"\xa0".join(topics)
        if len(topic_payload) != 33 * len(topics):
            topic_payload = b"".join(rlp_bytes(t) for t in topics)
    else:
        topic_payload = b""
    size = len(data)
    encoded_data = data if size == 1 and data[0] < 0x80 else _length_prefix(size, 0x80) + data
    body = (
        b"\x94" + address + _length_prefix(len(topic_payload), 0xC0) + topic_payload + encoded_data
    )
    return _length_prefix(len(body), 0xC0) + body


def encode_receipt(receipt: dict[str, Any], encoded_logs: Sequence[bytes]) -> bytes:
    """The consensus encoding of a receipt (what the receipts trie holds)."""
    status = receipt.get("status")
    first = int_bytes(hex_int(status)) if status is not None else hex_bytes(receipt.get("root"))
    payload = (
        rlp_bytes(first)
        + rlp_bytes(int_bytes(hex_int(receipt["cumulativeGasUsed"])))
        + rlp_bytes(hex_bytes(receipt["logsBloom"]))
        + rlp_list_payload(b"".join(encoded_logs))
    )
    kind = hex_int(receipt.get("type", "0x0"))
    body = rlp_list_payload(payload)
    return body if kind == 0 else bytes([kind]) + body


# -------------------------------------------------------------------------------- ordered trie


def hex_prefix(nibbles: str, leaf: bool) -> bytes:
    """Hex-prefix encoding of a path given as hex digits (one per nibble)."""
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        return bytes.fromhex(f"{flag + 1:x}{nibbles}")
    return bytes.fromhex(f"{flag:x}0{nibbles}")


def _ref(encoded: bytes) -> bytes:
    """How a parent holds a child node: embedded under 32 bytes, else by its hash."""
    return encoded if len(encoded) < 32 else b"\xa0" + keccak(encoded)


_EMPTY = b"\x80"


def _node(pairs: list[tuple[str, bytes]], depth: int) -> bytes:
    """The RLP of the node over `pairs`, sorted by key, whose keys agree up to `depth`.
    Sorted, the keys sharing a nibble at `depth` lie together, and the prefix all keys share is
    the one the first and the last share; nodes are encoded as they are built, never as nested
    lists (a storage trie of 200,000 words: one pass per level)."""
    if len(pairs) == 1:
        key, value = pairs[0]
        return rlp_list_payload(rlp_bytes(hex_prefix(key[depth:], True)) + rlp_bytes(value))
    first, last = pairs[0][0], pairs[-1][0]
    common, limit = 0, min(len(first), len(last)) - depth
    while common < limit and first[depth + common] == last[depth + common]:
        common += 1
    if common:
        child = _node(pairs, depth + common)
        path = rlp_bytes(hex_prefix(first[depth : depth + common], False))
        return rlp_list_payload(path + _ref(child))
    branch = [_EMPTY] * 17
    start = 0
    if len(first) == depth:  # a key ending here sorts first; its value sits in the branch
        branch[16] = rlp_bytes(pairs[0][1])
        start = 1
    while start < len(pairs):
        nibble = pairs[start][0][depth]
        end = start + 1
        while end < len(pairs) and pairs[end][0][depth] == nibble:
            end += 1
        branch[int(nibble, 16)] = _ref(_node(pairs[start:end], depth + 1))
        start = end
    return rlp_list_payload(b"".join(branch))


def trie_root(items: dict[bytes, bytes]) -> bytes:
    """Root of the trie holding `items` (key -> value, both as stored: a storage trie's keys are
    keccak(slot), its values rlp(value))."""
    if not items:
        return EMPTY_TRIE_ROOT
    return keccak(_node(sorted((k.hex(), v) for k, v in items.items()), 0))


def ordered_trie_root(values: Sequence[bytes]) -> bytes:
    """Root of the trie keyed by rlp(index): a block's transactions or receipts root."""
    if not values:
        return EMPTY_TRIE_ROOT
    pairs = sorted((rlp_encode(i).hex(), v) for i, v in enumerate(values))
    return keccak(_node(pairs, 0))
