"""EIP-712 co-signatures of resident initiatives: what a resident signs, and the compact form a
relayer submits.

A co-signature is `CoSignature(uint256 initiativeId,address signer)` under the domain
("CommonsInitiatives", "1", chain id, initiatives address): bound to one initiative, one contract
on one chain, and naming its signer. Relayed in EIP-2098 compact form (r, vs); `to_compact`
refuses high-s signatures, as the contract does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address
from ledger.protocol.generated import Domains, Types
from ledger.signing import digests
from ledger.signing.eip712 import (
    domain_for,
    domain_separator,
    sign_typed_data,
    to_compact,
)


@dataclass(frozen=True)
class CoSignatureDomain:
    """Where a co-signature is valid: one Initiatives contract on one chain."""

    chain_id: int
    initiatives: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return domain_for(
            Domains.Initiatives.name, Domains.Initiatives.version, self.chain_id, self.initiatives
        )

    @property
    def separator(self) -> bytes:
        return domain_separator(self.as_dict())


@dataclass(frozen=True)
class SignedCoSignature:
    """A resident's co-signature of one initiative, with its 65-byte signature and digest."""

    initiative_id: int
    signer: ChecksumAddress
    signature: bytes
    digest: bytes

    def call_arg(self) -> tuple[ChecksumAddress, bytes, bytes]:
        """The `SignedCoSignature` struct tuple `coSign` takes: (signer, r, vs)."""
        r, vs = to_compact(self.signature)
        return (self.signer, r, vs)


def cosignature_digest(domain: CoSignatureDomain, initiative_id: int, signer: str) -> bytes:
    return digests.cosignature_digest(domain.separator, initiative_id, address_bytes(signer))


def sign_cosignature(
    account: LocalAccount, initiative_id: int, domain: CoSignatureDomain
) -> SignedCoSignature:
    """Co-sign `initiative_id` as `account`."""
    signer = checksum_address(account.address)
    message = {"initiativeId": initiative_id, "signer": signer}
    signature = sign_typed_data(
        account, domain.as_dict(), Types.CoSignature.eip712_types(), Types.CoSignature.name, message
    )
    return SignedCoSignature(
        initiative_id, signer, signature, cosignature_digest(domain, initiative_id, signer)
    )
