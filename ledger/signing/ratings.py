"""EIP-712 ratings of completed proposals: what a resident signs, and the compact form a relayer
submits.

A rating is `Rating(uint256 proposalId,address rater,uint8 score,bytes32 commentHash)` under the
domain ("CommonsRatings", "1", chain id, ratings address): bound to one proposal, one score and
comment, one contract on one chain. Relayed in EIP-2098 compact form (r, vs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address
from ledger.protocol.generated import Domains, Types
from ledger.signing import digests
from ledger.signing.eip712 import domain_for, domain_separator, sign_typed_data, to_compact


@dataclass(frozen=True)
class RatingDomain:
    """Where a rating is valid: one Ratings contract on one chain."""

    chain_id: int
    ratings: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return domain_for(
            Domains.Ratings.name, Domains.Ratings.version, self.chain_id, self.ratings
        )


@dataclass(frozen=True)
class SignedRating:
    """A resident's rating of one proposal with its 65-byte signature and digest."""

    proposal_id: int
    rater: ChecksumAddress
    score: int
    comment_hash: bytes
    signature: bytes
    digest: bytes

    def call_arg(self) -> tuple[ChecksumAddress, int, bytes, bytes, bytes]:
        """The `SignedRating` struct tuple `rate` takes: (rater, score, commentHash, r, vs)."""
        r, vs = to_compact(self.signature)
        return (self.rater, self.score, self.comment_hash, r, vs)


def sign_rating(
    account: LocalAccount,
    proposal_id: int,
    score: int,
    comment_hash: bytes,
    domain: RatingDomain,
) -> SignedRating:
    """Rate `proposal_id` as `account`."""
    rater = checksum_address(account.address)
    message = {
        "proposalId": proposal_id,
        "rater": rater,
        "score": score,
        "commentHash": comment_hash,
    }
    signature = sign_typed_data(
        account, domain.as_dict(), Types.Rating.eip712_types(), Types.Rating.name, message
    )
    separator = domain_separator(domain.as_dict())
    digest = digests.rating_digest(
        separator, proposal_id, address_bytes(rater), score, comment_hash
    )
    return SignedRating(proposal_id, rater, score, comment_hash, signature, digest)
