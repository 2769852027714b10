"""The signature check every resident's relayed message gets before anything else: 65 bytes,
low s (the contracts refuse the high-s twin), recovered to the signer the message names."""

from __future__ import annotations

from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.signing.eip712 import recover_address_bytes
from ledger.signing.secp256k1 import HALF_N


def require_signed_by(digest: bytes, signature: bytes, signer: str) -> None:
    """Raise `MalleableSignature` or `BadSignature` unless `signer` signed `digest`."""
    if int.from_bytes(signature[32:64], "big") > HALF_N:
        raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
    try:
        recovered = recover_address_bytes(digest, signature)
    except ValueError as exc:
        raise InvalidMessage("BadSignature", str(exc)) from exc
    if recovered != bytes.fromhex(signer[2:]):
        raise InvalidMessage(
            "BadSignature", f"signature is by {checksum_address(recovered)}, not {signer}"
        )
