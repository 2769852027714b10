"""EIP-2098 compact signatures as the audit reads them from co-signature, rating and election
ballot calldata: the signer, nobody for the high-s twin (the contracts refuse it), and no one for
bytes that are no signature at all."""

from __future__ import annotations

from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.hashing import address_bytes
from ledger.signing.eip712 import recover_compact
from ledger.signing.secp256k1 import HALF_N, SECP256K1_N


def _compact(key: bytes, digest: bytes) -> tuple[bytes, int, int, int]:
    signed = Account.unsafe_sign_hash(digest, key)
    parity = signed.v - 27
    return signed.r.to_bytes(32, "big"), signed.s, parity, signed.s | (parity << 255)


@settings(max_examples=30, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    digest=st.binary(min_size=32, max_size=32),
    high_s=st.integers(HALF_N + 1, (1 << 255) - 1),
)
def test_the_signer_is_recovered_and_a_high_s_is_refused(
    key: bytes, digest: bytes, high_s: int
) -> None:
    if not 0 < int.from_bytes(key, "big") < SECP256K1_N:
        return
    signer = address_bytes(Account.from_key(key).address)
    r, _, parity, vs = _compact(key, digest)
    assert recover_compact(digest, r, vs) == signer
    # An s in the upper half (the compact form holds s below 2^255): refused, whoever it names.
    assert recover_compact(digest, r, high_s | (parity << 255)) is None
    # Another digest recovers someone else.
    assert recover_compact(bytes(b ^ 0xFF for b in digest), r, vs) != signer


def test_bytes_that_are_no_signature_recover_no_one() -> None:
    assert recover_compact(bytes(32), bytes(32), 1) == b""
