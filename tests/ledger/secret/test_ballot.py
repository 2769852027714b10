"""Ballots: every honest ballot verifies; any change to it, any reuse of it elsewhere and any
ballot that is not one 1 among 0s is refused."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.secret.ballot import (
    MAX_OPTIONS,
    MIN_OPTIONS,
    Ballot,
    BallotStatement,
    Ciphertext,
    OptionProof,
    encrypt,
    encrypt_messages,
    parse_ballot,
    recompute_commitments,
    verify,
    word_count,
)
from ledger.secret.errors import SecretBallotError
from ledger.secret.group import G, P, Point, R, random_scalar
from ledger.secret.transcript import VoteContext

KEY = random_scalar() * G
CONTEXT = VoteContext(chain_id=31337, contract=0xC0FFEE, vote_id=4)
VOTER = 0x70997970C51812DC3A010C7D01B50E0D17DC79C8


def statement(options: int = 3, **changes: object) -> BallotStatement:
    fields: dict[str, object] = {
        "context": CONTEXT,
        "key": KEY,
        "voter": VOTER,
        "question": 0xBEEF,
        "options": options,
    }
    fields.update(changes)
    return BallotStatement(**fields)  # type: ignore[arg-type]


def accepts(statement: BallotStatement, words: Sequence[int]) -> bool:
    """What a verifier of calldata decides: parse (points and scalars checked), then verify."""
    try:
        return verify(statement, parse_ballot(words, statement.options))
    except (SecretBallotError, ValueError):
        return False


option_counts = st.integers(min_value=MIN_OPTIONS, max_value=MAX_OPTIONS)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_honest_ballot_verifies_for_every_choice(data: st.DataObject) -> None:
    options = data.draw(option_counts)
    choice = data.draw(st.integers(min_value=0, max_value=options - 1))
    ballot = encrypt(statement(options), choice)
    assert verify(statement(options), ballot)
    assert len(ballot.words()) == word_count(options)
    assert accepts(statement(options), ballot.words())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_changed_word_is_refused(data: st.DataObject) -> None:
    options = data.draw(option_counts)
    words = encrypt(statement(options), data.draw(st.integers(0, options - 1))).words()
    index = data.draw(st.integers(min_value=0, max_value=len(words) - 1))
    delta = data.draw(st.integers(min_value=1, max_value=2**256 - 1))
    tampered = list(words)
    tampered[index] = (tampered[index] + delta) % 2**256
    assert not accepts(statement(options), tampered)


def test_ballot_decrypts_to_its_choice_with_the_secret_key() -> None:
    secret = random_scalar()
    st_ = statement(4, key=secret * G)
    ballot = encrypt(st_, 2)
    plain = [ct.b - secret * ct.a for ct in ballot.ciphertexts]
    assert plain == [0 * G, 0 * G, G, 0 * G]


@pytest.mark.parametrize(
    "change",
    [
        {"voter": VOTER + 1},
        {"context": VoteContext(31337, 0xC0FFEE, 5)},
        {"context": VoteContext(1, 0xC0FFEE, 4)},
        {"context": VoteContext(31337, 0xC0FFEF, 4)},
        {"question": 0xBEEE},
        {"key": 2 * KEY},
    ],
    ids=[
        "other voter",
        "other election",
        "other chain",
        "other contract",
        "other question",
        "other key",
    ],
)
def test_ballot_copied_elsewhere_is_refused(change: dict[str, object]) -> None:
    ballot = encrypt(statement(), 1)
    assert verify(statement(), ballot)
    assert not verify(statement(**change), ballot)


def rerandomize(ballot: Ballot, key: object, extra: Sequence[int]) -> Ballot:
    """Add an encryption of 0 (extra_j·g, extra_j·Y) to every ciphertext."""
    assert isinstance(key, type(G))
    return Ballot(
        tuple(
            Ciphertext(ct.a + r * G, ct.b + r * key)
            for ct, r in zip(ballot.ciphertexts, extra, strict=True)
        ),
        ballot.challenge,
        ballot.option_proofs,
        ballot.z_sum,
    )


def test_rerandomized_copy_is_refused_and_the_helios_patch_does_not_help() -> None:
    original = encrypt(statement(), 0)
    extra = [random_scalar() for _ in range(3)]
    copy = rerandomize(original, KEY, extra)
    assert not verify(statement(), copy)
    # The patch that works against a transcript of commitments only: shift every response by
    # its challenge times the added randomness. Every commitment comes out unchanged ...
    c = original.challenge
    patched = Ballot(
        copy.ciphertexts,
        c,
        tuple(
            OptionProof(op.c0, (op.z0 + op.c0 * r) % R, (op.z1 + (c - op.c0) * r) % R)
            for op, r in zip(original.option_proofs, extra, strict=True)
        ),
        (original.z_sum + c * sum(extra)) % R,
    )
    assert recompute_commitments(statement(), patched) == recompute_commitments(
        statement(), original
    )
    # ... but the challenge also hashes the ciphertexts, so the copy is still refused.
    assert not verify(statement(), patched)


@pytest.mark.parametrize(
    "messages",
    [[1, 1, 0], [0, 0, 0], [2, 0, 0], [0, 2, 0], [1, 1, 1]],
    ids=["two ones", "all zeros", "a two", "a two elsewhere", "all ones"],
)
def test_ballot_that_is_not_one_choice_is_refused(messages: list[int]) -> None:
    assert not verify(statement(), encrypt_messages(statement(), messages))


def test_off_curve_point_and_x_plus_p_are_refused_when_read() -> None:
    words = encrypt(statement(), 1).words()
    off_curve = list(words)
    off_curve[1] ^= 1
    assert not accepts(statement(), off_curve)
    plus_p = list(words)
    plus_p[0] += P
    assert plus_p[0] < 2**256
    assert not accepts(statement(), plus_p)


def test_proof_scalar_plus_r_is_refused() -> None:
    ballot = encrypt(statement(), 1)
    words = ballot.words()
    for index in range(4 * 3, len(words)):
        shifted = list(words)
        shifted[index] += R
        assert not accepts(statement(), shifted)
    bad = Ballot(ballot.ciphertexts, ballot.challenge + R, ballot.option_proofs, ballot.z_sum)
    assert not verify(statement(), bad)


def test_ballot_of_the_wrong_size_is_refused() -> None:
    words = encrypt(statement(3), 1).words()
    assert not accepts(statement(3), words[:-1])
    assert not accepts(statement(4), words)
    with pytest.raises(ValueError):
        statement(MAX_OPTIONS + 1)
    with pytest.raises(ValueError):
        encrypt(statement(3), 3)


def test_election_key_at_infinity_is_refused() -> None:
    with pytest.raises(ValueError, match="infinity"):
        statement(key=Point.infinity())
