"""Login tokens: every issued token verifies to its address; any change to it is refused."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from api.security import TokenAuthority


def authority(secret: bytes = b"k" * 32, ttl: int = 60) -> TokenAuthority:
    return TokenAuthority(secret, domain="127.0.0.1:8000", chain_id=31337, token_ttl_s=ttl)


def sign_in(auth: TokenAuthority) -> tuple[str, str]:
    account = Account.create()
    challenge = auth.challenge(account.address)
    signature = Account.sign_message(encode_defunct(text=challenge.message), account.key).signature
    address, token, _ = auth.login(challenge.nonce, "0x" + signature.hex())
    return address, token


@settings(max_examples=200, deadline=None)
@given(secret=st.binary(min_size=16, max_size=64))
def test_every_issued_token_verifies_to_its_address(secret: bytes) -> None:
    auth = authority(secret)
    address, token = sign_in(auth)
    assert auth.verify(token) == address


@settings(max_examples=100, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=10_000),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_changed_byte_makes_a_token_invalid(position: int, flip: int) -> None:
    import base64

    auth = authority()
    _, token = sign_in(auth)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[position % len(raw)] ^= flip
    with pytest.raises(PermissionError):
        auth.verify(base64.urlsafe_b64encode(bytes(raw)).decode())


def test_token_from_another_secret_is_forged() -> None:
    _, token = sign_in(authority(b"a" * 32))
    with pytest.raises(PermissionError, match="forged"):
        authority(b"b" * 32).verify(token)


def test_expired_token_is_refused() -> None:
    auth = authority(ttl=1)
    _, token = sign_in(auth)
    time.sleep(1.1)
    with pytest.raises(PermissionError, match="expired"):
        auth.verify(token)


def test_challenge_is_single_use() -> None:
    auth = authority()
    account = Account.create()
    challenge = auth.challenge(account.address)
    signature = (
        "0x"
        + Account.sign_message(encode_defunct(text=challenge.message), account.key).signature.hex()
    )
    auth.login(challenge.nonce, signature)
    with pytest.raises(PermissionError, match="unknown or expired"):
        auth.login(challenge.nonce, signature)
