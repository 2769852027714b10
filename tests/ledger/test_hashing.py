"""ledger.hashing against eth-utils, the reference it replaces on the hot paths."""

from __future__ import annotations

import pytest
from eth_utils import keccak as reference_keccak
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from ledger.hashing import checksum_address, keccak


@given(st.binary(max_size=300))
def test_keccak_is_ethereums(data: bytes) -> None:
    assert keccak(data) == reference_keccak(data)


@given(st.binary(min_size=20, max_size=20), st.sampled_from(["0x", "0X", ""]), st.booleans())
def test_checksum_matches_eip55_for_every_spelling(raw: bytes, prefix: str, upper: bool) -> None:
    expected = to_checksum_address(raw)
    spelled = prefix + (raw.hex().upper() if upper else raw.hex())
    assert checksum_address(raw) == checksum_address(spelled) == expected
    assert checksum_address(expected) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x",
        "0x" + "1" * 39,
        "0x" + "1" * 41,
        "0x" + "g" * 40,
        " 0x" + "1" * 40,
        b"\x01" * 19,
        b"\x01" * 32,
    ],
)
def test_anything_but_an_address_is_refused(bad: str | bytes) -> None:
    with pytest.raises(ValueError):
        checksum_address(bad)
