"""The tally of a secret vote: the aggregate of the counted ballots, each trustee's partial
decryption with its Chaum-Pedersen proof, the combination of t partials by Lagrange
interpolation, and the small discrete log that gives each option's count.

Trustee k posts D_kj = x_k·SA_j with (c, z): a = w·g, b = w·SA_j,
c = H(TAG_PARTIAL, chainId, contract, e, k, j, Y_k, SA_j, D_kj, a, b), z = w + c·x_k; anyone
checks a = z·g - c·Y_k and b = z·SA_j - c·D_kj. Then M_j = SB_j - Σ λ_k·D_kj = tally_j·g.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.secret.ballot import Ciphertext
from ledger.secret.dkg import lagrange_at_zero
from ledger.secret.errors import DecryptionFailed
from ledger.secret.group import Draw, G, Point, R, check_scalar, multi_mul, random_scalar
from ledger.secret.transcript import VoteContext, partial_challenge


@dataclass(frozen=True)
class Partial:
    """Trustee `trustee`'s decryption share of option `option`'s aggregate, with its proof."""

    trustee: int
    option: int
    share: Point
    challenge: int
    response: int

    def words(self) -> list[int]:
        """D.x, D.y, c, z."""
        return [*self.share.words(), self.challenge, self.response]


def aggregate(ballots: Iterable[Sequence[Ciphertext]], options: int) -> list[Ciphertext]:
    """Per option, (SA_j, SB_j): the sum of the ciphertexts of `ballots` (counted, not voided)."""
    sums = [Ciphertext(Point.infinity(), Point.infinity()) for _ in range(options)]
    for ciphertexts in ballots:
        if len(ciphertexts) != options:
            raise ValueError(f"a ballot of {len(ciphertexts)} options among {options}")
        sums = [Ciphertext(s.a + c.a, s.b + c.b) for s, c in zip(sums, ciphertexts, strict=True)]
    return sums


def decrypt_partial(
    context: VoteContext,
    trustee: int,
    option: int,
    share: int,
    aggregate_a: Point,
    draw: Draw = random_scalar,
) -> Partial:
    """D = x_k·SA_j with the proof that it uses the same x_k as Y_k = x_k·g."""
    d = share * aggregate_a
    w = draw()
    a, b = w * G, w * aggregate_a
    c = partial_challenge(context, trustee, option, share * G, aggregate_a, d, a, b)
    return Partial(trustee, option, d, c, (w + c * share) % R)


def verify_partial(
    context: VoteContext, verification_key: Point, aggregate_a: Point, partial: Partial
) -> bool:
    """Whether the partial's proof shows log_g(Y_k) = log_SA(D)."""
    if not (0 <= partial.challenge < R and 0 <= partial.response < R):
        return False
    c, z = partial.challenge, partial.response
    a = multi_mul([G, verification_key], [z, -c])
    b = multi_mul([aggregate_a, partial.share], [z, -c])
    expected = partial_challenge(
        context, partial.trustee, partial.option, verification_key, aggregate_a, partial.share, a, b
    )
    return expected == c


def parse_partial(trustee: int, option: int, words: Sequence[int]) -> Partial:
    """A partial read from untrusted words D.x, D.y, c, z (InvalidPoint, InvalidScalar)."""
    if len(words) != 4:
        raise ValueError("a partial decryption is 4 words: D.x, D.y, c, z")
    share = Point.from_words(words[0], words[1])
    return Partial(trustee, option, share, check_scalar(words[2]), check_scalar(words[3]))


def combine(aggregate_b: Point, shares: Mapping[int, Point]) -> Point:
    """M = SB - Σ λ_k·D_k over the trustees in `shares` (t of them, any t)."""
    lambdas = lagrange_at_zero(sorted(shares))
    return aggregate_b - multi_mul(
        [shares[k] for k in sorted(shares)], [lambdas[k] for k in sorted(shares)]
    )


def discrete_log(point: Point, bound: int) -> int:
    """m in [0, bound] with m·g == point, by baby-step giant-step (about 2·√bound additions);
    DecryptionFailed if there is none."""
    step = math.isqrt(bound) + 1
    baby: dict[tuple[int, int], int] = {}
    current = Point.infinity()
    for i in range(step):
        baby.setdefault(current.words(), i)
        current = current + G
    giant = -(step * G)
    current = point
    for j in range(step + 1):
        found = baby.get(current.words())
        if found is not None and j * step + found <= bound:
            return j * step + found
        current = current + giant
    raise DecryptionFailed(f"the decryption is not m·g for any m <= {bound}")


def tally(
    sums: Sequence[Ciphertext], shares: Sequence[Mapping[int, Point]], ballots: int
) -> list[int]:
    """Each option's count from its aggregate and t partial shares; the counts add up to the
    number of ballots counted, or DecryptionFailed."""
    counts = [
        discrete_log(combine(s.b, option_shares), ballots)
        for s, option_shares in zip(sums, shares, strict=True)
    ]
    if sum(counts) != ballots:
        raise DecryptionFailed(f"the counts {counts} do not add up to {ballots} ballots")
    return counts
