"""The tally: t partial decryptions, proven, from any t trustees give the same counts; a wrong
partial is refused; the counts are the ballots' choices."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.secret import dkg, tally
from ledger.secret.ballot import BallotStatement, encrypt
from ledger.secret.errors import DecryptionFailed, SecretBallotError
from ledger.secret.group import G, Point, R, random_scalar
from ledger.secret.transcript import VoteContext
from tests.ledger.secret.trustees import Ceremony, ceremony

CONTEXT = VoteContext(31337, 0xC0FFEE, 11)
CHOICES = [0, 2, 2, 1, 2, 0, 2]


def vote(c: Ceremony, qualified: list[int], choices: list[int]) -> list[tally.Ciphertext]:
    key = dkg.election_key(c.commitments(), qualified)
    ballots = [
        encrypt(BallotStatement(CONTEXT, key, 0x1000 + v, 0xAB, 3), choice)
        for v, choice in enumerate(choices)
    ]
    return tally.aggregate((b.ciphertexts for b in ballots), 3)


def test_any_t_of_n_trustees_give_the_same_tally() -> None:
    c = ceremony(3, 5, CONTEXT)
    q = [1, 2, 3, 4, 5]
    sums = vote(c, q, CHOICES)
    keys = {k: dkg.verification_key(c.commitments(), q, k) for k in q}
    partials = {
        (k, j): tally.decrypt_partial(CONTEXT, k, j, c.share(k, q), sums[j].a)
        for k in q
        for j in range(3)
    }
    for (k, j), partial in partials.items():
        assert tally.verify_partial(CONTEXT, keys[k], sums[j].a, partial)
    for subset in itertools.combinations(q, 3):
        shares = [{k: partials[k, j].share for k in subset} for j in range(3)]
        assert tally.tally(sums, shares, len(CHOICES)) == [2, 1, 4]


def test_fewer_than_t_partials_do_not_decrypt() -> None:
    c = ceremony(3, 4, CONTEXT)
    q = [1, 2, 3, 4]
    sums = vote(c, q, CHOICES)
    shares = [
        {k: tally.decrypt_partial(CONTEXT, k, j, c.share(k, q), sums[j].a).share for k in (1, 2)}
        for j in range(3)
    ]
    with pytest.raises(DecryptionFailed):
        tally.tally(sums, shares, len(CHOICES))


def test_wrong_partial_is_refused() -> None:
    c = ceremony(2, 3, CONTEXT)
    q = [1, 2, 3]
    sums = vote(c, q, [1, 0])
    key_1 = dkg.verification_key(c.commitments(), q, 1)
    honest = tally.decrypt_partial(CONTEXT, 1, 0, c.share(1, q), sums[0].a)
    assert tally.verify_partial(CONTEXT, key_1, sums[0].a, honest)
    wrong_share = tally.decrypt_partial(CONTEXT, 1, 0, c.share(2, q), sums[0].a)
    assert not tally.verify_partial(CONTEXT, key_1, sums[0].a, wrong_share)
    shifted = tally.Partial(1, 0, honest.share + G, honest.challenge, honest.response)
    assert not tally.verify_partial(CONTEXT, key_1, sums[0].a, shifted)
    for other in (
        tally.Partial(2, 0, honest.share, honest.challenge, honest.response),
        tally.Partial(1, 1, honest.share, honest.challenge, honest.response),
        tally.Partial(1, 0, honest.share, honest.challenge, honest.response + R),
    ):
        assert not tally.verify_partial(CONTEXT, key_1, sums[0].a, other)
    assert not tally.verify_partial(VoteContext(1, 0xC0FFEE, 11), key_1, sums[0].a, honest)


def test_partial_words_read_back_checked() -> None:
    honest = tally.decrypt_partial(CONTEXT, 1, 0, random_scalar(), random_scalar() * G)
    assert tally.parse_partial(1, 0, honest.words()) == honest
    with pytest.raises(ValueError):
        tally.parse_partial(1, 0, honest.words()[:3])


@pytest.mark.parametrize("m", [0, 1, 2, 99, 100, 101, 9_999, 10_000])
def test_discrete_log_finds_every_count_up_to_the_bound(m: int) -> None:
    assert tally.discrete_log(m * G, 10_000 if m <= 10_000 else m) == m


def test_discrete_log_beyond_the_bound_fails() -> None:
    with pytest.raises(DecryptionFailed):
        tally.discrete_log(101 * G, 100)
    with pytest.raises(DecryptionFailed):
        tally.discrete_log(random_scalar() * G, 1000)
    assert tally.discrete_log(Point.infinity(), 0) == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=3), st.integers(min_value=1, max_value=2**256 - 1))
def test_any_changed_word_of_a_partial_is_refused(index: int, delta: int) -> None:
    share, sa = random_scalar(), random_scalar() * G
    words = tally.decrypt_partial(CONTEXT, 3, 2, share, sa).words()
    words[index] = (words[index] + delta) % 2**256
    try:
        partial = tally.parse_partial(3, 2, words)
    except SecretBallotError:
        return
    assert not tally.verify_partial(CONTEXT, share * G, sa, partial)
