"""Checking many ballots at once, for the audit: every ballot of a vote parsed and verified, in
worker processes when there are enough of them to pay for starting the workers.

The proofs cannot be batched by a random linear combination (the challenge hashes the
commitments, which the verifier must recompute one by one), so the gain is from the cores:
bench/secret_crypto.py measures both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Final

from ledger.secret.ballot import BallotStatement, parse_ballot, verify
from ledger.secret.errors import SecretBallotError
from ledger.secret.group import Point
from ledger.secret.transcript import VoteContext

# A pool of two workers costs 40-70 ms to start and stop (under load), the time of about 100
# ballots (0.75 ms of CPU each, bench/secret_crypto.py); below this many ballots the saving is
# a second at most and one process keeps the audit's other work its core.
MIN_PARALLEL: Final = 2_000


@dataclass(frozen=True)
class BallotClaim:
    """One ballot as the chain holds it: who cast it and its words. Plain integers, so that
    worker processes can be handed it."""

    voter: int
    words: tuple[int, ...]


@dataclass(frozen=True)
class VoteFacts:
    """What the ballots of one vote are checked against, as plain integers."""

    context: VoteContext
    key: tuple[int, int]
    question: int
    options: int


def ballot_is_valid(facts: VoteFacts, key: Point, claim: BallotClaim) -> bool:
    """Whether the ballot's words parse (points on the curve, scalars below r) and its proofs
    verify for its voter."""
    statement = BallotStatement(facts.context, key, claim.voter, facts.question, facts.options)
    try:
        return verify(statement, parse_ballot(claim.words, facts.options))
    except (SecretBallotError, ValueError):
        return False


def _check_chunk(facts: VoteFacts, claims: Sequence[BallotClaim]) -> list[bool]:
    key = Point.from_words(*facts.key)
    return [ballot_is_valid(facts, key, claim) for claim in claims]


def check_ballots(
    facts: VoteFacts,
    claims: Sequence[BallotClaim],
    workers: int = 2,
    min_parallel: int = MIN_PARALLEL,
) -> list[bool]:
    """For each ballot, in order, whether it is valid; on `workers` processes when there are
    at least `min_parallel` ballots."""
    if workers <= 1 or len(claims) < min_parallel:
        return _check_chunk(facts, claims)
    size = -(-len(claims) // (workers * 4))
    chunks = [claims[i : i + size] for i in range(0, len(claims), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_check_chunk, [facts] * len(chunks), chunks)
        return [valid for chunk in results for valid in chunk]
