"""Checking a vote's ballots at once: the same verdicts, in the same order, on one process and
on two."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from ledger.secret.ballot import BallotStatement, encrypt
from ledger.secret.group import G, R, random_scalar
from ledger.secret.many import BallotClaim, VoteFacts, check_ballots
from ledger.secret.transcript import VoteContext

CONTEXT = VoteContext(31337, 0xC0FFEE, 3)


def test_verdicts_are_in_order_and_the_same_on_one_and_two_processes() -> None:
    key = random_scalar() * G
    facts = VoteFacts(CONTEXT, key.words(), 0x51, 3)
    claims = []
    for voter in range(1, 41):
        words = encrypt(BallotStatement(CONTEXT, key, voter, 0x51, 3), voter % 3).words()
        claims.append(BallotClaim(voter, tuple(words)))
    claims[5] = BallotClaim(claims[5].voter + 1, claims[5].words)  # cast for someone else
    tampered = list(claims[17].words)
    tampered[-1] = (tampered[-1] + 1) % R
    claims[17] = BallotClaim(claims[17].voter, tuple(tampered))
    claims[30] = BallotClaim(claims[30].voter, claims[30].words[:-1])  # too short
    expected = [i not in (5, 17, 30) for i in range(40)]
    assert check_ballots(facts, claims) == expected
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        assert check_ballots(facts, claims, pool, min_parallel=10) == expected
