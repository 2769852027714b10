"""The codec's fast paths against the libraries they stand in for, on random input: trie roots
against py-trie's HexaryTrie, logs and receipts against `rlp.encode`."""

from __future__ import annotations

from typing import Any

import rlp
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from ledger.audit.ethcodec import (
    EMPTY_TRIE_ROOT,
    encode_log,
    encode_receipt,
    ordered_trie_root,
    trie_root,
)

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
