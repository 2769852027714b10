"""Ratings: residents rate a passed proposal once its execution is marked completed, 1 to 5,
signed and relayed, once each, within the window; every rule both ways."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.budget.grants import grant_id
from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.protocol.generated import RatingSkipReason as Skip
from ledger.signing.eip712 import to_compact
from ledger.signing.ratings import RatingDomain, sign_rating
from ledger.signing.secp256k1 import HALF_N
from ledger.tx import send
from tests.audit.budget_town import Round, budget_town
from tests.contract_wrappers.ratings import RatingsContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import ProposalFactory, Town, signer_keys

PERIOD = 30 * 24 * 3600


def _refused(error: str) -> pytest.RaisesExc[ContractRuleBroken]:
    return pytest.raises(ContractRuleBroken, match=rf"^{error}\(")


@pytest.fixture
def ratings(w3: Web3, system: Deployment) -> RatingsContract:
    return RatingsContract(w3, system.ratings)


def _complete(w3: Web3, system: Deployment, town: Town, pid: int, *, done: bool = True) -> None:
    record = system.council.functions.recordMilestone(pid, b"\x0e" * 32, done)
    send(w3, town.committee[0], record)


@pytest.fixture
def completed(w3: Web3, system: Deployment, town: Town, make_proposal: ProposalFactory) -> int:
    pid = make_proposal(town, outcome="passed")
    _complete(w3, system, town, pid)
    return pid


def test_residents_rate_a_completed_proposal_and_the_summary_is_public(
    ratings: RatingsContract, town: Town, completed: int, accounts: list[LocalAccount]
) -> None:
    r = town.residents
    comment = Web3.keccak(text="the new benches are great")
    batch = ratings.rate(
        accounts[9],
        completed,
        [ratings.sign(r[0], completed, 5, comment), ratings.sign(r[1], completed, 4),
         ratings.sign(r[2], completed, 2)],
    )  # fmt: skip
    assert batch.opened and batch.skipped == ()
    assert batch.rated == ((r[0].address, 5), (r[1].address, 4), (r[2].address, 2))
    summary = ratings.summary(completed)
    assert (summary.count, summary.scoreSum, summary.average) == (3, 11, 366)
    assert summary.communityId == town.id and summary.rollSize == len(town.residents)
    assert ratings.has_rated(completed, r[0].address)
    assert not ratings.has_rated(completed, r[3].address)
    digest = ratings.contract.functions.ratingDigest(completed, r[0].address, 5, comment).call()
    assert bytes(digest) == ratings.sign(r[0], completed, 5, comment).digest


@pytest.mark.parametrize("outcome", ["open", "closed", "rejected", "passed"])
def test_rating_before_completion_is_refused(
    w3: Web3,
    system: Deployment,
    ratings: RatingsContract,
    town: Town,
    make_proposal: ProposalFactory,
    accounts: list[LocalAccount],
    outcome: str,
) -> None:
    pid = make_proposal(town, outcome=outcome)
    if outcome == "passed":
        _complete(w3, system, town, pid, done=False)  # in progress only
    with _refused("ProposalNotCompleted"):
        ratings.rate(accounts[9], pid, [ratings.sign(town.residents[0], pid, 5)])


def test_an_unknown_proposal_cannot_be_rated(
    ratings: RatingsContract, town: Town, accounts: list[LocalAccount]
) -> None:
    with _refused("ProposalNotCompleted"):
        ratings.rate(accounts[9], 999, [ratings.sign(town.residents[0], 999, 5)])


def test_bad_ratings_are_skipped_with_their_reason_and_the_rest_counted(
    w3: Web3, ratings: RatingsContract, town: Town, completed: int, accounts: list[LocalAccount]
) -> None:
    r = town.residents
    good = ratings.sign(r[0], completed, 3)
    zero = ratings.sign(r[1], completed, 0)
    six = ratings.sign(r[1], completed, 6)
    forged = (r[2].address, 5, bytes(32), *to_compact(ratings.sign(r[3], completed, 5).signature))
    r_, _ = to_compact(ratings.sign(r[3], completed, 5).signature)
    malleable = (r[3].address, 5, bytes(32), r_, (HALF_N + 1).to_bytes(32, "big"))
    outsider = ratings.sign(town.outsider, completed, 5)
    elsewhere = sign_rating(
        r[4], completed, 5, bytes(32), RatingDomain(w3.eth.chain_id, r[4].address)
    )
    batch = ratings.rate(
        accounts[9], completed, [good, zero, six, forged, malleable, outsider, elsewhere, good]
    )
    assert batch.rated == ((r[0].address, 3),)
    assert batch.skipped == (
        (r[1].address, Skip.InvalidScore),
        (r[1].address, Skip.InvalidScore),
        (r[2].address, Skip.BadSignature),
        (r[3].address, Skip.MalleableSignature),
        (town.outsider.address, Skip.NotOnRoll),
        (r[4].address, Skip.BadSignature),
        (r[0].address, Skip.AlreadyRated),
    )
    again = ratings.rate(accounts[9], completed, [ratings.sign(r[0], completed, 1)])
    assert again.skipped == ((r[0].address, Skip.AlreadyRated),)
    assert (ratings.summary(completed).count, ratings.summary(completed).scoreSum) == (1, 3)


def test_ratings_are_judged_at_the_roll_published_when_they_opened(
    ratings: RatingsContract,
    registry_client: RegistryContract,
    town: Town,
    completed: int,
    accounts: list[LocalAccount],
) -> None:
    r = town.residents
    ratings.rate(accounts[9], completed, [ratings.sign(r[0], completed, 4)])
    newcomer = town.outsider
    registry_client.update_roll(town.admin, town.id, [newcomer.address], [r[1].address])
    batch = ratings.rate(
        accounts[9],
        completed,
        [ratings.sign(r[1], completed, 5), ratings.sign(newcomer, completed, 5)],
    )
    assert batch.rated == ((r[1].address, 5),) and not batch.opened
    assert batch.skipped == ((newcomer.address, Skip.NotOnRoll),)


def test_ratings_after_the_window_are_skipped(
    w3: Web3, ratings: RatingsContract, town: Town, completed: int, accounts: list[LocalAccount]
) -> None:
    r = town.residents
    ratings.rate(accounts[9], completed, [ratings.sign(r[0], completed, 4)])
    rpc(w3, "evm_increaseTime", [PERIOD])
    rpc(w3, "evm_mine")
    late = ratings.rate(accounts[9], completed, [ratings.sign(r[1], completed, 5)])
    assert late.rated == () and late.skipped == ((r[1].address, Skip.RatingsClosed),)
    assert ratings.summary(completed).count == 1


# ------------------------------------------------------------------ funded budget projects


@pytest.fixture
def budget_round(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> Round:
    """A round whose projects 0 (cost 100) and 1 (cost 450) were voted on and project 0 alone
    selected and funded (budget 500: project 1 no longer fits)."""
    town = budget_town(w3, system, accounts, "rated projects", voters=3, income=1_000)
    round_ = Round(w3, system, town, budget=500)
    round_.submit([100, 450])
    round_.advance(61)
    round_.cast(accounts[9], [round_.sign(v, 0b11 if i else 0b01) for i, v in
                              enumerate(town.voters)])  # fmt: skip
    round_.advance(601)
    assert round_.select(accounts[9]) == 0b01
    return round_


def _milestone(w3: Web3, round_: Round, index: int, *, done: bool) -> None:
    call = round_.contract.functions.recordProjectMilestone(round_.id, index, b"\x0e" * 32, done)
    send(w3, round_.town.committee, call)


def test_residents_rate_a_completed_funded_project_under_its_grant_id(
    w3: Web3, ratings: RatingsContract, budget_round: Round, accounts: list[LocalAccount]
) -> None:
    _milestone(w3, budget_round, 0, done=True)
    subject = grant_id(budget_round.id, 0)
    assert subject == budget_round.contract.functions.grantIdOf(budget_round.id, 0).call()
    voters = budget_round.town.voters
    batch = ratings.rate(
        accounts[9],
        subject,
        [ratings.sign(voters[0], subject, 4), ratings.sign(voters[1], subject, 5)],
    )
    assert batch.opened and batch.skipped == ()
    summary = ratings.summary(subject)
    assert (summary.communityId, summary.count, summary.scoreSum) == (
        budget_round.town.community, 2, 9)  # fmt: skip


def test_a_project_not_completed_not_selected_or_unknown_cannot_be_rated(
    w3: Web3, ratings: RatingsContract, budget_round: Round, accounts: list[LocalAccount]
) -> None:
    voter = budget_round.town.voters[0]
    _milestone(w3, budget_round, 0, done=False)  # under way only
    for index in (0, 1, 7):  # in progress; not selected (no milestone); no such project
        subject = grant_id(budget_round.id, index)
        with _refused("ProjectNotCompleted"):
            ratings.rate(accounts[9], subject, [ratings.sign(voter, subject, 5)])
    unknown = grant_id(budget_round.id + 1_000, 0)
    with _refused("ProjectNotCompleted"):
        ratings.rate(accounts[9], unknown, [ratings.sign(voter, unknown, 5)])


def test_only_the_projects_community_rates_it(
    w3: Web3, ratings: RatingsContract, budget_round: Round, accounts: list[LocalAccount]
) -> None:
    _milestone(w3, budget_round, 0, done=True)
    subject = grant_id(budget_round.id, 0)
    (stranger,) = signer_keys(1, "another community")
    batch = ratings.rate(accounts[9], subject, [ratings.sign(stranger, subject, 5)])
    assert batch.skipped == ((stranger.address, Skip.NotOnRoll),)
