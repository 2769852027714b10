"""Checking many ballots at once, for the audit: every ballot of a vote parsed and verified, on
the audit's worker processes when there are enough of them to pay.

The proofs cannot be batched by a random linear combination (the challenge hashes the
commitments, which the verifier must recompute one by one), so the gain is from the cores:
bench/secret_crypto.py measures both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Final

from ledger.secret.ballot import BallotStatement, parse_ballot, verify
from ledger.secret.errors import SecretBallotError
from ledger.secret.group import Point
from ledger.secret.transcript import VoteContext

# Starting two forkserver workers took 1.3-2.2 s at load 9.5 on 2 cores (their imports; fork
# took 0.04 s but is unsafe in a threaded process); a pool the audit already has costs nothing.
# Below this many ballots (1.5 s of CPU at 0.75 ms each, bench/secret_crypto.py) the saving
# would not pay for the round trips.
MIN_PARALLEL: Final = 2_000
PIECE: Final = 500


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
    pool: Executor | None = None,
    min_parallel: int = MIN_PARALLEL,
) -> list[bool]:
    """For each ballot, in order, whether it is valid: in this process, or in pieces on `pool`
    (the audit's worker processes: ledger.audit.sigs.BallotVerifier.pool(), forkserver, as the
    API runs audits in a thread and forking a threaded process can deadlock) when there are at
    least `min_parallel` ballots."""
    if pool is None or len(claims) < min_parallel:
        return _check_chunk(facts, claims)
    futures = [
        pool.submit(_check_chunk, facts, claims[i : i + PIECE])
        for i in range(0, len(claims), PIECE)
    ]
    return [valid for future in futures for valid in future.result()]
