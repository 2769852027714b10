"""ledger.secret against the independent py_ecc implementation: the same draws give the same
words, and each accepts what the other makes and refuses what it refuses."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from ledger.secret import tally
from ledger.secret.ballot import BallotStatement, encrypt, parse_ballot, verify
from ledger.secret.group import G, R, random_scalar
from ledger.secret.transcript import VoteContext
from tests.ledger.secret import reference

CONTEXT = VoteContext(31337, 0x5FBDB2315678AFECB367F032D93F642F64180AA3, 7)
VOTER, QUESTION = 0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266, 0x51
HEAD = [*CONTEXT.words(), VOTER, QUESTION]


def counter_draw(start: int) -> Callable[[], int]:
    counter: Iterator[int] = itertools.count(start)
    return lambda: (next(counter) * 0x9E3779B97F4A7C15 + 12345) % R


@pytest.mark.parametrize(("options", "choice"), [(2, 0), (3, 2)])
def test_same_draws_give_the_same_ballot_words(options: int, choice: int) -> None:
    secret = random_scalar()
    st = BallotStatement(CONTEXT, secret * G, VOTER, QUESTION, options)
    ours = encrypt(st, choice, counter_draw(1)).words()
    key = reference.mul(reference.GENERATOR, secret)
    theirs = reference.prove_ballot(HEAD, key, choice, options, counter_draw(1))
    assert ours == theirs
    assert reference.verify_ballot(HEAD, key, options, ours)


def test_ballot_made_by_reference_verifies_here_and_tampering_fails_in_both() -> None:
    secret = random_scalar()
    key = reference.mul(reference.GENERATOR, secret)
    words = reference.prove_ballot(HEAD, key, 1, 2, random_scalar)
    st = BallotStatement(CONTEXT, secret * G, VOTER, QUESTION, 2)
    assert verify(st, parse_ballot(words, 2))
    tampered = list(words)
    tampered[-1] = (tampered[-1] + 1) % R
    assert not verify(st, parse_ballot(tampered, 2))
    assert not reference.verify_ballot(HEAD, key, 2, tampered)
    other_voter = [*HEAD[:3], VOTER + 1, QUESTION]
    assert not reference.verify_ballot(other_voter, key, 2, words)


def test_partial_made_here_verifies_in_the_reference() -> None:
    share = random_scalar()
    sa = random_scalar() * G
    partial = tally.decrypt_partial(CONTEXT, 2, 1, share, sa)
    vkey = reference.mul(reference.GENERATOR, share)
    sa_ref = reference.point(*sa.words())
    assert reference.verify_partial(CONTEXT.words(), 2, 1, vkey, sa_ref, partial.words())
    assert not reference.verify_partial(CONTEXT.words(), 3, 1, vkey, sa_ref, partial.words())
