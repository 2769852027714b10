"""EIP-712 council ballots: what a resident signs, and the compact form a relayer submits.

A ballot is `Ballot(uint256 proposalId,address voter,uint8 option)` under the domain
("CommonsCouncil", "1", chain id, council address): the signature is bound to one proposal, one
option, one contract on one chain, and names its voter, so it cannot be replayed or redirected.
The relayer submits it in EIP-2098 compact form (r, vs), which cannot even express most high-s
twins; `to_compact` refuses high-s signatures outright, as the contract does.
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
    SignatureError,
    domain_for,
    domain_separator,
    recover_typed_data,
    sign_typed_data,
    to_compact,
)
from ledger.signing.secp256k1 import SECP256K1_N


class BallotSignatureError(SignatureError):
    """A ballot signature is malformed, malleable (high s) or not by the ballot's voter."""


@dataclass(frozen=True)
class Ballot:
    """What a resident votes: one option on one proposal."""

    proposal_id: int
    voter: ChecksumAddress
    option: int

    def message(self) -> dict[str, Any]:
        return {"proposalId": self.proposal_id, "voter": self.voter, "option": self.option}


@dataclass(frozen=True)
class BallotDomain:
    """Where a ballot is valid: one council contract on one chain."""

    chain_id: int
    council: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return domain_for(
            Domains.Council.name, Domains.Council.version, self.chain_id, self.council
        )


@dataclass(frozen=True)
class SignedBallot:
    """A ballot with its 65-byte signature (r ‖ s ‖ v) and EIP-712 digest."""

    ballot: Ballot
    signature: bytes
    digest: bytes

    @property
    def compact(self) -> tuple[bytes, bytes]:
        return to_compact(self.signature)

    def call_arg(self) -> tuple[ChecksumAddress, int, bytes, bytes]:
        """The `SignedBallot` struct tuple `castBallots` takes: (voter, option, r, vs)."""
        r, vs = self.compact
        return (self.ballot.voter, self.ballot.option, r, vs)


def make_ballot(proposal_id: int, voter: str, option: int) -> Ballot:
    if proposal_id <= 0 or not 0 <= option < 256:
        raise ValueError(f"invalid ballot: proposal {proposal_id}, option {option}")
    return Ballot(proposal_id, checksum_address(voter), option)


def typed_data_parts(
    ballot: Ballot, domain: BallotDomain
) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]:
    """(domain, types, primary type, message) as eth-account and ethers.js take them."""
    return domain.as_dict(), Types.Ballot.eip712_types(), Types.Ballot.name, ballot.message()


def ballot_digest(ballot: Ballot, domain: BallotDomain) -> bytes:
    """The 32-byte EIP-712 digest (what BallotCast carries, and what the voter signs)."""
    separator = domain_separator(domain.as_dict())
    voter = address_bytes(ballot.voter)
    return digests.ballot_digest(separator, ballot.proposal_id, voter, ballot.option)


def sign_ballot(account: LocalAccount, ballot: Ballot, domain: BallotDomain) -> SignedBallot:
    """Sign `ballot` as `account`, which must be the ballot's voter."""
    if checksum_address(account.address) != ballot.voter:
        raise BallotSignatureError(f"{account.address} cannot sign a ballot of {ballot.voter}")
    signature = sign_typed_data(account, *typed_data_parts(ballot, domain))
    return SignedBallot(ballot, signature, ballot_digest(ballot, domain))


def attach_signature(ballot: Ballot, domain: BallotDomain, signature: bytes) -> SignedBallot:
    """Check a signature made elsewhere (a wallet, ethers.js) and bind it to its ballot."""
    to_compact(signature)  # refuses malformed and high-s signatures
    signer = recover_typed_data(signature, *typed_data_parts(ballot, domain))
    if checksum_address(signer) != ballot.voter:
        raise BallotSignatureError(f"signature is by {signer}, not the voter {ballot.voter}")
    return SignedBallot(ballot, bytes(signature), ballot_digest(ballot, domain))


def malleate(signature: bytes) -> bytes:
    """The high-s twin (n - s, flipped v) of a signature: valid to bare ecrecover, refused by us.

    Exists for tests and the auditor's negative checks.
    """
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    flipped = 27 + (1 - (v - 27 if v >= 27 else v))
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([flipped])
