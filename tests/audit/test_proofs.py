"""Merkle-Patricia proofs checked in Python against anvil's eth_getProof, both ways: a true proof
verifies to the value in storage; any edit to a node, the root or the claimed value is refused."""

from __future__ import annotations

import pytest
import rlp
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from web3 import Web3

from ledger.audit.ethcodec import EMPTY_TRIE_ROOT, hex_bytes
from ledger.audit.proofs import ProofError, check_get_proof, verify_account, verify_proof
from ledger.deploy import Deployment
from ledger.hashing import keccak
from ledger.node import rpc
from ledger.tx import send


def _proof(w3: Web3, address: str, slots: list[int]) -> tuple[bytes, dict]:  # type: ignore[type-arg]
    block = rpc(w3, "eth_getBlockByNumber", ["latest", False])
    keys = ["0x" + s.to_bytes(32, "big").hex() for s in slots]
    return hex_bytes(block["stateRoot"]), rpc(w3, "eth_getProof", [address, keys, block["number"]])


@pytest.fixture
def registry_with_communities(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> str:
    for _ in range(3):
        send(w3, accounts[0], system.registry.functions.createCommunity(b"\x01" * 32))
    return str(system.registry.address)


def test_storage_proof_verifies_to_the_value_in_storage(
    w3: Web3, registry_with_communities: str
) -> None:
    root, answer = _proof(w3, registry_with_communities, [0, 1, 2**200])  # count, nothing, nothing
    proven = check_get_proof(root, answer)
    count = int(rpc(w3, "eth_getStorageAt", [registry_with_communities, "0x0", "latest"]), 16)
    assert proven.storage[0] == count >= 3
    assert proven.storage[1] == 0 and proven.storage[2**200] == 0  # absence is proven too
    assert proven.account.code_hash == keccak(bytes(w3.eth.get_code(registry_with_communities)))


def test_account_proof_of_an_eoa_and_of_nobody(w3: Web3, accounts: list[LocalAccount]) -> None:
    root, answer = _proof(w3, accounts[3].address, [])
    assert check_get_proof(root, answer).account.balance == w3.eth.get_balance(accounts[3].address)
    root, answer = _proof(w3, "0x" + "ab" * 20, [])
    empty = check_get_proof(root, answer).account
    assert (empty.nonce, empty.balance, empty.storage_root) == (0, 0, EMPTY_TRIE_ROOT)


def test_proof_against_another_state_root_is_refused(
    w3: Web3, registry_with_communities: str
) -> None:
    root, answer = _proof(w3, registry_with_communities, [0])
    with pytest.raises(ProofError, match="does not hash"):
        check_get_proof(keccak(root), answer)


def test_edited_proof_node_is_refused(w3: Web3, registry_with_communities: str) -> None:
    root, answer = _proof(w3, registry_with_communities, [0])
    nodes = [hex_bytes(n) for n in answer["accountProof"]]
    last = bytearray(nodes[-1])
    last[-5] ^= 0x01  # inside the account's RLP: a forged balance or code hash
    with pytest.raises(ProofError):
        verify_account(root, hex_bytes(registry_with_communities), [*nodes[:-1], bytes(last)])


def test_node_claiming_another_value_is_refused(w3: Web3, registry_with_communities: str) -> None:
    root, answer = _proof(w3, registry_with_communities, [0])
    answer["storageProof"][0]["value"] = hex(int(answer["storageProof"][0]["value"], 16) + 1)
    with pytest.raises(ProofError, match="claims slot"):
        check_get_proof(root, answer)


def test_leftover_or_missing_proof_nodes_are_refused(
    w3: Web3, registry_with_communities: str
) -> None:
    root, answer = _proof(w3, registry_with_communities, [0])
    nodes = [hex_bytes(n) for n in answer["accountProof"]]
    key = keccak(hex_bytes(registry_with_communities))
    assert verify_proof(root, key, nodes) is not None
    with pytest.raises(ProofError, match="ends before"):
        verify_proof(root, key, nodes[:-1])
    with pytest.raises(ProofError, match="left over"):
        verify_proof(root, key, [*nodes, rlp.encode([b"", b""])])


def test_rlp_roundtrip_and_refusals() -> None:
    item = [b"", b"\x01", b"\x80" * 60, [b"abc", [b""]], b"x" * 100]
    assert rlp.decode(rlp.encode(item)) == item
    with pytest.raises(rlp.DecodingError):
        rlp.decode(rlp.encode(item) + b"\x00")
    with pytest.raises(rlp.DecodingError):
        rlp.decode(b"\xb8\x40abc")


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.binary(min_size=32, max_size=32), st.binary(min_size=30, max_size=60), min_size=1
    ),
    st.binary(min_size=32, max_size=32),
)
def test_proofs_of_any_trie_verify_to_its_values_and_to_absence(
    items: dict[bytes, bytes], other: bytes
) -> None:
    trie = HexaryTrie({})
    for key, value in items.items():
        trie[key] = rlp.encode(value)
    for key in [*items, other]:
        proof = [rlp.encode(node) for node in trie.get_proof(key)]
        expected = rlp.encode(items[key]) if key in items else None
        assert verify_proof(trie.root_hash, key, proof) == expected
        with pytest.raises(ProofError):
            verify_proof(trie.root_hash, key, proof[:-1])
