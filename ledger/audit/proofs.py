"""Merkle-Patricia proofs (EIP-1186 `eth_getProof`) checked against a state root with py-trie.

A node can answer `eth_getStorageAt` with anything; a proof cannot lie without breaking a hash.
`verify_account` walks the account proof from the block's stateRoot to the account's
[nonce, balance, storageRoot, codeHash]; `verify_storage` walks a storage proof from that
storageRoot to a slot's value. Both return the proven value (an absent key proves zero/empty) and
raise ProofError when a node does not hash to its reference or the path does not lead anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rlp
from trie import HexaryTrie
from trie.exceptions import InvalidNode, MissingTrieNode, ValidationError

from ledger.audit.ethcodec import EMPTY_TRIE_ROOT, hex_bytes, hex_int
from ledger.hashing import keccak

EMPTY_CODE_HASH = keccak(b"")
_EMPTY_NODE = rlp.encode(b"")


class ProofError(ValueError):
    """The proof does not prove anything about the root it is checked against."""


class _ProofNodes(dict[bytes, bytes]):
    """A proof's nodes by hash, noting which ones the walk reads."""

    def __init__(self, proof: list[bytes]) -> None:
        super().__init__((keccak(node), node) for node in proof)
        self.read: set[bytes] = set()

    def __getitem__(self, key: bytes) -> bytes:
        self.read.add(key)
        return super().__getitem__(key)


def verify_proof(root: bytes, key: bytes, proof: list[bytes]) -> bytes | None:
    """The value stored under `key` (already hashed: keccak(address) or keccak(slot)) in the trie
    with `root`, or None if the proof shows there is none. Every proof node must be used: nodes a
    proof does not need prove nothing, and a node that sends them is not answering the question.
    """
    # The empty trie's root is known: its node (0x80) needs no reading, and may be left out.
    needed = [node for node in proof if not (root == EMPTY_TRIE_ROOT and node == _EMPTY_NODE)]
    nodes = _ProofNodes(needed)
    try:  # HexaryTrie.get_from_proof, but on nodes that say which ones the walk read
        value = HexaryTrie(nodes, root_hash=root).get(key)
    except MissingTrieNode as exc:
        if exc.missing_node_hash == root:
            raise ProofError("no proof node hashes to the root: the first does not hash") from exc
        raise ProofError("proof ends before the path does, or a node does not hash") from exc
    except (rlp.DecodingError, InvalidNode, ValidationError) as exc:
        raise ProofError(f"a proof node is not a trie node: {exc}") from exc
    if len(needed) > len(nodes.read):
        raise ProofError(f"{len(needed) - len(nodes.read)} proof nodes left over")
    return value or None


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
        nonce, balance, storage_root, code_hash = rlp.decode(value)
    except (rlp.DecodingError, ValueError, TypeError) as exc:
        raise ProofError(f"account value is not [nonce, balance, root, codeHash]: {exc}") from exc
    return Account(
        int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), storage_root, code_hash
    )


def verify_storage(storage_root: bytes, slot: int, proof: list[bytes]) -> int:
    value = verify_proof(storage_root, keccak(slot.to_bytes(32, "big")), proof)
    if value is None:
        return 0
    try:
        raw = rlp.decode(value)
    except rlp.DecodingError as exc:
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
