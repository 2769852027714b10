"""SecretProofs.sol through a test harness (tests/contracts/fixtures/SecretProofsHarness.sol):
the same answers as ledger.secret on the checked-in vectors and on fresh ballots, tampered
ones refused, and the gas of a ballot's check for 2, 3, 5 and 8 options."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract

from ledger.build import compile_sources
from ledger.config import Settings
from ledger.secret import dkg, tally
from ledger.secret.ballot import BallotStatement, encrypt
from ledger.secret.group import TWO_G, G, P, Point, R, random_scalar
from ledger.secret.transcript import VoteContext
from tools.secret_vectors import OUTPUT

VECTORS: dict[str, Any] = json.loads(OUTPUT.read_text())
VECTOR_CONTEXT = VoteContext(
    VECTORS["context"]["chainId"],
    int(VECTORS["context"]["contract"], 16),
    VECTORS["context"]["voteId"],
)
QUESTION = int(VECTORS["context"]["question"], 16)
# Gas of SecretProofs.verifyBallot alone (solc 0.8.28, optimizer 200, cancun), measured by this
# file; a change that costs more shows here first.
BALLOT_GAS_CEILING = {2: 160_000, 3: 230_000, 5: 370_000, 8: 580_000}


def ints(words: list[str]) -> list[int]:
    return [int(w, 16) for w in words]


def pt(words: list[str] | tuple[int, int]) -> tuple[int, int]:
    x, y = words
    return (int(x, 16), int(y, 16)) if isinstance(x, str) else (x, y)  # type: ignore[arg-type]


def ctx(context: VoteContext) -> tuple[int, str, int]:
    return (
        context.chain_id,
        Web3.to_checksum_address(context.contract.to_bytes(20, "big")),
        context.vote_id,
    )


VECTOR_KEY = pt(VECTORS["dkg"]["electionKey"])


@pytest.fixture(scope="module")
def harness(w3: Web3, accounts: list[LocalAccount], settings: Settings) -> Contract:
    root = settings.project_root
    artifact = compile_sources(
        [
            root / "tests" / "contracts" / "fixtures" / "SecretProofsHarness.sol",
            root / "contracts" / "libraries" / "SecretProofs.sol",
        ],
        settings,
    )["SecretProofsHarness"]
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor().transact({"from": accounts[0].address})
    address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    return w3.eth.contract(address=address, abi=artifact.abi)


def check_ballot(
    harness: Contract, context: VoteContext, key: tuple[int, int], voter: int, words: list[int]
) -> tuple[bool, int]:
    valid, gas = harness.functions.verifyBallot(
        ctx(context),
        key,
        Web3.to_checksum_address(voter.to_bytes(20, "big")),
        QUESTION.to_bytes(32, "big"),
        words,
    ).call()
    return bool(valid), int(gas)


@pytest.mark.parametrize("case", VECTORS["ballots"], ids=lambda c: c["why"])
def test_ballot_vectors_verify_on_chain(harness: Contract, case: dict[str, Any]) -> None:
    valid, _ = check_ballot(
        harness, VECTOR_CONTEXT, VECTOR_KEY, int(case["voter"], 16), ints(case["words"])
    )
    assert valid


@pytest.mark.parametrize("case", VECTORS["tampered"], ids=lambda c: c["why"])
def test_tampered_ballot_vectors_are_refused_on_chain(
    harness: Contract, case: dict[str, Any]
) -> None:
    valid, _ = check_ballot(
        harness, VECTOR_CONTEXT, VECTOR_KEY, int(case["voter"], 16), ints(case["words"])
    )
    assert not valid


def test_ballot_bound_to_the_contract_and_chain_it_names(harness: Contract) -> None:
    case = VECTORS["ballots"][0]
    words, voter = ints(case["words"]), int(case["voter"], 16)
    for other in (
        VoteContext(1, VECTOR_CONTEXT.contract, VECTOR_CONTEXT.vote_id),
        VoteContext(VECTOR_CONTEXT.chain_id, VECTOR_CONTEXT.contract + 1, VECTOR_CONTEXT.vote_id),
        VoteContext(VECTOR_CONTEXT.chain_id, VECTOR_CONTEXT.contract, VECTOR_CONTEXT.vote_id + 1),
    ):
        assert not check_ballot(harness, other, VECTOR_KEY, voter, words)[0]
    assert not check_ballot(harness, VECTOR_CONTEXT, VECTOR_KEY, voter + 1, words)[0]
    assert not check_ballot(harness, VECTOR_CONTEXT, pt(TWO_G), voter, words)[0]
    assert not check_ballot(harness, VECTOR_CONTEXT, (0, 0), voter, words)[0]
    assert not check_ballot(harness, VECTOR_CONTEXT, VECTOR_KEY, voter, words[:-1])[0]
    assert not check_ballot(harness, VECTOR_CONTEXT, VECTOR_KEY, voter, [])[0]


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_fresh_ballots_agree_with_ledger_secret_and_any_changed_word_fails(
    harness: Contract, data: st.DataObject
) -> None:
    options = data.draw(st.integers(min_value=2, max_value=8))
    key = random_scalar() * G
    voter = 0xA11CE
    statement = BallotStatement(VECTOR_CONTEXT, key, voter, QUESTION, options)
    words = encrypt(statement, data.draw(st.integers(0, options - 1))).words()
    assert check_ballot(harness, VECTOR_CONTEXT, key.words(), voter, words)[0]
    index = data.draw(st.integers(0, len(words) - 1))
    tampered = list(words)
    tampered[index] = (tampered[index] + data.draw(st.integers(1, 2**256 - 1))) % 2**256
    assert not check_ballot(harness, VECTOR_CONTEXT, key.words(), voter, tampered)[0]


def test_ballot_gas_for_2_3_5_and_8_options(harness: Contract) -> None:
    key = random_scalar() * G
    measured = {}
    for options in (2, 3, 5, 8):
        statement = BallotStatement(VECTOR_CONTEXT, key, 0xB0B, QUESTION, options)
        valid, gas = check_ballot(
            harness, VECTOR_CONTEXT, key.words(), 0xB0B, encrypt(statement, 1).words()
        )
        assert valid
        measured[options] = gas
    print("SecretProofs.verifyBallot gas by options:", measured)
    for options, gas in measured.items():
        assert gas <= BALLOT_GAS_CEILING[options], (options, gas)


def test_partial_vectors_verify_on_chain_and_a_wrong_one_does_not(harness: Contract) -> None:
    trustees = {t["index"]: t for t in VECTORS["dkg"]["trustees"]}
    aggregates = VECTORS["tally"]["aggregate"]
    for p in VECTORS["tally"]["partials"]:
        vkey = pt(trustees[p["trustee"]]["verificationKey"])
        sa = pt(aggregates[p["option"]]["a"])
        words = ints(p["words"])
        call = harness.functions.verifyPartial
        assert call(ctx(VECTOR_CONTEXT), p["trustee"], p["option"], vkey, sa, words).call()[0]
        other_trustee = p["trustee"] % 3 + 1
        assert not call(ctx(VECTOR_CONTEXT), other_trustee, p["option"], vkey, sa, words).call()[0]
        shifted = [words[0], words[1], words[2], (words[3] + 1) % R]
        assert not call(ctx(VECTOR_CONTEXT), p["trustee"], p["option"], vkey, sa, shifted).call()[0]
        plus_r = [words[0], words[1], words[2] + R, words[3]]
        assert not call(ctx(VECTOR_CONTEXT), p["trustee"], p["option"], vkey, sa, plus_r).call()[0]
        off_curve = [words[0], words[1] ^ 1, words[2], words[3]]
        assert not call(ctx(VECTOR_CONTEXT), p["trustee"], p["option"], vkey, sa, off_curve).call()[
            0
        ]


def test_fresh_partial_verifies_on_chain_and_reports_its_gas(harness: Contract) -> None:
    share = random_scalar()
    sa = random_scalar() * G
    partial = tally.decrypt_partial(VECTOR_CONTEXT, 2, 1, share, sa)
    valid, gas = harness.functions.verifyPartial(
        ctx(VECTOR_CONTEXT), 2, 1, (share * G).words(), sa.words(), partial.words()
    ).call()
    assert valid
    print("SecretProofs.verifyPartial gas:", gas)
    assert gas <= 40_000


def test_dkg_vectors_commitments_shares_and_verification_keys_on_chain(harness: Contract) -> None:
    trustees = VECTORS["dkg"]["trustees"]
    threshold = VECTORS["dkg"]["threshold"]
    flat = [pt(c) for t in trustees for c in t["commitments"]]
    for t in trustees:
        k = t["index"]
        assert tuple(harness.functions.verificationKey(flat, threshold, k).call()) == pt(
            t["verificationKey"]
        )
        for dealer in trustees:
            commitments = [pt(c) for c in dealer["commitments"]]
            share = dkg.evaluate(ints(dealer["coefficients"]), k)
            assert harness.functions.shareMatches(commitments, k, share).call()
            assert not harness.functions.shareMatches(commitments, k, (share + 1) % R).call()
            assert not harness.functions.shareMatches(commitments, k, share + R).call()
            value = Point.from_words(*harness.functions.commitmentAt(commitments, k).call())
            assert value == share * G


def test_lagrange_coefficients_match_ledger_secret(harness: Contract) -> None:
    for indices in ([1, 2], [2, 3], [1, 3, 5], [1, 2, 3, 4, 5, 6, 7]):
        expected = dkg.lagrange_at_zero(indices)
        for k in indices:
            assert harness.functions.lagrangeAtZero(indices, k).call() == expected[k]


def test_point_checks_and_arithmetic_match_ledger_secret(harness: Contract) -> None:
    x, y = TWO_G
    assert harness.functions.isOnCurve(0, 0).call()
    assert harness.functions.isOnCurve(x, y).call()
    assert not harness.functions.isOnCurve(x + P, y).call()
    assert not harness.functions.isOnCurve(x, y + P).call()
    assert not harness.functions.isOnCurve(1, 3).call()
    a, b = random_scalar(), random_scalar()
    pa, pb = (a * G).words(), (b * G).words()
    assert tuple(harness.functions.add(pa, pb).call()) == (a * G + b * G).words()
    assert tuple(harness.functions.sub(pa, pb).call()) == (a * G - b * G).words()
    assert tuple(harness.functions.sub(pa, pa).call()) == (0, 0)
    assert tuple(harness.functions.mul(pa, b).call()) == (b * (a * G)).words()
    assert tuple(harness.functions.mul(pa, R).call()) == (0, 0)


def test_valid_ballot_short_of_gas_reverts_and_is_never_called_invalid(
    harness: Contract,
) -> None:
    # A challenger who sends too little gas must not get "invalid" for a valid ballot.
    case = VECTORS["ballots"][0]
    call = harness.functions.verifyBallot(
        ctx(VECTOR_CONTEXT),
        VECTOR_KEY,
        Web3.to_checksum_address(int(case["voter"], 16).to_bytes(20, "big")),
        QUESTION.to_bytes(32, "big"),
        ints(case["words"]),
    )
    # Every gas limit from well short to enough, finely near the end, where a failed last
    # precompile would come closest to leaving gas to hash and return.
    needed = call.estimate_gas()
    answers = set()
    for gas in [*range(60_000, needed - 12_000, 8_000), *range(needed - 12_000, needed + 200, 200)]:
        try:
            valid, _ = call.call({"gas": gas})
        except Exception:  # reverted or out of gas: both leave the ballot counted
            answers.add("reverted")
            continue
        answers.add("valid" if valid else "INVALID")
    assert answers == {"reverted", "valid"}
