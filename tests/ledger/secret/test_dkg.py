"""The trustees' key generation: honest shares pass the Feldman check, a cheating dealer is
caught by it, and the key, shares and verification keys fit together."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.secret import dkg
from ledger.secret.group import G, R, random_scalar
from ledger.secret.transcript import VoteContext
from tests.ledger.secret.trustees import ceremony

CONTEXT = VoteContext(31337, 0xC0FFEE, 9)


def test_honest_shares_pass_every_check_and_fit_the_election_key() -> None:
    c = ceremony(3, 5, CONTEXT)
    q = [1, 2, 3, 4, 5]
    for i, k in itertools.product(q, q):
        assert dkg.share_is_valid(c.received(k, i), k, c.dealings[i].commitments)
    key = dkg.election_key(c.commitments(), q)
    secret = sum(d.coefficients[0] for d in c.dealers.values()) % R
    assert key == secret * G
    for k in q:
        assert dkg.verification_key(c.commitments(), q, k) == c.share(k, q) * G


def test_cheating_dealer_is_caught_by_the_share_check_and_answer_in_clear_settles_it() -> None:
    c = ceremony(2, 3, CONTEXT)
    dealing = c.dealings[2]
    tampered = dict(dealing.encrypted_shares)
    tampered[3] = (tampered[3] + 1) % R
    c.dealings[2] = dkg.Dealing(2, dealing.commitments, tampered)
    assert not dkg.share_is_valid(c.received(3, 2), 3, dealing.commitments)
    assert dkg.share_is_valid(c.received(1, 2), 1, dealing.commitments)
    # The accused answers with s_23 in clear: only f_2(3) itself passes the same check.
    assert dkg.share_is_valid(c.dealers[2].share_for(3), 3, dealing.commitments)
    liar = dkg.Dealer(2, (c.dealers[2].coefficients[0] + 1, *c.dealers[2].coefficients[1:]))
    assert not dkg.share_is_valid(liar.share_for(3), 3, dealing.commitments)


def test_share_encrypted_for_one_trustee_does_not_open_for_another() -> None:
    c = ceremony(2, 3, CONTEXT)
    encrypted = c.dealings[1].encrypted_shares[2]
    wrong_key = dkg.shared_key(c.comm_secrets[3], c.comm_keys[1])
    opened = dkg.decrypt_share(CONTEXT, 1, 2, encrypted, wrong_key)
    assert not dkg.share_is_valid(opened, 2, c.dealings[1].commitments)
    other_vote = VoteContext(31337, 0xC0FFEE, 10)
    right_key = dkg.shared_key(c.comm_secrets[2], c.comm_keys[1])
    assert not dkg.share_is_valid(
        dkg.decrypt_share(other_vote, 1, 2, encrypted, right_key), 2, c.dealings[1].commitments
    )


def test_disqualified_dealer_leaves_the_key_and_shares_consistent() -> None:
    c = ceremony(2, 4, CONTEXT)
    q = [1, 2, 4]
    key = dkg.election_key(c.commitments(), q)
    lambdas = dkg.lagrange_at_zero([2, 4])
    assert key == (lambdas[2] * c.share(2, q) + lambdas[4] * c.share(4, q)) * G


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_any_t_points_interpolate_the_polynomial_at_zero(data: st.DataObject) -> None:
    threshold = data.draw(st.integers(min_value=1, max_value=7))
    coefficients = [random_scalar() for _ in range(threshold)]
    indices = data.draw(
        st.lists(st.integers(1, 7), min_size=threshold, max_size=threshold, unique=True)
    )
    lambdas = dkg.lagrange_at_zero(indices)
    value = sum(lambdas[k] * dkg.evaluate(coefficients, k) for k in indices) % R
    assert value == coefficients[0]


def test_thresholds_outside_one_to_seven_are_refused() -> None:
    for t, n in [(0, 3), (4, 3), (1, 8), (8, 8)]:
        with pytest.raises(ValueError):
            dkg.check_threshold(t, n)
    with pytest.raises(ValueError):
        dkg.lagrange_at_zero([1, 1])
