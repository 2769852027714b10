"""The trustees' t-of-n Pedersen key generation with Feldman commitments, as the SecretBallot
contract runs it: deal, check the shares received, complain, answer in clear.

Trustees are numbered 1..n by their place in the committee's list. Trustee i deals
f_i(x) = Σ_{l<t} a_il·x^l: it posts C_il = a_il·g and, for each other trustee k,
enc_ik = f_i(k) + share_pad(i, k, K) mod r with K = e_i·E_k, the Diffie-Hellman key of their
communication keys. With Q the trustees not disqualified, the election key is Y = Σ_{i∈Q} C_i0,
trustee k's share x_k = Σ_{i∈Q} f_i(k), and its verification key Y_k = x_k·g, which anyone
computes from the commitments alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ledger.protocol.generated import Constants
from ledger.secret.group import Draw, G, Point, R, multi_mul, random_scalar
from ledger.secret.transcript import VoteContext, share_pad

MAX_TRUSTEES: Final = Constants.MAX_TRUSTEES


def check_threshold(threshold: int, trustees: int) -> None:
    """ValueError unless 1 <= t <= n <= 7."""
    if not 1 <= threshold <= trustees <= MAX_TRUSTEES:
        raise ValueError(f"a {threshold}-of-{trustees} key needs 1 <= t <= n <= {MAX_TRUSTEES}")


def evaluate(coefficients: Sequence[int], x: int) -> int:
    """f(x) mod r for f(x) = Σ coefficients[l]·x^l (Horner)."""
    value = 0
    for coefficient in reversed(coefficients):
        value = (value * x + coefficient) % R
    return value


def commit(coefficients: Sequence[int]) -> tuple[Point, ...]:
    """The Feldman commitments C_l = a_l·g."""
    return tuple(coefficient * G for coefficient in coefficients)


def committed_value(commitments: Sequence[Point], k: int) -> Point:
    """Σ_l k^l·C_l: f(k)·g as the commitments fix it."""
    return multi_mul(list(commitments), [pow(k, power, R) for power in range(len(commitments))])


def shared_key(own_secret: int, their_key: Point) -> Point:
    """K = e_i·E_k: the key trustees i and k both compute from their communication keys."""
    return own_secret * their_key


@dataclass(frozen=True)
class Dealing:
    """What dealer i posts: its commitments and each other trustee's encrypted share."""

    dealer: int
    commitments: tuple[Point, ...]
    encrypted_shares: Mapping[int, int]


@dataclass(frozen=True)
class Dealer:
    """A dealer's secret polynomial: kept to answer complaints and for its own share."""

    index: int
    coefficients: tuple[int, ...]

    @classmethod
    def random(cls, index: int, threshold: int, draw: Draw = random_scalar) -> Dealer:
        return cls(index, tuple(draw() for _ in range(threshold)))

    def share_for(self, k: int) -> int:
        """s_ik = f_i(k): revealed in clear when k complains."""
        return evaluate(self.coefficients, k)

    def deal(self, context: VoteContext, own_secret: int, keys: Mapping[int, Point]) -> Dealing:
        """The dealing for every trustee in `keys` (index -> communication key) but itself."""
        encrypted = {
            k: encrypt_share(context, self.index, k, self.share_for(k), shared_key(own_secret, key))
            for k, key in sorted(keys.items())
            if k != self.index
        }
        return Dealing(self.index, commit(self.coefficients), encrypted)


def encrypt_share(context: VoteContext, dealer: int, recipient: int, share: int, key: Point) -> int:
    """enc_ik = s_ik + H(TAG_SHARE, ..., i, k, K) mod r."""
    return (share + share_pad(context, dealer, recipient, key)) % R


def decrypt_share(
    context: VoteContext, dealer: int, recipient: int, encrypted: int, key: Point
) -> int:
    """s_ik = enc_ik - H(TAG_SHARE, ..., i, k, K) mod r."""
    return (encrypted - share_pad(context, dealer, recipient, key)) % R


def share_is_valid(share: int, recipient: int, commitments: Sequence[Point]) -> bool:
    """The Feldman check: s_ik·g == Σ_l k^l·C_il. False means complain against the dealer."""
    return share * G == committed_value(commitments, recipient)


def election_key(commitments: Mapping[int, Sequence[Point]], qualified: Iterable[int]) -> Point:
    """Y = Σ_{i∈Q} C_i0."""
    key = Point.infinity()
    for i in qualified:
        key = key + commitments[i][0]
    return key


def verification_key(
    commitments: Mapping[int, Sequence[Point]], qualified: Iterable[int], k: int
) -> Point:
    """Y_k = Σ_{i∈Q} Σ_l k^l·C_il (= x_k·g), from public commitments alone."""
    qualified = list(qualified)
    points = [point for i in qualified for point in commitments[i]]
    scalars = [pow(k, power, R) for i in qualified for power in range(len(commitments[i]))]
    return multi_mul(points, scalars)


def secret_share(shares: Mapping[int, int], qualified: Iterable[int]) -> int:
    """x_k = Σ_{i∈Q} s_ik, from the shares trustee k received (its own f_k(k) included)."""
    return sum(shares[i] for i in qualified) % R


def lagrange_at_zero(indices: Sequence[int]) -> dict[int, int]:
    """λ_k = Π_{m≠k} m/(m-k) mod r for each k in `indices`: Σ λ_k·f(k) = f(0)."""
    if len(set(indices)) != len(indices) or any(not 1 <= k < R for k in indices):
        raise ValueError(f"trustee indices must be distinct and positive: {list(indices)}")
    coefficients = {}
    for k in indices:
        numerator, denominator = 1, 1
        for m in indices:
            if m != k:
                numerator = numerator * m % R
                denominator = denominator * (m - k) % R
        coefficients[k] = numerator * pow(denominator, -1, R) % R
    return coefficients
