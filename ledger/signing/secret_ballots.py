"""EIP-712 secret ballots: what a resident signs over an encrypted ballot, and the tuple a
relayer submits.

A ballot's `words` are its ciphertexts then its proof (ISecretBallot's NatSpec); the voter signs
`SecretBallot(uint256 voteId,address voter,bytes32 ballotHash)` with ballotHash =
keccak256(the words, packed) under the domain ("CommonsSecretBallot", "1", chain id, contract).
The struct hash is also what a batch's recorded hash is made of (`batch_hash`).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def ballot_hash(words: Sequence[int]) -> bytes:
    """keccak256 of the ballot's words, each a 32-byte word."""
    return keccak(b"".join(w.to_bytes(32, "big") for w in words))


@dataclass(frozen=True)
class SecretBallotMessage:
    vote_id: int
    voter: ChecksumAddress
    words: tuple[int, ...]

    def message(self) -> dict[str, Any]:
        return {"voteId": self.vote_id, "voter": self.voter, "ballotHash": ballot_hash(self.words)}

    def struct_hash(self) -> bytes:
        return keccak(
            Types.SecretBallot.typehash
            + self.vote_id.to_bytes(32, "big")
            + bytes(12)
            + address_bytes(self.voter)
            + ballot_hash(self.words)
        )


@dataclass(frozen=True)
class SecretBallotDomain:
    """Where a secret ballot is valid: one SecretBallot contract on one chain."""

    chain_id: int
    contract: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return domain_for(
            Domains.SecretBallot.name, Domains.SecretBallot.version, self.chain_id, self.contract
        )


@dataclass(frozen=True)
class SignedSecretBallot:
    ballot: SecretBallotMessage
    signature: bytes
    digest: bytes

    def call_arg(self) -> tuple[ChecksumAddress, list[int], bytes, bytes]:
        """The `SignedSecretBallot` tuple `castSecretBallots` takes: (voter, words, r, vs)."""
        r, vs = to_compact(self.signature)
        return (self.ballot.voter, list(self.ballot.words), r, vs)


def secret_ballot_digest(ballot: SecretBallotMessage, domain: SecretBallotDomain) -> bytes:
    separator = domain_separator(domain.as_dict())
    return keccak(b"\x19\x01" + separator + ballot.struct_hash())


def batch_hash(struct_hashes: Sequence[bytes]) -> bytes:
    """The hash SecretBallot records for a batch: of its counted ballots' struct hashes."""
    return keccak(b"".join(struct_hashes))


def sign_secret_ballot(
    account: LocalAccount, ballot: SecretBallotMessage, domain: SecretBallotDomain
) -> SignedSecretBallot:
    """Sign `ballot` as `account`, which must be the ballot's voter."""
    if checksum_address(account.address) != ballot.voter:
        raise SignatureError(f"{account.address} cannot sign a ballot of {ballot.voter}")
    types = Types.SecretBallot.eip712_types()
    signature = sign_typed_data(
        account, domain.as_dict(), types, Types.SecretBallot.name, ballot.message()
    )
    return SignedSecretBallot(ballot, signature, secret_ballot_digest(ballot, domain))
