"""EIP-712 signing through eth-account, the one implementation every signed message uses."""

from __future__ import annotations

from typing import Any

import coincurve
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger.errors import LedgerError
from ledger.hashing import address_bytes, keccak
from ledger.protocol.generated import Types
from ledger.signing import digests
from ledger.signing.secp256k1 import HALF_N

_TOP_BIT = 1 << 255  # where EIP-2098 keeps v's parity in `vs`


class SignatureError(LedgerError):
    """A signature is malformed, malleable (high s), or not by whom it claims."""


def to_compact(signature: bytes) -> tuple[bytes, bytes]:
    """65-byte r ‖ s ‖ v (v = 27/28 or 0/1) to EIP-2098 (r, vs); refuses high s, as our
    contracts do (its twin would be a second valid signature of the same message)."""
    if len(signature) != 65:
        raise SignatureError(f"signature must be 65 bytes, got {len(signature)}")
    r = signature[:32]
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    v = v - 27 if v >= 27 else v
    if v not in (0, 1):
        raise SignatureError(f"invalid recovery id v={signature[64]}")
    if not 0 < s <= HALF_N:
        raise SignatureError("malleable signature: s is in the upper half of the curve order")
    return r, (s | (_TOP_BIT if v else 0)).to_bytes(32, "big")


def domain_for(name: str, version: str, chain_id: int, contract_address: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": contract_address,
    }


def typed_data(
    domain: dict[str, Any], types: dict[str, Any], primary_type: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The full EIP-712 document (as ethers.js and wallets take it)."""
    return {
        "types": {**Types.EIP712Domain.eip712_types(), **types},
        "domain": domain,
        "primaryType": primary_type,
        "message": message,
    }


def digest(
    domain: dict[str, Any], types: dict[str, Any], primary_type: str, message: dict[str, Any]
) -> bytes:
    """The 32-byte hash a signer signs: keccak256(0x1901 ‖ domainSeparator ‖ structHash)."""
    signable = encode_typed_data(full_message=typed_data(domain, types, primary_type, message))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed_data(
    account: LocalAccount,
    domain: dict[str, Any],
    types: dict[str, Any],
    primary_type: str,
    message: dict[str, Any],
) -> bytes:
    """65-byte signature r ‖ s ‖ v (v = 27/28); eth-account always returns low-s."""
    signable = encode_typed_data(full_message=typed_data(domain, types, primary_type, message))
    return bytes(account.sign_message(signable).signature)


def domain_separator(domain: dict[str, Any]) -> bytes:
    """hashStruct(EIP712Domain) for a (name, version, chainId, verifyingContract) domain."""
    contract = address_bytes(str(domain["verifyingContract"]))
    return digests.domain_separator(
        domain["name"], domain["version"], int(domain["chainId"]), contract
    )


def recover_address_bytes(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed a 32-byte digest (65-byte r ‖ s ‖ v signature).

    libsecp256k1 directly: about ten times faster than recovering through typed data, which
    matters on the relay's hot path (where comparing bytes spares a checksum's keccak).
    Raises ValueError for a malformed signature.
    """
    if len(signature) != 65:
        raise ValueError(f"expected 65 signature bytes, got {len(signature)}")
    v = signature[64]
    recid = v - 27 if v >= 27 else v
    if recid not in (0, 1):
        raise ValueError(f"bad recovery id v={v}")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([recid]), digest, hasher=None
        )
    except Exception as exc:
        raise ValueError(f"unrecoverable signature: {exc}") from exc
    return keccak(public.format(compressed=False)[1:])[12:]


def recover_compact(digest: bytes, r: bytes, vs: int) -> bytes | None:
    """The 20-byte signer of an EIP-2098 compact signature (`vs`: s with v's parity in its top
    bit); None for the high-s twin, which the contracts refuse as OpenZeppelin's ECDSA does;
    b"" when no key recovers."""
    s = vs & ((1 << 255) - 1)
    if s > HALF_N:
        return None
    try:
        return recover_address_bytes(digest, r + s.to_bytes(32, "big") + bytes([27 + (vs >> 255)]))
    except ValueError:
        return b""


def recover_typed_data(
    signature: bytes,
    domain: dict[str, Any],
    types: dict[str, Any],
    primary_type: str,
    message: dict[str, Any],
) -> str:
    signable = encode_typed_data(full_message=typed_data(domain, types, primary_type, message))
    try:
        address: str = Account.recover_message(signable, signature=signature)
    except Exception as exc:
        # eth-keys raises its own BadSignature (not a ValueError) when no key recovers: the
        # same contract as recover_address_bytes, so callers handle one exception for bad input.
        raise ValueError(f"unrecoverable signature: {exc}") from exc
    return address
