"""The one hash of the protocol: H(words...) = uint256(keccak256(abi.encode(words))) mod r,
and the three word layouts it is applied to (ballot challenge, partial-decryption challenge,
share pad). contracts/libraries/SecretProofs.sol hashes the same words in the same order.

Every word is a uint256: an address is the integer of its 20 bytes, a point is x then y
((0, 0) for infinity), a tag is the integer of keccak256 of its name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ledger.hashing import address_bytes, keccak
from ledger.secret.group import Point, R


def _tag(name: str) -> int:
    return int.from_bytes(keccak(name.encode()), "big")


TAG_BALLOT: Final = _tag("commons.secret.ballot.v1")
TAG_PARTIAL: Final = _tag("commons.secret.partial.v1")
TAG_SHARE: Final = _tag("commons.secret.share.v1")


@dataclass(frozen=True)
class VoteContext:
    """What binds every proof and share of one secret vote to its place: chain id, the
    SecretBallot contract's address (as an integer) and the vote's id."""

    chain_id: int
    contract: int
    vote_id: int

    @classmethod
    def at(cls, chain_id: int, contract: str, vote_id: int) -> VoteContext:
        """The context of vote `vote_id` of the contract at address `contract` (hex)."""
        return cls(chain_id, int.from_bytes(address_bytes(contract), "big"), vote_id)

    def words(self) -> tuple[int, int, int]:
        return (self.chain_id, self.contract, self.vote_id)


def encode(words: Iterable[int]) -> bytes:
    """abi.encode of uint256 words: each 32 bytes big-endian (OverflowError outside uint256)."""
    return b"".join(word.to_bytes(32, "big") for word in words)


def hash_words(words: Iterable[int]) -> int:
    """H(words...): keccak256 of their abi.encode, as an integer, reduced mod r."""
    return int.from_bytes(keccak(encode(words)), "big") % R


def point_words(points: Iterable[Point]) -> list[int]:
    """x then y of each point, in order."""
    return [word for point in points for word in point.words()]


def ballot_challenge(
    context: VoteContext,
    key: Point,
    voter: int,
    question: int,
    ciphertext_words: list[int],
    commitment_words: list[int],
) -> int:
    """c = H(TAG_BALLOT, chainId, contract, e, Y, v, q, n, A_0, B_0, ..., then for each option
    a_0j, b_0j, a_1j, b_1j, then a_s, b_s). `ciphertext_words` holds 4 words an option."""
    options = len(ciphertext_words) // 4
    return hash_words(
        [
            TAG_BALLOT,
            *context.words(),
            *key.words(),
            voter,
            question,
            options,
            *ciphertext_words,
            *commitment_words,
        ]
    )


def partial_challenge(
    context: VoteContext,
    trustee: int,
    option: int,
    verification_key: Point,
    aggregate: Point,
    share: Point,
    commitment_a: Point,
    commitment_b: Point,
) -> int:
    """c = H(TAG_PARTIAL, chainId, contract, e, k, j, Y_k, SA_j, D_kj, a, b)."""
    return hash_words(
        [
            TAG_PARTIAL,
            *context.words(),
            trustee,
            option,
            *point_words((verification_key, aggregate, share, commitment_a, commitment_b)),
        ]
    )


def share_pad(context: VoteContext, dealer: int, recipient: int, shared_key: Point) -> int:
    """H(TAG_SHARE, chainId, contract, e, i, k, K): added to f_i(k) mod r to encrypt it for k."""
    return hash_words([TAG_SHARE, *context.words(), dealer, recipient, *shared_key.words()])
