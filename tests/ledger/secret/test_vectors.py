"""tests/vectors/secret_ballot.json: the checked-in file is what the generator writes, and every
vector holds for ledger.secret and for the independent py_ecc implementation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.secret import dkg, tally
from ledger.secret.ballot import BallotStatement, parse_ballot, verify
from ledger.secret.errors import SecretBallotError
from ledger.secret.group import Point
from ledger.secret.transcript import VoteContext, hash_words
from tests.ledger.secret import reference
from tools.secret_vectors import OUTPUT, render

VECTORS: dict[str, Any] = json.loads(OUTPUT.read_text())
CTX = VECTORS["context"]
CONTEXT = VoteContext(CTX["chainId"], int(CTX["contract"], 16), CTX["voteId"])
QUESTION = int(CTX["question"], 16)


def ints(words: list[str]) -> list[int]:
    return [int(w, 16) for w in words]


def point(words: list[str]) -> Point:
    return Point.from_words(*ints(words))


KEY = point(VECTORS["dkg"]["electionKey"])


def statement(case: dict[str, Any]) -> BallotStatement:
    return BallotStatement(CONTEXT, KEY, int(case["voter"], 16), QUESTION, case["options"])


def accepts(case: dict[str, Any]) -> bool:
    try:
        return verify(statement(case), parse_ballot(ints(case["words"]), case["options"]))
    except (SecretBallotError, ValueError):
        return False


def test_checked_in_vectors_are_what_the_generator_writes() -> None:
    assert OUTPUT.read_text() == render(), "run python -m tools.secret_vectors"


def test_hash_vector_holds() -> None:
    assert hash_words(ints(VECTORS["hash"]["words"])) == int(VECTORS["hash"]["h"], 16)
    assert reference.H(ints(VECTORS["hash"]["words"])) == int(VECTORS["hash"]["h"], 16)


@pytest.mark.parametrize("case", VECTORS["ballots"], ids=lambda c: c["why"])
def test_valid_ballot_vector_verifies(case: dict[str, Any]) -> None:
    assert case["valid"]
    assert accepts(case)
    ballot = parse_ballot(ints(case["words"]), case["options"])
    assert "0x" + ballot.digest().hex() == case["digest"]


@pytest.mark.parametrize("case", VECTORS["tampered"], ids=lambda c: c["why"])
def test_tampered_ballot_vector_is_refused(case: dict[str, Any]) -> None:
    assert not case["valid"]
    assert not accepts(case)


@pytest.mark.parametrize("index", [0, -1])
def test_reference_implementation_agrees_on_the_ballot_vectors(index: int) -> None:
    key = reference.point(*ints(VECTORS["dkg"]["electionKey"]))
    for case in (VECTORS["ballots"][index], VECTORS["tampered"][index]):
        head = [*CONTEXT.words(), int(case["voter"], 16), QUESTION]
        assert (
            reference.verify_ballot(head, key, case["options"], ints(case["words"]))
            == case["valid"]
        )


def test_dkg_vector_shares_keys_and_verification_keys_hold() -> None:
    trustees = {t["index"]: t for t in VECTORS["dkg"]["trustees"]}
    commitments = {i: tuple(point(c) for c in t["commitments"]) for i, t in trustees.items()}
    qualified = sorted(trustees)
    assert dkg.election_key(commitments, qualified) == KEY
    for k, t in trustees.items():
        received = {}
        for i, dealer in trustees.items():
            if i == k:
                received[i] = dkg.evaluate(ints(dealer["coefficients"]), k)
                continue
            key = dkg.shared_key(
                int(t["communicationSecret"], 16), point(dealer["communicationKey"])
            )
            encrypted = int(dealer["encryptedShares"][str(k)], 16)
            received[i] = dkg.decrypt_share(CONTEXT, i, k, encrypted, key)
            assert dkg.share_is_valid(received[i], k, commitments[i])
        assert dkg.secret_share(received, qualified) == int(t["share"], 16)
        assert dkg.verification_key(commitments, qualified, k) == point(t["verificationKey"])


def test_tally_vector_partials_verify_and_decrypt_to_the_counts() -> None:
    record = VECTORS["tally"]
    trustees = {t["index"]: t for t in VECTORS["dkg"]["trustees"]}
    sums = [tally.Ciphertext(point(s["a"]), point(s["b"])) for s in record["aggregate"]]
    shares: list[dict[int, Point]] = [{} for _ in sums]
    for p in record["partials"]:
        partial = tally.parse_partial(p["trustee"], p["option"], ints(p["words"]))
        vkey = point(trustees[p["trustee"]]["verificationKey"])
        assert tally.verify_partial(CONTEXT, vkey, sums[p["option"]].a, partial)
        if p["trustee"] in record["finalizers"]:
            shares[p["option"]][p["trustee"]] = partial.share
    assert tally.tally(sums, shares, record["ballots"]) == record["counts"]
    assert dkg.lagrange_at_zero(record["finalizers"]) == {
        int(k): int(v, 16) for k, v in record["lagrange"].items()
    }
