"""EIP-712 election ballots: what a resident signs, how a ranking or an approval set is
encoded in it, and the compact form a relayer submits.

A ballot is `ElectionBallot(uint256 electionId,address voter,uint64 choices)` under the domain
("CommonsElections", "1", chain id, elections address). `choices` (IElections' NatSpec):
- ranked: 16 nibbles, low first, nibble k the candidate ranked k + 1; a ranking of r < 16
  candidates repeats its last candidate in nibbles r..15;
- approval: a bitmap, bit c approving candidate c.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address, keccak
from ledger.protocol.generated import Constants, Domains, Types
from ledger.signing.eip712 import (
    SignatureError,
    domain_for,
    domain_separator,
    sign_typed_data,
    to_compact,
)

MAX_CANDIDATES = Constants.MAX_CANDIDATES
_NIBBLES = 16


def encode_ranking(ranking: Sequence[int]) -> int:
    """`choices` of a ranking (candidate indexes, first preference first). Does not judge the
    ranking against an election: a repeat or an unknown candidate is encoded as given."""
    if not 1 <= len(ranking) <= _NIBBLES or not all(0 <= c < MAX_CANDIDATES for c in ranking):
        raise ValueError(f"a ranking names 1..16 candidates 0..15, got {list(ranking)}")
    padded = list(ranking) + [ranking[-1]] * (_NIBBLES - len(ranking))
    return sum(c << (4 * k) for k, c in enumerate(padded))


def nibbles(choices: int) -> list[int]:
    """The 16 nibbles of `choices`, low first."""
    return [(choices >> (4 * k)) & 15 for k in range(_NIBBLES)]


def encode_approval(approved: Iterable[int]) -> int:
    """`choices` of an approval set (candidate indexes)."""
    bits = 0
    for c in approved:
        if not 0 <= c < MAX_CANDIDATES:
            raise ValueError(f"no candidate {c}")
        bits |= 1 << c
    return bits


@dataclass(frozen=True)
class ElectionBallot:
    election_id: int
    voter: ChecksumAddress
    choices: int

    def message(self) -> dict[str, Any]:
        return {"electionId": self.election_id, "voter": self.voter, "choices": self.choices}


@dataclass(frozen=True)
class ElectionDomain:
    """Where an election ballot is valid: one Elections contract on one chain."""

    chain_id: int
    elections: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return domain_for(
            Domains.Elections.name, Domains.Elections.version, self.chain_id, self.elections
        )


@dataclass(frozen=True)
class SignedElectionBallot:
    ballot: ElectionBallot
    signature: bytes
    digest: bytes

    def call_arg(self) -> tuple[ChecksumAddress, int, bytes, bytes]:
        """The `SignedElectionBallot` tuple `castElectionBallots` takes: (voter, choices, r, vs)."""
        r, vs = to_compact(self.signature)
        return (self.ballot.voter, self.ballot.choices, r, vs)


def election_ballot_digest(ballot: ElectionBallot, domain: ElectionDomain) -> bytes:
    separator = domain_separator(domain.as_dict())
    struct_hash = keccak(
        Types.ElectionBallot.typehash
        + ballot.election_id.to_bytes(32, "big")
        + bytes(12)
        + address_bytes(ballot.voter)
        + ballot.choices.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + separator + struct_hash)


def sign_election_ballot(
    account: LocalAccount, ballot: ElectionBallot, domain: ElectionDomain
) -> SignedElectionBallot:
    """Sign `ballot` as `account`, which must be the ballot's voter."""
    if checksum_address(account.address) != ballot.voter:
        raise SignatureError(f"{account.address} cannot sign a ballot of {ballot.voter}")
    types = Types.ElectionBallot.eip712_types()
    signature = sign_typed_data(
        account, domain.as_dict(), types, Types.ElectionBallot.name, ballot.message()
    )
    return SignedElectionBallot(ballot, signature, election_ballot_digest(ballot, domain))
