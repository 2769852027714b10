"""Signed acknowledgements: the relay's promise, under the relayer key, that a message it
accepted will be on the chain by a given block.

A 202 alone is an unsigned promise: a relay that drops a ballot leaves no trace. With an
acknowledgement the sender holds the relayer's own signature over the digest they signed, when
it was accepted and the block by which it lands; a message acknowledged and not on the chain by
that block is provable censorship (the audit names it).

EIP-712 like every other signed message here, under its own domain (name "CommonsRelay",
version "1", the chain id, the deployment's forwarder as verifying contract), so a wallet or
ethers.js can check it without our code:

    Acknowledgement(bytes32 message, uint64 acceptedAt, uint64 landBy)

`message` is the EIP-712 digest the sender signed (a ballot's, a service record's, a forward
request's), `acceptedAt` unix seconds, `landBy` a block number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import coincurve

from ledger.hashing import checksum_address, keccak
from ledger.protocol.generated import Domains, Types
from ledger.signing.digests import acknowledgement_hash, typed_digest
from ledger.signing.eip712 import SignatureError, domain_for, domain_separator
from ledger.signing.eip712 import recover_address_bytes as _recover

ACK_TYPES: Final = Types.Acknowledgement.eip712_types()


def ack_domain(chain_id: int, forwarder: str) -> dict[str, Any]:
    return domain_for(Domains.Relay.name, Domains.Relay.version, chain_id, forwarder)


@dataclass(frozen=True)
class Acknowledgement:
    message: bytes
    accepted_at: int
    land_by: int
    relayer: str
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "message": "0x" + self.message.hex(),
            "acceptedAt": self.accepted_at,
            "landBy": self.land_by,
            "relayer": self.relayer,
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Acknowledgement:
        """The JSON the API answers (its EIP-712 field names), or the snake_case it answered
        before: residents and auditors keep acknowledgements in files and in their browser."""
        try:
            return cls(
                message=bytes.fromhex(str(data["message"]).removeprefix("0x")),
                accepted_at=int(
                    data["acceptedAt"] if "acceptedAt" in data else data["accepted_at"]
                ),
                land_by=int(data["landBy"] if "landBy" in data else data["land_by"]),
                relayer=checksum_address(str(data["relayer"])),
                signature=bytes.fromhex(str(data["signature"]).removeprefix("0x")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"not an acknowledgement: {exc}") from exc


def ack_digest(separator: bytes, message: bytes, accepted_at: int, land_by: int) -> bytes:
    return typed_digest(separator, acknowledgement_hash(message, accepted_at, land_by))


class AckSigner:
    """Signs acknowledgements with the relayer key (libsecp256k1 directly: ~60 µs a signature
    on the acknowledgement path, where eth-account's typed-data signing costs ~1 ms)."""

    def __init__(self, private_key: bytes, chain_id: int, forwarder: str) -> None:
        self._key = coincurve.PrivateKey(private_key)
        self.address = checksum_address(keccak(self._key.public_key.format(False)[1:])[12:])
        self._separator = domain_separator(ack_domain(chain_id, forwarder))

    def sign(self, message: bytes, accepted_at: int, land_by: int) -> Acknowledgement:
        digest = ack_digest(self._separator, message, accepted_at, land_by)
        raw = self._key.sign_recoverable(digest, hasher=None)  # r ‖ s ‖ recid, low s
        signature = raw[:64] + bytes([27 + raw[64]])
        return Acknowledgement(message, accepted_at, land_by, self.address, signature)


def verify_ack(ack: Acknowledgement, chain_id: int, forwarder: str) -> None:
    """Raises SignatureError unless `ack` is signed by the relayer it names, for this chain and
    deployment. Whether that relayer is the one the community trusts is the caller's question."""
    separator = domain_separator(ack_domain(chain_id, forwarder))
    digest = ack_digest(separator, ack.message, ack.accepted_at, ack.land_by)
    try:
        signer = checksum_address(_recover(digest, ack.signature))
    except ValueError as exc:
        raise SignatureError(f"unreadable acknowledgement signature: {exc}") from exc
    if signer != ack.relayer:
        raise SignatureError(f"acknowledgement signed by {signer}, not {ack.relayer}")
