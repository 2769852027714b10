"""SecretBallot: opening rules, the trustees' key generation on-chain (keys, deals, complaints,
answers, disqualification), encrypted ballots relayed in batches (every skip rule both ways), a
challenge window that voids an invalid ballot, proven partial decryptions and the checked tally,
end to end with ballots and shares made by ledger.secret."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import SecretDisqualifyReason, SecretSkipReason, SecretVoteState
from ledger.secret.group import G, P, Point, random_scalar
from ledger.signing.secp256k1 import HALF_N
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    ANSWERS,
    CHALLENGES,
    VOTING,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.contracts.conftest import Clock, Hall, signer_keys

S = SecretSkipReason
State = SecretVoteState


@pytest.fixture
def secret(w3: Web3, system: Deployment) -> SecretBallotContract:
    return SecretBallotContract(w3, system.secret)


@pytest.fixture
def trustees(accounts: list[LocalAccount]) -> list[Trustee]:
    """Three trustees with funded accounts, 2 of 3 to decrypt."""
    return [Trustee(k, accounts[4 + k], 2) for k in (1, 2, 3)]


OpenVote = Callable[..., int]


@pytest.fixture
def open_vote(
    secret: SecretBallotContract, hall: Hall, clock: Clock, trustees: list[Trustee]
) -> OpenVote:
    def open_(**overrides: object) -> int:
        fields: dict[str, object] = {
            "community_id": hall.id,
            "trustees": tuple(t.account.address for t in trustees),
            "threshold": 2,
            "start": clock.now(),
        }
        fields.update(overrides)
        return secret.open_vote(hall.committee, SecretVoteParams(**fields))  # type: ignore[arg-type]

    return open_


@pytest.fixture
def keyed_vote(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> int:
    """A 2-of-3 vote of three options whose key generation went cleanly; ballots are open."""
    vote_id = open_vote()
    secret.run_key_generation(vote_id, trustees, clock)
    return vote_id


def _rule(call: Callable[[], object]) -> str:
    with pytest.raises(ContractRuleBroken) as broken:
        call()
    return broken.value.error


def _signed(secret: SecretBallotContract, vote_id: int, voter: LocalAccount, choice: int) -> object:
    return secret.sign(voter, vote_id, secret.ballot_words(vote_id, voter.address, choice))


# ---------------------------------------------------------------- opening


def test_only_a_committee_member_opens_a_secret_vote(
    secret: SecretBallotContract, open_vote: OpenVote, hall: Hall, clock: Clock
) -> None:
    params = SecretVoteParams(hall.id, (hall.voters[0].address,), 1, clock.now())
    assert _rule(lambda: secret.open_vote(hall.voters[0], params)) == "NotCommittee"
    vote_id = open_vote()
    view = secret.vote(vote_id)
    assert view.opener == hall.committee.address
    assert view.state == State.Keys
    assert view.rollSize == len(hall.residents)
    assert view.threshold == 2 and len(view.trustees) == 3


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"option_count": 1}, "InvalidOptionCount"),
        ({"option_count": 9}, "InvalidOptionCount"),
        ({"threshold": 0}, "InvalidTrustees"),
        ({"threshold": 4}, "InvalidTrustees"),
        ({"trustees": ()}, "InvalidTrustees"),
        ({"trustees": tuple(a.address for a in signer_keys(8, "t"))}, "InvalidTrustees"),
        ({"trustees": (signer_keys(1)[0].address,) * 2, "threshold": 1}, "InvalidTrustees"),
        ({"start": 1}, "InvalidSecretSchedule"),
    ],
)
def test_a_secret_vote_breaking_an_opening_rule_is_refused(
    open_vote: OpenVote, overrides: dict[str, object], error: str
) -> None:
    assert _rule(lambda: open_vote(**overrides)) == error


# ---------------------------------------------------------------- key generation


def test_a_clean_key_generation_fixes_the_key_from_every_dealer(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> None:
    vote_id = open_vote()
    receipt = secret.run_key_generation(vote_id, trustees, clock)
    (generated,) = secret.events(receipt, "KeyGenerated")
    assert secret.qualified(vote_id) == [1, 2, 3]
    expected = sum((t.dealer.coefficients[0] for t in trustees), 0) * G
    assert secret.election_key(vote_id) == expected
    for t in trustees:
        x_k = secret.secret_share(vote_id, t)
        keys = list(generated["verificationKeys"])
        assert Point.from_words(keys[2 * t.number - 2], keys[2 * t.number - 1]) == x_k * G
    assert secret.vote(vote_id).state == State.Open


def test_a_non_trustee_cannot_take_a_trustees_step(
    secret: SecretBallotContract, open_vote: OpenVote, hall: Hall, clock: Clock
) -> None:
    vote_id = open_vote()
    outsider = Trustee(1, hall.voters[0], 2)
    assert _rule(lambda: secret.register_key(vote_id, outsider)) == "NotTrustee"
    clock.advance(ANSWERS)
    call = secret.contract.functions.deal(vote_id, [1, 2, 1, 2], [0, 0, 0])
    assert _rule(lambda: secret.send(hall.voters[0], call)) == "NotTrustee"


def test_steps_outside_their_phase_are_refused(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> None:
    vote_id = open_vote()
    secret.register_key(vote_id, trustees[0])
    assert _rule(lambda: secret.register_key(vote_id, trustees[0])) == "AlreadyDone"
    keys = {1: trustees[0].key}
    assert _rule(lambda: secret.deal(vote_id, trustees[0], keys, 3)) == "WrongPhase"
    close = secret.contract.functions.closeKeyGeneration(vote_id)
    assert _rule(lambda: secret.send(trustees[0].account, close)) == "WrongPhase"
    clock.advance(100)
    assert _rule(lambda: secret.register_key(vote_id, trustees[1])) == "WrongPhase"
    assert _rule(lambda: secret.deal(vote_id, trustees[1], keys, 3)) == "NoCommunicationKey"


def test_an_off_curve_communication_key_or_commitment_is_refused(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> None:
    vote_id = open_vote()
    t = trustees[0]
    for bad in ([1, 3], [1 + P, 2], [0, 0]):
        call = secret.contract.functions.registerCommunicationKey(vote_id, bad)
        assert _rule(lambda call=call: secret.send(t.account, call)) == "InvalidPoint"
    secret.register_key(vote_id, t)
    clock.advance(100)
    call = secret.contract.functions.deal(vote_id, [1, 2, 1, 3], [0, 0, 0])
    assert _rule(lambda: secret.send(t.account, call)) == "InvalidPoint"
    call = secret.contract.functions.deal(vote_id, [1, 2], [0, 0, 0])
    assert _rule(lambda: secret.send(t.account, call)) == "MalformedDeal"


def test_a_bad_share_answered_right_keeps_the_dealer(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> None:
    vote_id = open_vote()
    receipt = secret.run_key_generation(vote_id, trustees, clock, corrupt={2: [1]})
    assert secret.events(receipt, "TrusteeDisqualified") == []
    assert secret.qualified(vote_id) == [1, 2, 3]
    assert trustees[0].received[2] == trustees[1].dealer.share_for(1)


def test_a_bad_share_answered_wrong_disqualifies_the_dealer(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> None:
    vote_id = open_vote()
    secret.run_key_generation(vote_id, trustees, clock, corrupt={3: [1]}, lying=[3])
    assert secret.qualified(vote_id) == [1, 2]
    expected = (trustees[0].dealer.coefficients[0] + trustees[1].dealer.coefficients[0]) * G
    assert secret.election_key(vote_id) == expected


def test_an_unanswered_complaint_disqualifies_the_dealer(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> None:
    vote_id = open_vote()
    receipt = secret.run_key_generation(vote_id, trustees, clock, corrupt={1: [2]}, mute=[1])
    (dropped,) = secret.events(receipt, "TrusteeDisqualified")
    assert (dropped["trustee"], dropped["reason"]) == (1, SecretDisqualifyReason.NoAnswer)
    assert secret.qualified(vote_id) == [2, 3]


def test_a_missing_dealer_is_disqualified_and_the_vote_runs_without_it(
    secret: SecretBallotContract,
    open_vote: OpenVote,
    trustees: list[Trustee],
    clock: Clock,
    hall: Hall,
) -> None:
    vote_id = open_vote()
    receipt = secret.run_key_generation(vote_id, trustees, clock, no_deal=[3])
    (dropped,) = secret.events(receipt, "TrusteeDisqualified")
    assert (dropped["trustee"], dropped["reason"]) == (3, SecretDisqualifyReason.NoDeal)
    assert secret.qualified(vote_id) == [1, 2]
    ballots = [
        _signed(secret, vote_id, v, c) for v, c in zip(hall.signers, [0, 1, 1], strict=False)
    ]
    secret.cast(hall.admin, vote_id, ballots)  # type: ignore[arg-type]
    clock.advance(VOTING + CHALLENGES)
    for t in trustees[:2]:
        secret.publish(vote_id, t)
    assert _rule(lambda: secret.publish(vote_id, trustees[2])) == "NotQualified"
    secret.finalize(hall.admin, vote_id, [1, 2, 0])
    assert list(secret.vote(vote_id).tally) == [1, 2, 0]


def test_too_few_qualified_trustees_fail_the_vote(
    secret: SecretBallotContract,
    open_vote: OpenVote,
    trustees: list[Trustee],
    clock: Clock,
    hall: Hall,
) -> None:
    vote_id = open_vote()
    receipt = secret.run_key_generation(vote_id, trustees, clock, silent=[2], no_deal=[3])
    (failed,) = secret.events(receipt, "KeyGenerationFailed")
    assert failed["qualifiedCount"] == 1
    reasons = {e["trustee"]: e["reason"] for e in secret.events(receipt, "TrusteeDisqualified")}
    assert reasons == {2: SecretDisqualifyReason.NoKey, 3: SecretDisqualifyReason.NoDeal}
    assert secret.vote(vote_id).state == State.KeyFailed
    words = [1, 2] * 11 + [0]
    batch = secret.cast(hall.admin, vote_id, [secret.sign(hall.signers[0], vote_id, words)])
    assert batch.skipped == ((hall.signers[0].address, S.SecretVoteNotOpen),)


def test_an_election_key_at_infinity_fails_the_vote(
    secret: SecretBallotContract, open_vote: OpenVote, trustees: list[Trustee], clock: Clock
) -> None:
    from ledger.secret.dkg import Dealer
    from ledger.secret.group import R

    # Dealer 2 cancels dealer 1's secret: with dealer 3 silent, Y = C_10 + C_20 = infinity.
    first = trustees[0].dealer.coefficients
    trustees[1].dealer = Dealer(2, ((R - first[0]) % R, 5))
    vote_id = open_vote()
    receipt = secret.run_key_generation(vote_id, trustees, clock, no_deal=[3])
    (failed,) = secret.events(receipt, "KeyGenerationFailed")
    assert failed["qualifiedCount"] == 2
    assert secret.vote(vote_id).state == State.KeyFailed


# ---------------------------------------------------------------- ballots


def test_ballots_before_the_key_is_generated_are_not_counted(
    secret: SecretBallotContract, open_vote: OpenVote, hall: Hall
) -> None:
    vote_id = open_vote()
    words = [1, 2] * 11 + [0]
    batch = secret.cast(hall.admin, vote_id, [secret.sign(hall.signers[0], vote_id, words)])
    assert batch.skipped == ((hall.signers[0].address, S.SecretVoteNotOpen),)
    assert batch.batch is None


def test_each_ballot_rule_is_judged_and_the_batch_goes_on(
    secret: SecretBallotContract, keyed_vote: int, hall: Hall
) -> None:
    vote_id = keyed_vote
    a, b, c, d, e = hall.signers
    good = _signed(secret, vote_id, a, 0)
    words_b = secret.ballot_words(vote_id, b.address, 1)
    wrong_signer = secret.sign(c, vote_id, words_b).call_arg()  # type: ignore[attr-defined]
    wrong_signer = (b.address, *wrong_signer[1:])
    off_curve = list(secret.ballot_words(vote_id, c.address, 2))
    off_curve[1] ^= 1
    plus_p = list(secret.ballot_words(vote_id, d.address, 2))
    plus_p[0] += P
    short = secret.ballot_words(vote_id, e.address, 0)[:-1]
    stranger = _signed(secret, vote_id, hall.stranger, 0)
    batch = secret.cast(
        hall.admin,
        vote_id,
        [
            good,
            wrong_signer,
            secret.sign(c, vote_id, off_curve),
            secret.sign(d, vote_id, plus_p),
            secret.sign(e, vote_id, short),
            stranger,
            good,  # a replay in the same batch
        ],
    )
    assert batch.cast == (a.address,)
    assert batch.skipped == (
        (b.address, S.BadSignature),
        (c.address, S.InvalidPoint),
        (d.address, S.InvalidPoint),
        (e.address, S.MalformedBallot),
        (hall.stranger.address, S.NotOnRoll),
        (a.address, S.AlreadyVoted),
    )
    # The voters whose ballots were refused for their content may still vote.
    later = secret.cast(
        hall.admin, vote_id, [_signed(secret, vote_id, v, 1) for v in (b, c, d)] + [good]
    )
    assert later.cast == (b.address, c.address, d.address)
    assert later.skipped == ((a.address, S.AlreadyVoted),)


def test_an_s_above_half_the_order_is_refused_before_recovery(
    secret: SecretBallotContract, keyed_vote: int, hall: Hall
) -> None:
    voter = hall.signers[0]
    voter_address, words, r, _ = _signed(secret, keyed_vote, voter, 0).call_arg()  # type: ignore[attr-defined]
    # The compact form holds s up to 2^255: one above n/2 is the twin of a low one.
    malleable = (voter_address, words, r, (HALF_N + 1).to_bytes(32, "big"))
    batch = secret.cast(hall.admin, keyed_vote, [malleable])
    assert batch.skipped == ((voter.address, S.MalleableSignature),)


def test_nothing_about_the_ballots_shows_before_the_close(
    secret: SecretBallotContract, keyed_vote: int, hall: Hall, clock: Clock
) -> None:
    voter = hall.signers[0]
    secret.cast(hall.admin, keyed_vote, [_signed(secret, keyed_vote, voter, 1)])
    view = secret.vote(keyed_vote)
    assert view.ballotCount == 0 and list(view.aggregate) == [] and list(view.tally) == []
    assert secret.contract.functions.hasVotedSecretly(keyed_vote, voter.address).call()
    clock.advance(VOTING)
    view = secret.vote(keyed_vote)
    assert view.ballotCount == 1 and len(view.aggregate) == 12


# ---------------------------------------------------------------- end to end


def test_a_secret_vote_end_to_end_voids_invalid_ballots_and_finalizes_the_checked_tally(
    secret: SecretBallotContract,
    keyed_vote: int,
    trustees: list[Trustee],
    hall: Hall,
    clock: Clock,
) -> None:
    vote_id = keyed_vote
    a, b, c, d, e = hall.signers
    f = hall.voters[0]
    choices = {a: 0, b: 1, c: 1, d: 2}
    honest = {v: secret.ballot_words(vote_id, v.address, ch) for v, ch in choices.items()}
    # e copies a's ballot word for word; f re-randomizes b's ciphertexts (same choice, new
    # randomness) and keeps b's proof: both sign their own, and both are counted for now.
    copied = honest[a]
    rho = random_scalar()
    key = secret.election_key(vote_id)
    rerandomized = list(honest[b])
    for j in range(3):
        at = 4 * j
        a_j = Point.from_words(*rerandomized[at : at + 2]) + rho * G
        b_j = Point.from_words(*rerandomized[at + 2 : at + 4]) + rho * key
        rerandomized[at : at + 4] = [*a_j.words(), *b_j.words()]
    ballots = [secret.sign(v, vote_id, w) for v, w in honest.items()]
    ballots += [secret.sign(e, vote_id, copied), secret.sign(f, vote_id, rerandomized)]
    batch = secret.cast(hall.admin, vote_id, ballots)
    assert len(batch.cast) == 6 and batch.batch == 0

    assert _rule(lambda: secret.challenge(hall.admin, vote_id, batch, e.address, copied)) == (
        "WrongPhase"
    )
    clock.advance(VOTING)
    assert secret.vote(vote_id).ballotCount == 6
    assert _rule(lambda: secret.challenge(hall.admin, vote_id, batch, a.address, honest[a])) == (
        "BallotProofsValid"
    )
    for voter, words in ((e, copied), (f, rerandomized)):
        receipt = secret.challenge(hall.voters[1], vote_id, batch, voter.address, words)
        (voided,) = secret.events(receipt, "SecretBallotVoided")
        assert voided["voter"] == voter.address and voided["challenger"] == hall.voters[1].address
    assert _rule(lambda: secret.challenge(hall.admin, vote_id, batch, e.address, copied)) == (
        "BallotAlreadyVoided"
    )
    assert secret.vote(vote_id).ballotCount == 4

    assert _rule(lambda: secret.publish(vote_id, trustees[0])) == "WrongPhase"
    clock.advance(CHALLENGES)
    assert _rule(lambda: secret.challenge(hall.admin, vote_id, batch, b.address, honest[b])) == (
        "WrongPhase"
    )
    assert _rule(lambda: secret.finalize(hall.admin, vote_id, [1, 2, 1])) == "NotEnoughPartials"
    good = [w for p in secret.partials(vote_id, trustees[2]) for w in p.words()]
    forged = list(good)
    forged[4:6] = (2 * Point.from_words(*good[4:6])).words()
    assert _rule(lambda: secret.publish(vote_id, trustees[2], forged)) == "InvalidPartialDecryption"
    secret.publish(vote_id, trustees[2], good)
    assert _rule(lambda: secret.publish(vote_id, trustees[2], good)) == "AlreadyDone"
    secret.publish(vote_id, trustees[0])

    tally = secret.tally(vote_id, [trustees[0], trustees[2]])
    assert tally == [1, 2, 1]  # the voided copies excluded
    for wrong in ([2, 1, 1], [1, 2, 2], [1, 2], [0, 2, 1]):
        assert (
            _rule(lambda wrong=wrong: secret.finalize(hall.admin, vote_id, wrong)) == "WrongTally"
        )
    receipt = secret.finalize(hall.admin, vote_id, tally)
    (final,) = secret.events(receipt, "SecretVoteFinalized")
    assert list(final["tally"]) == [1, 2, 1] and final["used"] == 0b1010
    view = secret.vote(vote_id)
    assert view.state == State.Finalized and list(view.tally) == [1, 2, 1]


def test_a_batch_of_fifty_three_option_ballots_costs_at_most_40000_gas_each(
    secret: SecretBallotContract,
    open_vote: OpenVote,
    trustees: list[Trustee],
    registry_client: RegistryContract,
    hall: Hall,
    clock: Clock,
) -> None:
    voters = signer_keys(100, "secret-gas")
    registry_client.update_roll(hall.admin, hall.id, [v.address for v in voters])
    vote_id = open_vote()
    secret.run_key_generation(vote_id, trustees, clock)
    per_ballot = []
    for start in (0, 50):
        group = voters[start : start + 50]
        ballots = [_signed(secret, vote_id, v, i % 3) for i, v in enumerate(group)]
        batch = secret.cast(hall.admin, vote_id, ballots)  # type: ignore[arg-type]
        assert len(batch.cast) == 50
        per_ballot.append(batch.gas_used / 50)
    print(f"gas per 3-option ballot in batches of 50: {per_ballot}")
    assert max(per_ballot) <= 40_000, per_ballot
