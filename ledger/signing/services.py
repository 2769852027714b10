"""EIP-712 time-bank service records and their reversals, as TimeBank verifies them.

Both sides of a service sign the same `ServiceRecord` (for the community's own side, a
coordinator signs); a relayer submits the pair. Signatures travel in the compact EIP-2098 form
(r, vs) the contract takes, which saves calldata in batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from ledger.errors import LedgerError
from ledger.hashing import address_bytes
from ledger.protocol.generated import Domains, Types
from ledger.signing import digests
from ledger.signing.eip712 import SignatureError, domain_for, sign_typed_data, to_compact

# The community's own account in TimeBank (ITimeBank.COMMUNITY_ACCOUNT).
COMMUNITY_ACCOUNT: Final = "0x0000000000000000000000000000000000000000"

SERVICE_TYPES: Final = Types.ServiceRecord.eip712_types()
REVERSAL_TYPES: Final = Types.ServiceReversal.eip712_types()

MAX_MINUTES: Final = 2**32 - 1


class ServiceRecordError(LedgerError):
    """A service record or signature cannot be formed as the contract would accept it."""


def timebank_domain(chain_id: int, timebank_address: str) -> dict[str, Any]:
    return domain_for(Domains.TimeBank.name, Domains.TimeBank.version, chain_id, timebank_address)


def category_code(label: str | bytes) -> bytes:
    """A category as the contract's bytes8: up to 8 ASCII bytes, right-padded with zeros."""
    raw = label.encode("ascii") if isinstance(label, str) else bytes(label)
    if len(raw) > 8:
        raise ServiceRecordError(f"category {label!r} is longer than 8 bytes")
    return raw.ljust(8, b"\x00")


@dataclass(frozen=True)
class CompactSignature:
    """EIP-2098 signature: `vs` is s with the recovery bit of v in its top bit."""

    r: bytes
    vs: bytes

    @classmethod
    def from_rsv(cls, signature: bytes) -> CompactSignature:
        try:
            r, vs = to_compact(signature)
        except SignatureError as exc:
            raise ServiceRecordError(str(exc)) from exc
        return cls(r=r, vs=vs)

    def as_tuple(self) -> tuple[bytes, bytes]:
        return (self.r, self.vs)


@dataclass(frozen=True)
class ServiceRecord:
    """One service: `minutes_served` move from `recipient` to `provider` once both signed.

    `nonce` is the provider's: each (community, provider, nonce) counts once. Nonces close
    together share a storage word in the contract (cheaper), so count up rather than draw at random.
    """

    provider: str
    recipient: str
    minutes_served: int
    category: bytes
    note_hash: bytes
    nonce: int

    def __post_init__(self) -> None:
        if not 0 <= self.minutes_served <= MAX_MINUTES:
            raise ServiceRecordError(f"minutes_served {self.minutes_served} does not fit in uint32")
        if len(self.category) != 8:
            raise ServiceRecordError("category must be 8 bytes (use category_code)")
        if len(self.note_hash) != 32:
            raise ServiceRecordError("note_hash must be 32 bytes")
        if not 0 <= self.nonce < 2**256:
            raise ServiceRecordError("nonce must fit in uint256")

    def message(self, community_id: int) -> dict[str, Any]:
        return {
            "communityId": community_id,
            "provider": to_checksum_address(self.provider),
            "recipient": to_checksum_address(self.recipient),
            "minutesServed": self.minutes_served,
            "category": self.category,
            "noteHash": self.note_hash,
            "nonce": self.nonce,
        }

    def as_tuple(self) -> tuple[str, str, int, bytes, bytes, int]:
        """The ABI tuple of ITimeBank.ServiceRecord."""
        return (
            to_checksum_address(self.provider),
            to_checksum_address(self.recipient),
            self.minutes_served,
            self.category,
            self.note_hash,
            self.nonce,
        )


@dataclass(frozen=True)
class SignedRecord:
    """A record with both sides' signatures, ready for `recordService(s)`."""

    record: ServiceRecord
    provider_sig: CompactSignature
    recipient_sig: CompactSignature

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple of ITimeBank.SignedRecord."""
        return (
            self.record.as_tuple(),
            self.provider_sig.as_tuple(),
            self.recipient_sig.as_tuple(),
        )


def record_id(community_id: int, record: ServiceRecord) -> bytes:
    """The record's id as the contract computes it: its EIP-712 struct hash."""
    return digests.service_record_hash(
        community_id,
        address_bytes(record.provider),
        address_bytes(record.recipient),
        record.minutes_served,
        record.category,
        record.note_hash,
        record.nonce,
    )


def service_body(
    community_id: int, record: ServiceRecord, provider_sig: str, recipient_sig: str
) -> dict[str, Any]:
    """The JSON of a record both sides signed, as `POST /v1/services` takes it and the relay
    stores it: byte fields and the two 65-byte signatures (r, s, v) in 0x-hex."""
    return {
        "communityId": community_id,
        "record": {
            "provider": record.provider,
            "recipient": record.recipient,
            "minutesServed": record.minutes_served,
            "category": "0x" + record.category.hex(),
            "noteHash": "0x" + record.note_hash.hex(),
            "nonce": record.nonce,
        },
        "providerSig": provider_sig,
        "recipientSig": recipient_sig,
    }


def sign_service(
    account: LocalAccount, domain: dict[str, Any], community_id: int, record: ServiceRecord
) -> CompactSignature:
    """One side's signature (provider, recipient, or a coordinator for the community's side)."""
    signature = sign_typed_data(
        account, domain, SERVICE_TYPES, Types.ServiceRecord.name, record.message(community_id)
    )
    return CompactSignature.from_rsv(signature)


def sign_both(
    provider_signer: LocalAccount,
    recipient_signer: LocalAccount,
    domain: dict[str, Any],
    community_id: int,
    record: ServiceRecord,
) -> SignedRecord:
    """Convenience for tests, demos and a single device holding both keys."""
    return SignedRecord(
        record=record,
        provider_sig=sign_service(provider_signer, domain, community_id, record),
        recipient_sig=sign_service(recipient_signer, domain, community_id, record),
    )


def sign_reversal(
    account: LocalAccount, domain: dict[str, Any], record_id_: bytes, reason_hash: bytes
) -> CompactSignature:
    """One side's consent to reverse record `record_id_`, for the reason hashed in `reason_hash`."""
    message = {"recordId": record_id_, "reasonHash": reason_hash}
    signature = sign_typed_data(
        account, domain, REVERSAL_TYPES, Types.ServiceReversal.name, message
    )
    return CompactSignature.from_rsv(signature)
