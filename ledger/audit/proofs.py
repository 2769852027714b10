"""Merkle-Patricia proofs (EIP-1186 `eth_getProof`) checked in Python against a state root.

A node can answer `eth_getStorageAt` with anything; a proof cannot lie without breaking a hash.
`verify_account` walks the account proof from the block's stateRoot to the account's
[nonce, balance, storageRoot, codeHash]; `verify_storage` walks a storage proof from that
storageRoot to a slot's value. Both return the proven value (an absent key proves zero/empty) and
raise ProofError when a node does not hash to its reference or the path does not lead anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.audit.ethcodec import (
    EMPTY_TRIE_ROOT,
    CodecError,
    hex_bytes,
    hex_int,
    int_bytes,
    rlp_decode,
    rlp_encode,
)
from ledger.hashing import keccak

EMPTY_CODE_HASH = keccak(b"")


class ProofError(ValueError):
    """The proof does not prove anything about the root it is checked against."""


def _nibbles(key: bytes) -> list[int]:
    out: list[int] = []
    for byte in key:
        out += (byte >> 4, byte & 0x0F)
    return out


def _decode_path(encoded: bytes) -> tuple[list[int], bool]:
    """Hex-prefix decoding: (nibbles, is_leaf)."""
    if not encoded:
        raise ProofError("empty hex-prefix path")
    flag = encoded[0] >> 4
    if flag > 3:
        raise ProofError(f"bad hex-prefix flag {flag}")
    nibbles = _nibbles(encoded)[2 - (flag & 1) :]
    return nibbles, flag >= 2


def verify_proof(root: bytes, key: bytes, proof: list[bytes]) -> bytes | None:
    """The value stored under `key` (already hashed: keccak(address) or keccak(slot)) in the trie
    with `root`, or None if the proof shows there is none. Every proof node must be used."""
    path = _nibbles(key)
    pos = 0
    used = 0
    ref: Any = root
    node: Any
    while True:
        if isinstance(ref, list):
            node = ref  # a node under 32 bytes is embedded in its parent, not hashed
        elif isinstance(ref, bytes) and len(ref) == 32:
            if used >= len(proof):
                raise ProofError("proof ends before the path does")
            encoded = proof[used]
            used += 1
            if keccak(encoded) != ref:
                raise ProofError(f"proof node {used - 1} does not hash to its reference")
            try:
                node = rlp_decode(encoded)
            except CodecError as exc:
                raise ProofError(f"proof node {used - 1} is not RLP: {exc}") from exc
        elif ref == b"":
            return _finish(None, used, proof)
        else:
            raise ProofError("malformed node reference")
        if node == b"":
            return _finish(None, used, proof)  # the empty trie (its root is keccak(0x80))
        if not isinstance(node, list):
            raise ProofError("a trie node must be an RLP list")
        if len(node) == 17:
            if pos == len(path):
                return _finish(node[16] or None, used, proof)
            ref = node[path[pos]]
            pos += 1
        elif len(node) == 2:
            nibbles, leaf = _decode_path(node[0])
            if leaf:
                found = node[1] if path[pos:] == nibbles else None
                return _finish(found, used, proof)
            if path[pos : pos + len(nibbles)] != nibbles:
                return _finish(None, used, proof)
            pos += len(nibbles)
            ref = node[1]
        else:
            raise ProofError(f"a trie node has 2 or 17 items, not {len(node)}")


def _finish(value: bytes | None, used: int, proof: list[bytes]) -> bytes | None:
    if used != len(proof):
        raise ProofError(f"{len(proof) - used} proof nodes left over")
    return value


@dataclass(frozen=True)
class Account:
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


EMPTY_ACCOUNT = Account(0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH)


def verify_account(state_root: bytes, address: bytes, proof: list[bytes]) -> Account:
    value = verify_proof(state_root, keccak(address), proof)
    if value is None:
        return EMPTY_ACCOUNT
    try:
        fields = rlp_decode(value)
        nonce, balance, storage_root, code_hash = fields
    except (CodecError, ValueError, TypeError) as exc:
        raise ProofError(f"account value is not [nonce, balance, root, codeHash]: {exc}") from exc
    return Account(
        int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), storage_root, code_hash
    )


def verify_storage(storage_root: bytes, slot: int, proof: list[bytes]) -> int:
    value = verify_proof(storage_root, keccak(slot.to_bytes(32, "big")), proof)
    if value is None:
        return 0
    try:
        raw = rlp_decode(value)
    except CodecError as exc:
        raise ProofError(f"storage value is not RLP: {exc}") from exc
    if not isinstance(raw, bytes) or len(raw) > 32 or raw[:1] == b"\x00":
        raise ProofError("storage value is not a minimal 32-byte integer")
    return int.from_bytes(raw, "big")


@dataclass(frozen=True)
class ProvenAccount:
    """An `eth_getProof` answer whose every claim was checked against `state_root`."""

    address: bytes
    account: Account
    storage: dict[int, int]


def check_get_proof(state_root: bytes, answer: dict[str, Any]) -> ProvenAccount:
    """Verify a whole `eth_getProof` answer: the account against the state root, each storage
    slot against the proven storage root, and that the node's plain fields say the same."""
    address = hex_bytes(answer["address"])
    account = verify_account(state_root, address, [hex_bytes(n) for n in answer["accountProof"]])
    claimed = Account(
        hex_int(answer["nonce"]),
        hex_int(answer["balance"]),
        hex_bytes(answer["storageHash"]),
        hex_bytes(answer["codeHash"]),
    )
    if claimed != account and not (account == EMPTY_ACCOUNT and claimed.nonce == 0):
        raise ProofError(f"node claims {claimed} but the proof shows {account}")
    storage: dict[int, int] = {}
    for entry in answer.get("storageProof", []):
        slot = hex_int(entry["key"])
        value = verify_storage(account.storage_root, slot, [hex_bytes(n) for n in entry["proof"]])
        if value != hex_int(entry["value"]):
            raise ProofError(
                f"node claims slot {slot:#x} = {hex_int(entry['value']):#x}, proof shows {value:#x}"
            )
        storage[slot] = value
    return ProvenAccount(address, account, storage)


def storage_leaf(value: int) -> bytes:
    """The trie value of a storage word (exposed for tests)."""
    return rlp_encode(int_bytes(value))
