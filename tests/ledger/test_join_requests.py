"""Join requests (ledger/signing/joins.py): the short code is the digest's first 40 bits and reads
back however it is typed; a request verifies only for its resident, chain, Registry and with a
low-s signature."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from ledger.signing.ballots import malleate
from ledger.signing.eip712 import SignatureError
from ledger.signing.joins import (
    CROCKFORD,
    JoinRequest,
    read_code,
    short_code,
    sign_join,
    verify_join,
)

CHAIN, REGISTRY = 31337, "0x" + "ab" * 20


@given(st.binary(min_size=32, max_size=32))
def test_a_short_code_is_the_digests_first_40_bits_and_reads_back(digest: bytes) -> None:
    code = short_code(digest)
    assert len(code) == 9 and code[4] == "-"
    value = 0
    for char in code.replace("-", ""):
        value = value * 32 + CROCKFORD.index(char)
    assert value == int.from_bytes(digest[:5], "big")
    assert read_code(code.lower().replace("-", " ")) == code


def test_a_typed_code_is_read_as_people_type_it() -> None:
    assert read_code("wzkn0xpn") == "WZKN-0XPN"
    assert read_code("WZKN-OXPN") == "WZKN-0XPN"  # O for 0
    assert read_code("i1l1-0000") == "1111-0000"  # I and L for 1
    for bad in ("WZKN-0XP", "WZKN-0XPNN", "UUUU-UUUU", "WZKN_0XPN"):
        with pytest.raises(ValueError, match="not a join code"):
            read_code(bad)


def test_a_request_verifies_for_its_resident_chain_and_registry_only() -> None:
    resident = Account.create()
    request = sign_join(resident, 3, 1_700_000_000, CHAIN, REGISTRY)
    digest = verify_join(request, CHAIN, REGISTRY)
    assert request.code(CHAIN, REGISTRY) == short_code(digest)
    assert JoinRequest.from_json(request.to_json()) == request
    for chain, registry in ((1, REGISTRY), (CHAIN, "0x" + "cd" * 20)):
        with pytest.raises(SignatureError, match="not by the resident"):
            verify_join(request, chain, registry)


def test_a_malleated_signature_is_refused() -> None:
    request = sign_join(Account.create(), 1, 1_700_000_000, CHAIN, REGISTRY)
    twin = malleate(request.signature)  # the same signer, high s
    forged = JoinRequest(request.community_id, request.resident, request.issued_at, twin)
    with pytest.raises(SignatureError, match="malleable"):
        verify_join(forged, CHAIN, REGISTRY)


@pytest.mark.parametrize(
    "data",
    [{}, {"communityId": 0, "resident": "0x" + "11" * 20, "issuedAt": 1, "signature": "0x"},
     {"communityId": 1, "resident": "nobody", "issuedAt": 1, "signature": "0x"},
     {"communityId": 1, "resident": "0x" + "11" * 20, "issuedAt": 2**64, "signature": "0x"}],
)  # fmt: skip
def test_what_is_not_a_join_request_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(SignatureError, match="not a join request"):
        JoinRequest.from_json(data)
