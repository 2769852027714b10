"""The codec against the libraries, on random input: the fast paths' trie roots against py-trie's
HexaryTrie, logs and receipts against `rlp.encode`; transaction envelopes and senders against
what eth-account signs."""

from __future__ import annotations

from typing import Any

import rlp
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from web3 import Web3

from ledger.audit.ethcodec import (
    EMPTY_TRIE_ROOT,
    encode_log,
    encode_receipt,
    ordered_trie_root,
    trie_root,
    tx_envelope,
    tx_sender,
)
from ledger.signing.secp256k1 import SECP256K1_N

values = st.binary(min_size=1, max_size=80)  # py-trie reads an empty value as a deletion


def _py_trie_root(items: dict[bytes, bytes]) -> bytes:
    trie = HexaryTrie({})
    with trie.squash_changes() as batch:
        for key, value in items.items():
            batch[key] = value
    return bytes(trie.root_hash)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.binary(min_size=0, max_size=5), values, max_size=40))
def test_trie_root_agrees_with_py_trie_on_short_keys_that_prefix_each_other(
    items: dict[bytes, bytes],
) -> None:
    assert trie_root(items) == _py_trie_root(items)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.binary(min_size=32, max_size=32), values, max_size=300))
def test_trie_root_agrees_with_py_trie_on_storage_keys(items: dict[bytes, bytes]) -> None:
    assert trie_root(items) == _py_trie_root(items)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), max_size=300))
def test_ordered_trie_root_agrees_with_py_trie(items: list[bytes]) -> None:
    expected = _py_trie_root({rlp.encode(i): v for i, v in enumerate(items)})
    assert ordered_trie_root(items) == expected
    assert ordered_trie_root([]) == EMPTY_TRIE_ROOT == bytes(HexaryTrie({}).root_hash)


logs = st.tuples(
    st.binary(min_size=20, max_size=20),
    st.lists(st.binary(min_size=32, max_size=32) | st.binary(max_size=40), max_size=4),
    st.binary(max_size=300),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(logs, max_size=8),
    st.sampled_from([0, 1, 2, 3, 4]),
    st.integers(min_value=0, max_value=2**64),
    st.sampled_from([0, 1, None]),
    st.binary(min_size=256, max_size=256),
)
def test_logs_and_receipts_agree_with_rlp(
    entries: list[tuple[bytes, list[bytes], bytes]],
    kind: int,
    gas: int,
    status: int | None,
    bloom: bytes,
) -> None:
    for address, topics, data in entries:
        assert encode_log(address, topics, data) == rlp.encode([address, topics, data])
    receipt: dict[str, Any] = {
        "type": hex(kind),
        "cumulativeGasUsed": hex(gas),
        "logsBloom": "0x" + bloom.hex(),
    }
    first: int | bytes
    if status is None:
        receipt["root"] = "0x" + bytes(reversed(bloom[:32])).hex()  # pre-Byzantium
        first = bytes(reversed(bloom[:32]))
    else:
        receipt["status"] = hex(status)
        first = status
    body = rlp.encode([first, gas, bloom, [list(e) for e in entries]])
    encoded = [encode_log(*e) for e in entries]
    assert encode_receipt(receipt, encoded) == (body if kind == 0 else bytes([kind]) + body)


def _hex(value: int) -> str:
    return hex(value)


@st.composite
def signed_transactions(draw: st.DrawFn) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """(the node's JSON of a transaction eth-account signed, its raw envelope, hash, sender)."""
    kind = draw(st.sampled_from(["legacy", "eip155", 1, 2, 3, 4]))
    account = Account.from_key(draw(st.binary(min_size=32, max_size=32).filter(_valid_key)))
    quantity = st.integers(min_value=0, max_value=2**64)
    to = draw(st.binary(min_size=20, max_size=20))
    data = draw(st.binary(max_size=300))
    access = draw(
        st.lists(
            st.tuples(
                st.binary(min_size=20, max_size=20),
                st.lists(st.binary(min_size=32, max_size=32), max_size=2),
            ),
            max_size=2,
        )
    )
    tx: dict[str, Any] = {"nonce": draw(quantity), "gas": draw(quantity), "value": draw(quantity)}
    tx.update(to=Web3.to_checksum_address(to), data=data)
    if kind in ("legacy", "eip155", 1):
        tx["gasPrice"] = draw(quantity)
    else:
        tx.update(maxPriorityFeePerGas=draw(quantity), maxFeePerGas=draw(quantity))
    if kind != "legacy":
        tx["chainId"] = draw(st.integers(min_value=1, max_value=2**32))
    if isinstance(kind, int):
        tx["type"] = kind
        tx["accessList"] = [
            {"address": Web3.to_checksum_address(a), "storageKeys": ["0x" + k.hex() for k in ks]}
            for a, ks in access
        ]
    if kind == 3:
        tx.update(maxFeePerBlobGas=draw(quantity), blobVersionedHashes=[b"\x01" + bytes(31)])
    if kind == 4:
        tx["authorizationList"] = [
            account.sign_authorization(
                {"chainId": tx["chainId"], "address": to, "nonce": draw(quantity)}
            )
        ]
    signed = account.sign_transaction(tx)
    node: dict[str, Any] = {
        key: _hex(value) if isinstance(value, int) else value
        for key, value in tx.items()
        if key not in ("data", "to", "accessList", "authorizationList", "blobVersionedHashes")
    }
    node.update(
        type=_hex(kind if isinstance(kind, int) else 0),
        to="0x" + to.hex(),
        input="0x" + data.hex(),
        v=_hex(signed.v),
        r=_hex(signed.r),
        s=_hex(signed.s),
    )
    if isinstance(kind, int):
        node["yParity"] = _hex(signed.v)
        node["accessList"] = [
            {"address": "0x" + a.hex(), "storageKeys": ["0x" + k.hex() for k in ks]}
            for a, ks in access
        ]
    if kind == 3:
        node["blobVersionedHashes"] = ["0x01" + "00" * 31]
    if kind == 4:
        node["authorizationList"] = [
            {"chainId": _hex(a.chain_id), "address": "0x" + bytes(a.address).hex(),
             "nonce": _hex(a.nonce), "yParity": _hex(a.y_parity), "r": _hex(a.r), "s": _hex(a.s)}
            for a in tx["authorizationList"]
        ]  # fmt: skip
    sender = bytes.fromhex(account.address[2:])
    return node, bytes(signed.raw_transaction), bytes(signed.hash), sender


def _valid_key(key: bytes) -> bool:
    return 0 < int.from_bytes(key, "big") < SECP256K1_N


@settings(max_examples=150, deadline=None)
@given(signed_transactions())
def test_envelope_and_sender_agree_with_eth_account(
    signed: tuple[dict[str, Any], bytes, bytes, bytes],
) -> None:
    node, raw, tx_hash, sender = signed
    assert tx_envelope(node)[0] == raw
    assert tx_sender(node) == (tx_hash, sender)
