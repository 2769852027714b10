"""The election rules of IElections in plain Python: which `choices` are valid, and who wins.

Written from the interface's NatSpec, not from the contract's code, so that the audit's recount
and the tests' model are a second reading of the rules. Integer arithmetic only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.protocol.generated import ElectionSkipReason
from ledger.signing.election_ballots import nibbles


def ranking_of(choices: int, candidate_count: int, max_choices: int) -> list[int]:
    """The ranking a ranked ballot encodes; raises BallotFault with the skip reason if invalid."""
    digits = nibbles(choices)
    length = next((k for k in range(1, 16) if digits[k] == digits[k - 1]), 16)
    ranking = digits[:length]
    if any(c >= candidate_count for c in ranking):
        raise BallotFault(ElectionSkipReason.UnknownCandidate)
    repeated = len(set(ranking)) < length
    if repeated or any(d != ranking[-1] for d in digits[length:]):
        raise BallotFault(ElectionSkipReason.RepeatedCandidate)
    if length > max_choices:
        raise BallotFault(ElectionSkipReason.TooManyChoices)
    return ranking


def approvals_of(choices: int, candidate_count: int, max_choices: int) -> list[int]:
    """The candidates an approval ballot approves; raises BallotFault if invalid."""
    if choices == 0:
        raise BallotFault(ElectionSkipReason.EmptyBallot)
    if choices >> candidate_count:
        raise BallotFault(ElectionSkipReason.UnknownCandidate)
    approved = [c for c in range(candidate_count) if choices >> c & 1]
    if len(approved) > max_choices:
        raise BallotFault(ElectionSkipReason.TooManyChoices)
    return approved


class BallotFault(Exception):
    def __init__(self, reason: ElectionSkipReason) -> None:
        super().__init__(reason.name)
        self.reason = reason


@dataclass(frozen=True)
class Round:
    """One round of a seat's count: votes per candidate, ballots for nobody, and the candidate
    eliminated after it (None when the round filled the seat)."""

    seat: int
    round: int
    tally: tuple[int, ...]
    exhausted: int
    eliminated: int | None


@dataclass(frozen=True)
class Count:
    rounds: tuple[Round, ...]
    winners: tuple[int, ...]


def count_ranked(rankings: Sequence[Sequence[int]], candidate_count: int, seats: int) -> Count:
    """Sequential instant runoff: each seat an IRV count among the candidates not yet elected."""
    rounds: list[Round] = []
    elected: list[int] = []
    for seat in range(1, seats + 1):
        eliminated: set[int] = set()
        number = 1
        while True:
            continuing = [
                c for c in range(candidate_count) if c not in elected and c not in eliminated
            ]
            tally = [0] * candidate_count
            for ranking in rankings:
                top = next((c for c in ranking if c in continuing), None)
                if top is not None:
                    tally[top] += 1
            active = sum(tally)
            leader = max(continuing, key=lambda c: (tally[c], -c))  # lower index among equals
            if tally[leader] * 2 > active or len(continuing) == 1:
                rounds.append(Round(seat, number, tuple(tally), len(rankings) - active, None))
                elected.append(leader)
                break
            last = min(continuing, key=lambda c: (tally[c], -c))  # higher index among equals
            rounds.append(Round(seat, number, tuple(tally), len(rankings) - active, last))
            eliminated.add(last)
            number += 1
    return Count(tuple(rounds), tuple(elected))


def count_approval(approvals: Sequence[Sequence[int]], candidate_count: int, seats: int) -> Count:
    """The `seats` candidates with the most approvals, lower index first among equals."""
    tally = [0] * candidate_count
    for approved in approvals:
        for c in approved:
            tally[c] += 1
    order = sorted(range(candidate_count), key=lambda c: (-tally[c], c))
    return Count((Round(1, 1, tuple(tally), 0, None),), tuple(order[:seats]))


def transfers(before: Round, after: Round) -> tuple[tuple[int, ...], int]:
    """What each candidate gained from `before` to `after` (the next round of the same seat) and
    how many of the eliminated candidate's ballots were exhausted."""
    gained = tuple(
        0 if c == before.eliminated else a - b
        for c, (a, b) in enumerate(zip(after.tally, before.tally, strict=True))
    )
    return gained, sum(before.tally) - sum(after.tally)
