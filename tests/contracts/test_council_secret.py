"""Council proposals decided by secret ballot: a secret proposal refuses open, relayed and proxy
ballots; its committee links one secret vote that matches it (every condition both ways); its
outcome follows the vote's proven tally by the open ballots' quorum and threshold rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import (
    BallotKind,
    Constants,
    Outcome,
    ProposalState,
    Roles,
    SecretLinkField,
    SecretVoteState,
    SkipReason,
)
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    ANSWERS,
    CHALLENGES,
    VOTING,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.contracts.conftest import Clock, Hall
from tests.contracts.mandates_support import Proxies

QUESTION = b"\x5e" * 32


@pytest.fixture
def secret(w3: Web3, system: Deployment) -> SecretBallotContract:
    return SecretBallotContract(w3, system.secret)


@pytest.fixture
def trustees(accounts: list[LocalAccount]) -> list[Trustee]:
    return [Trustee(k, accounts[4 + k], 2) for k in (1, 2, 3)]


def _vote_params(
    hall: Hall, trustees: list[Trustee], clock: Clock, **kw: object
) -> SecretVoteParams:
    fields: dict[str, object] = {
        "community_id": hall.id,
        "trustees": tuple(t.account.address for t in trustees),
        "threshold": 2,
        "start": clock.now(),
    }
    fields.update(kw)
    return SecretVoteParams(**fields)  # type: ignore[arg-type]


def _proposal_for(vote: SecretVoteParams, **kw: object) -> ProposalParams:
    """The secret proposal a vote decides: same community, text, options and times."""
    fields: dict[str, object] = {
        "community_id": vote.community_id,
        "text_hash": vote.question_hash,
        "opens_at": vote.start + ANSWERS,
        "closes_at": vote.closes_at,
        "kind": BallotKind.SecretYesNoAbstain,
        "option_count": vote.option_count,
        "quorum_bps": 5000,
    }
    fields.update(kw)
    return ProposalParams(**fields)  # type: ignore[arg-type]


Setup = Callable[..., tuple[int, int]]


@pytest.fixture
def secret_proposal(
    council_client: CouncilContract,
    secret: SecretBallotContract,
    hall: Hall,
    clock: Clock,
    trustees: list[Trustee],
) -> Setup:
    """Opens a secret vote and a secret proposal matching it (unless overridden); not linked."""

    def open_(vote: dict[str, object] | None = None, **proposal: object) -> tuple[int, int]:
        params = _vote_params(hall, trustees, clock, **(vote or {}))
        vote_id = secret.open_vote(hall.committee, params)
        pid = council_client.open_proposal(hall.committee, _proposal_for(params, **proposal))
        return pid, vote_id

    return open_


def _rule(call: Callable[[], object]) -> tuple[str, tuple[object, ...]]:
    with pytest.raises(ContractRuleBroken) as broken:
        call()
    return broken.value.error, tuple(broken.value.args_)


def _error(call: Callable[[], object]) -> str:
    return _rule(call)[0]


def test_a_secret_proposal_follows_its_secret_tally(
    council_client: CouncilContract,
    secret: SecretBallotContract,
    secret_proposal: Setup,
    trustees: list[Trustee],
    hall: Hall,
    clock: Clock,
) -> None:
    pid, vote_id = secret_proposal()
    receipt = council_client.link_secret_vote(hall.committee, pid, vote_id)
    (linked,) = council_client.contract.events.SecretVoteLinked().process_receipt(
        receipt, errors=DISCARD
    )
    assert (linked["args"]["proposalId"], linked["args"]["voteId"]) == (pid, vote_id)
    assert (linked["args"]["communityId"], linked["args"]["linker"]) == (
        hall.id,
        hall.committee.address,
    )
    assert council_client.secret_vote_of(pid) == vote_id
    assert council_client.proposal_of_secret_vote(vote_id) == pid

    secret.run_key_generation(vote_id, trustees, clock)
    assert council_client.state(pid) is ProposalState.Open
    assert _error(lambda: council_client.cast_vote(hall.voters[0], pid, 0)) == "BallotsAreSecret"
    a, b, c, d, _ = hall.signers
    choices = {a: 0, b: 0, c: 0, d: 1, hall.voters[1]: 2}
    ballots = [
        secret.sign(v, vote_id, secret.ballot_words(vote_id, v.address, ch))
        for v, ch in choices.items()
    ]
    assert len(secret.cast(hall.admin, vote_id, ballots).cast) == 5

    clock.advance(VOTING)
    assert _rule(lambda: council_client.finalize(hall.admin, pid)) == (
        "SecretTallyPending",
        (pid, vote_id, SecretVoteState.Challenges),
    )
    clock.advance(CHALLENGES)
    for t in trustees[:2]:
        secret.publish(vote_id, t)
    secret.finalize(hall.admin, vote_id, secret.tally(vote_id, trustees[:2]))

    assert council_client.finalize(hall.admin, pid) is Outcome.Passed
    view = council_client.proposal(pid)
    assert (
        view.tally == (3, 1, 1)
        and view.winning_option == 0
        and view.state is ProposalState.Finalized
    )
    assert council_client.budget_of(pid)[1]


def test_a_secret_proposal_refuses_open_relayed_and_proxy_ballots(
    w3: Web3,
    system: Deployment,
    accounts: list[LocalAccount],
    council_client: CouncilContract,
    secret_proposal: Setup,
    hall: Hall,
    clock: Clock,
) -> None:
    pid, _ = secret_proposal()
    clock.advance(ANSWERS)
    resident, proxy = hall.signers[0], hall.signers[1]
    batch = council_client.cast_ballots(
        hall.admin, pid, [council_client.sign_ballot(resident, pid, 0)]
    )
    assert batch.cast == () and [s.reason for s in batch.skipped] == [SkipReason.SecretBallotsOnly]
    proxies = Proxies(w3, system.mandates, system.council, accounts[8])
    proxies.appoint_one(hall.id, resident, proxy.address)
    assert proxies.cast_one(pid, resident.address, proxy, 0) == "SecretBallotsOnly"
    assert council_client.tally(pid) == (0, 0, 0)


def test_open_ballots_after_the_close_are_skipped_as_not_open_first(
    council_client: CouncilContract, secret_proposal: Setup, hall: Hall, clock: Clock
) -> None:
    pid, _ = secret_proposal()
    ballot = council_client.sign_ballot(hall.signers[0], pid, 0)
    batch = council_client.cast_ballots(hall.admin, pid, [ballot])
    assert [s.reason for s in batch.skipped] == [SkipReason.ProposalNotOpen]


@pytest.mark.parametrize(
    ("vote", "field"),
    [
        ({"question_hash": b"\x01" * 32}, SecretLinkField.Question),
        ({"option_count": 4}, SecretLinkField.OptionCount),
    ],
)
def test_a_secret_vote_that_differs_in_a_field_is_not_linked(
    council_client: CouncilContract,
    secret: SecretBallotContract,
    hall: Hall,
    clock: Clock,
    trustees: list[Trustee],
    vote: dict[str, object],
    field: SecretLinkField,
) -> None:
    params = _vote_params(hall, trustees, clock)
    vote_id = secret.open_vote(hall.committee, replace(params, **vote))  # type: ignore[arg-type]
    pid = council_client.open_proposal(hall.committee, _proposal_for(params))
    assert _rule(lambda: council_client.link_secret_vote(hall.committee, pid, vote_id)) == (
        "SecretVoteMismatch",
        (pid, vote_id, field),
    )
    assert council_client.secret_vote_of(pid) == 0


@pytest.mark.parametrize("shift", [{"opens_at": 1}, {"closes_at": -1}])
def test_a_secret_vote_with_other_times_is_not_linked(
    council_client: CouncilContract,
    secret: SecretBallotContract,
    hall: Hall,
    clock: Clock,
    trustees: list[Trustee],
    shift: dict[str, int],
) -> None:
    params = _vote_params(hall, trustees, clock)
    vote_id = secret.open_vote(hall.committee, params)
    same = _proposal_for(params)
    moved = replace(same, **{k: getattr(same, k) + d for k, d in shift.items()})  # type: ignore[arg-type]
    pid = council_client.open_proposal(hall.committee, moved)
    assert _rule(lambda: council_client.link_secret_vote(hall.committee, pid, vote_id)) == (
        "SecretVoteMismatch",
        (pid, vote_id, SecretLinkField.Schedule),
    )


def test_another_communitys_secret_vote_is_not_linked(
    council_client: CouncilContract,
    registry_client: RegistryContract,
    secret: SecretBallotContract,
    hall: Hall,
    clock: Clock,
    trustees: list[Trustee],
) -> None:
    other = registry_client.create_community(hall.admin, b"\x34" * 32)
    registry_client.grant_role(hall.admin, other, Roles.REGISTRAR, hall.admin.address)
    registry_client.grant_role(hall.admin, other, Roles.COMMITTEE, hall.committee.address)
    registry_client.update_roll(hall.admin, other, [a.address for a in hall.residents])
    params = _vote_params(hall, trustees, clock)
    vote_id = secret.open_vote(hall.committee, replace(params, community_id=other))
    pid = council_client.open_proposal(hall.committee, _proposal_for(params))
    assert _rule(lambda: council_client.link_secret_vote(hall.committee, pid, vote_id)) == (
        "SecretVoteMismatch",
        (pid, vote_id, SecretLinkField.Community),
    )


def test_a_secret_vote_on_an_older_roll_is_not_linked(
    council_client: CouncilContract,
    registry_client: RegistryContract,
    secret: SecretBallotContract,
    hall: Hall,
    clock: Clock,
    trustees: list[Trustee],
) -> None:
    params = _vote_params(hall, trustees, clock)
    vote_id = secret.open_vote(hall.committee, params)
    registry_client.update_roll(hall.admin, hall.id, [hall.stranger.address])
    pid = council_client.open_proposal(hall.committee, _proposal_for(params))
    assert _rule(lambda: council_client.link_secret_vote(hall.committee, pid, vote_id)) == (
        "SecretVoteMismatch",
        (pid, vote_id, SecretLinkField.Roll),
    )


def test_only_the_committee_links_and_only_a_secret_proposal_before_it_opens(
    council_client: CouncilContract,
    secret_proposal: Setup,
    open_hall_proposal: Callable[..., int],
    hall: Hall,
    clock: Clock,
) -> None:
    pid, vote_id = secret_proposal()
    assert _error(lambda: council_client.link_secret_vote(hall.voters[0], pid, vote_id)) == (
        "NotCommittee"
    )
    open_pid = open_hall_proposal()
    assert _error(lambda: council_client.link_secret_vote(hall.committee, open_pid, vote_id)) == (
        "NotSecretProposal"
    )
    council_client.link_secret_vote(hall.committee, pid, vote_id)
    assert _error(lambda: council_client.link_secret_vote(hall.committee, pid, vote_id)) == (
        "SecretVoteAlreadyLinked"
    )
    twin, second_vote = secret_proposal()
    assert _rule(lambda: council_client.link_secret_vote(hall.committee, twin, vote_id)) == (
        "SecretVoteTaken",
        (vote_id, pid),
    )
    clock.advance(ANSWERS)
    assert _error(lambda: council_client.link_secret_vote(hall.committee, twin, second_vote)) == (
        "ProposalAlreadyOpened"
    )


def test_an_unlinked_secret_proposal_is_decided_on_an_empty_tally(
    council_client: CouncilContract, secret_proposal: Setup, hall: Hall, clock: Clock
) -> None:
    pid, _ = secret_proposal()
    clock.advance(ANSWERS + VOTING)
    assert council_client.finalize(hall.admin, pid) is Outcome.NoQuorum
    assert council_client.proposal(pid).tally == (0, 0, 0)


def test_a_secret_proposal_whose_vote_failed_its_key_generation_is_decided_on_an_empty_tally(
    council_client: CouncilContract,
    secret: SecretBallotContract,
    secret_proposal: Setup,
    trustees: list[Trustee],
    hall: Hall,
    clock: Clock,
) -> None:
    pid, vote_id = secret_proposal(quorum_bps=0)
    council_client.link_secret_vote(hall.committee, pid, vote_id)
    secret.run_key_generation(vote_id, trustees, clock, silent=[2], no_deal=[3])
    clock.advance(VOTING)
    assert council_client.finalize(hall.admin, pid) is Outcome.Rejected


def test_a_secret_multiple_choice_proposal_is_read_as_multiple_choice(
    council_client: CouncilContract, hall: Hall, clock: Clock
) -> None:
    now = clock.now()
    base = ProposalParams(hall.id, QUESTION, now + 100, now + 200, BallotKind.SecretMultipleChoice)
    assert _error(
        lambda: council_client.open_proposal(hall.committee, replace(base, option_count=9))
    ) == ("InvalidOptions")
    pid = council_client.open_proposal(
        hall.committee, replace(base, option_count=5, threshold_bps=2000)
    )
    assert council_client.proposal(pid).kind is BallotKind.SecretMultipleChoice
    yes_no = replace(base, kind=BallotKind.SecretYesNoAbstain, option_count=2)
    assert _error(lambda: council_client.open_proposal(hall.committee, yes_no)) == "InvalidOptions"


def test_a_secret_proposal_whose_trustees_never_decrypt_is_finalized_as_not_decided(
    council_client: CouncilContract,
    secret: SecretBallotContract,
    secret_proposal: Setup,
    trustees: list[Trustee],
    hall: Hall,
    clock: Clock,
) -> None:
    grace = council_client.contract.functions.SECRET_TALLY_GRACE().call()
    assert grace == Constants.SECRET_TALLY_GRACE
    pid, vote_id = secret_proposal()
    council_client.link_secret_vote(hall.committee, pid, vote_id)
    secret.run_key_generation(vote_id, trustees, clock)
    a, b, c = hall.signers[:3]
    ballots = [
        secret.sign(v, vote_id, secret.ballot_words(vote_id, v.address, 0)) for v in (a, b, c)
    ]
    assert len(secret.cast(hall.admin, vote_id, ballots).cast) == 3
    # The trustees never publish their partial decryptions.
    clock.advance(VOTING + CHALLENGES + grace - 120)
    assert _rule(lambda: council_client.finalize(hall.admin, pid))[0] == "SecretTallyPending"
    clock.advance(120)
    assert council_client.finalize(hall.admin, pid) is Outcome.TallyNeverPublished
    view = council_client.proposal(pid)
    assert view.state is ProposalState.Finalized and view.tally == (0, 0, 0)
    assert view.winning_option == council_client.contract.functions.NO_WINNER().call()
    assert _error(lambda: council_client.finalize(hall.admin, pid)) == "AlreadyFinalized"
    # A tally proven afterwards changes nothing.
    for t in trustees[:2]:
        secret.publish(vote_id, t)
    secret.finalize(hall.admin, vote_id, secret.tally(vote_id, trustees[:2]))
    assert council_client.proposal(pid).tally == (0, 0, 0)
