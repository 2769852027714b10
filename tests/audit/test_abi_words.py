"""The audit's word-by-word decoder of static event fields against eth-abi, on random words:
the same values where eth-abi reads them, eth-abi's own error where it refuses them."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.abi import word_decoder

KINDS = ["uint256", "uint32", "int64", "int256", "address", "bool", "bytes32", "bytes3", "uint8"]


def _eth_abi(kinds: list[str], data: bytes) -> tuple[Any, ...] | type[Exception]:
    try:
        return tuple(abi_decode(kinds, data))
    except DecodingError as exc:
        return type(exc)


def _ours(kinds: list[str], data: bytes) -> tuple[Any, ...] | type[Exception]:
    try:
        return word_decoder(kinds)(data)
    except DecodingError as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    words=st.lists(
        st.one_of(
            st.integers(0, 1).map(lambda v: v.to_bytes(32, "big")),
            st.integers(0, 2**32).map(lambda v: v.to_bytes(32, "big")),
            st.integers(-(2**63), 2**63).map(lambda v: v.to_bytes(32, "big", signed=True)),
            st.binary(min_size=20, max_size=20).map(lambda b: b.rjust(32, b"\0")),
            st.binary(min_size=3, max_size=3).map(lambda b: b.ljust(32, b"\0")),
            st.binary(min_size=32, max_size=32),
        ),
        min_size=0,
        max_size=4,
    ),
)
def test_word_decoder_reads_and_refuses_what_eth_abi_does(
    kinds: list[str], words: list[bytes]
) -> None:
    data = b"".join(words)
    assert _ours(kinds, data) == _eth_abi(kinds, data)


def test_word_decoder_hands_dynamic_types_to_eth_abi() -> None:
    data = bytes(31) + b"\x20" + bytes(31) + b"\x02" + b"hi".ljust(32, b"\0")
    assert word_decoder(["string"])(data) == ("hi",)
    assert word_decoder(["uint8"])(bytes(31) + b"\x01\x00") == (1,)  # a stray byte after


def test_word_decoder_refuses_short_data_as_eth_abi_does() -> None:
    with pytest.raises(DecodingError):
        word_decoder(["uint8"])(bytes(31))
