"""EIP-712 in-person ballots: what a poll officer signs for a resident who voted at the polling
place, `InPersonBallot(uint256 electionId,address voter,uint64 choices,address officer)` under the
domain ("CommonsPollOffice", "1", chain id, poll office address); `choices` is encoded as an
online ballot's (ledger.signing.election_ballots)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address, keccak
from ledger.protocol.generated import Domains, Types
from ledger.signing.eip712 import (
    SignatureError,
    domain_for,
    domain_separator,
    sign_typed_data,
    to_compact,
)


@dataclass(frozen=True)
class InPersonBallot:
    election_id: int
    voter: ChecksumAddress
    choices: int
    officer: ChecksumAddress

    def message(self) -> dict[str, Any]:
        return {
            "electionId": self.election_id,
            "voter": self.voter,
            "choices": self.choices,
            "officer": self.officer,
        }


@dataclass(frozen=True)
class PollOfficeDomain:
    """Where an officer's signature is valid: one PollOffice contract on one chain."""

    chain_id: int
    poll_office: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return domain_for(
            Domains.PollOffice.name, Domains.PollOffice.version, self.chain_id, self.poll_office
        )


@dataclass(frozen=True)
class SignedInPersonBallot:
    ballot: InPersonBallot
    signature: bytes
    digest: bytes

    def call_arg(self) -> tuple[ChecksumAddress, int, ChecksumAddress, bytes, bytes]:
        """The `InPersonBallot` tuple the poll office takes: (voter, choices, officer, r, vs)."""
        r, vs = to_compact(self.signature)
        return (self.ballot.voter, self.ballot.choices, self.ballot.officer, r, vs)


def in_person_digest(ballot: InPersonBallot, domain: PollOfficeDomain) -> bytes:
    separator = domain_separator(domain.as_dict())
    struct_hash = keccak(
        Types.InPersonBallot.typehash
        + ballot.election_id.to_bytes(32, "big")
        + bytes(12)
        + address_bytes(ballot.voter)
        + ballot.choices.to_bytes(32, "big")
        + bytes(12)
        + address_bytes(ballot.officer)
    )
    return keccak(b"\x19\x01" + separator + struct_hash)


def sign_in_person_ballot(
    officer: LocalAccount, ballot: InPersonBallot, domain: PollOfficeDomain
) -> SignedInPersonBallot:
    """Sign `ballot` as `officer`, who must be the ballot's officer."""
    if checksum_address(officer.address) != ballot.officer:
        raise SignatureError(f"{officer.address} cannot sign as officer {ballot.officer}")
    types = Types.InPersonBallot.eip712_types()
    signature = sign_typed_data(
        officer, domain.as_dict(), types, Types.InPersonBallot.name, ballot.message()
    )
    return SignedInPersonBallot(ballot, signature, in_person_digest(ballot, domain))
