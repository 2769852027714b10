"""Council: opening proposals, direct votes at the roll snapshot, finalization, budgets and
execution milestones. Relayed signed ballots are in test_council_ballots.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.clients.council import (
    ABSTAIN,
    NO,
    NO_WINNER,
    YES,
    BallotKind,
    CouncilClient,
    ExecutionStatus,
    Outcome,
    ProposalParams,
    ProposalState,
)
from ledger.clients.registry import RegistryClient, Role
from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.signing.forwards import sign_forward_request
from tests.contracts.conftest import Clock, Hall

OpenProposal = Callable[..., int]
LIFETIME = 400 * 24 * 3600


def _refused(error: str) -> pytest.RaisesExc[ContractRuleBroken]:
    return pytest.raises(ContractRuleBroken, match=rf"^{error}\(")


def _close(clock: Clock, hours: int = 1) -> None:
    clock.advance(hours * 3600 + 1)


# ---------------------------------------------------------------- opening proposals


def test_open_proposal_by_committee_snapshots_the_published_roll(
    council_client: CouncilClient,
    registry_client: RegistryClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
    system: Deployment,
) -> None:
    snap = registry_client.roll_snapshot(hall.id)
    pid = open_hall_proposal(budget_amount=250_00, budget_currency=b"CNY", quorum_bps=3000)
    info = council_client.proposal(pid)
    assert (info.community_id, info.proposer) == (hall.id, hall.committee.address)
    assert (info.roll_version, info.roll_size) == (snap.version, snap.size) == (snap.version, 8)
    assert info.state is ProposalState.OPEN and info.outcome is Outcome.NONE
    assert info.tally == (0, 0, 0) and info.winning_option == NO_WINNER
    assert (info.budget_amount, info.budget_currency, info.quorum_bps) == (25000, b"CNY", 3000)
    assert council_client.budget_of(pid) == (hall.id, False, 25000, b"CNY")


def test_open_proposal_emits_every_parameter(
    council_client: CouncilClient, hall: Hall, clock: Clock, system: Deployment
) -> None:
    now = clock.now()
    params = ProposalParams(hall.id, b"\x55" * 32, now + 60, now + 7200, quorum_bps=100)
    receipt = council_client._send(
        hall.committee, system.council.functions.openProposal(params.as_tuple())
    )
    (event,) = system.council.events.ProposalOpened().process_receipt(receipt)
    assert tuple(event["args"]["params"].values()) == params.as_tuple()
    assert event["args"]["proposer"] == hall.committee.address
    assert event["args"]["rollSize"] == 8


def test_open_proposal_refused_for_non_committee(
    council_client: CouncilClient, hall: Hall, clock: Clock
) -> None:
    now = clock.now()
    with _refused("NotCommittee"):
        council_client.open_proposal(
            hall.voters[0], ProposalParams(hall.id, b"\x01" * 32, now, now + 60)
        )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"text_hash": b"\x00" * 32}, "MissingTextHash"),
        ({"option_count": 2}, "InvalidOptions"),
        ({"kind": BallotKind.MULTIPLE_CHOICE, "option_count": 1}, "InvalidOptions"),
        ({"kind": BallotKind.MULTIPLE_CHOICE, "option_count": 9}, "InvalidOptions"),
        ({"closes_at": 0}, "InvalidSchedule"),
        ({"opens_at": "late"}, "InvalidSchedule"),
        ({"closes_at": "beyond_lifetime"}, "InvalidSchedule"),
        ({"quorum_bps": 10_001}, "InvalidBasisPoints"),
        ({"threshold_bps": 10_000}, "InvalidBasisPoints"),
        ({"threshold_bps": 4_999}, "InvalidBasisPoints"),
        ({"budget_amount": 5}, "InvalidBudget"),
        ({"budget_amount": 5, "budget_currency": b"cny"}, "InvalidBudget"),
        ({"budget_amount": 5, "budget_currency": b"CN1"}, "InvalidBudget"),
        ({"budget_amount": 5, "budget_currency": b"123"}, "InvalidBudget"),
        ({"budget_amount": 5, "budget_currency": b"CN\x00"}, "InvalidBudget"),
        ({"budget_amount": 5, "budget_currency": b"C Y"}, "InvalidBudget"),
    ],
)
def test_open_proposal_refused_for_invalid_parameters(
    open_hall_proposal: OpenProposal, clock: Clock, overrides: dict[str, object], error: str
) -> None:
    now = clock.now()
    if overrides.get("opens_at") == "late":
        overrides = {"opens_at": now + 3600, "closes_at": now + 3600}
    if overrides.get("closes_at") == "beyond_lifetime":
        overrides = {"closes_at": now + LIFETIME + 60}
    with _refused(error):
        open_hall_proposal(**overrides)


@pytest.mark.parametrize("code", [b"AAA", b"ZZZ", b"XOF"])
def test_open_proposal_accepts_a_budget_in_three_letters_a_to_z(
    open_hall_proposal: OpenProposal, council_client: CouncilClient, code: bytes
) -> None:
    pid = open_hall_proposal(budget_amount=1, budget_currency=code)
    assert council_client.proposal(pid).budget_currency == code


def test_open_proposal_accepts_multiple_choice_lower_threshold_and_longest_schedule(
    open_hall_proposal: OpenProposal, council_client: CouncilClient, clock: Clock
) -> None:
    now = clock.now()
    pid = open_hall_proposal(
        kind=BallotKind.MULTIPLE_CHOICE,
        option_count=8,
        threshold_bps=0,
        closes_at=now + LIFETIME - 60,
    )
    assert council_client.proposal(pid).option_count == 8


def test_open_proposal_refused_when_roll_is_empty(
    council_client: CouncilClient,
    registry_client: RegistryClient,
    accounts: list[LocalAccount],
    clock: Clock,
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    registry_client.grant_role(accounts[0], cid, Role.COMMITTEE, accounts[1].address)
    now = clock.now()
    with _refused("EmptyRoll"):
        council_client.open_proposal(accounts[1], ProposalParams(cid, b"\x01" * 32, now, now + 60))


# ---------------------------------------------------------------- direct votes


def test_cast_vote_counts_resident_ballot_and_logs_digest(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    receipt = council_client.cast_vote(hall.voters[0], pid, NO)
    assert council_client.tally(pid) == (0, 1, 0)
    assert council_client.has_voted(pid, hall.voters[0].address)
    assert not council_client.has_voted(pid, hall.voters[1].address)
    expected = council_client.sign_ballot(hall.voters[0], pid, NO).digest
    assert receipt.digest == expected
    check = council_client.verify_receipt(receipt, voter=hall.voters[0].address, option=NO)
    assert check.ok, check.problem


def test_cast_vote_refused_when_already_voted(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    council_client.cast_vote(hall.voters[0], pid, YES)
    with _refused("AlreadyVoted"):
        council_client.cast_vote(hall.voters[0], pid, NO)
    assert council_client.tally(pid) == (1, 0, 0)


def test_cast_vote_refused_for_someone_not_on_the_roll(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    with _refused("VoterNotOnRoll"):
        council_client.cast_vote(hall.outsider, pid, YES)


def test_cast_vote_refused_for_option_out_of_range(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    with _refused("InvalidOption"):
        council_client.cast_vote(hall.voters[0], pid, 3)


def test_cast_vote_refused_before_opening_and_after_closing(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> None:
    now = clock.now()
    pid = open_hall_proposal(opens_at=now + 600, closes_at=now + 1200)
    with _refused("ProposalNotOpen"):
        council_client.cast_vote(hall.voters[0], pid, YES)
    clock.advance(600)
    council_client.cast_vote(hall.voters[0], pid, YES)
    clock.advance(600)
    with _refused("ProposalNotOpen"):
        council_client.cast_vote(hall.voters[1], pid, YES)
    with _refused("UnknownProposal"):
        council_client.cast_vote(hall.voters[1], pid + 1, YES)


def test_resident_who_leaves_after_opening_still_votes_and_newcomer_does_not(
    council_client: CouncilClient,
    registry_client: RegistryClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
) -> None:
    pid = open_hall_proposal()
    leaver, newcomer = hall.voters[0], hall.outsider
    registry_client.update_roll(hall.admin, hall.id, [newcomer.address], [leaver.address])
    assert not registry_client.is_resident(hall.id, leaver.address)
    council_client.cast_vote(leaver, pid, YES)
    with _refused("VoterNotOnRoll"):
        council_client.cast_vote(newcomer, pid, YES)
    later = open_hall_proposal()
    council_client.cast_vote(newcomer, later, YES)
    with _refused("VoterNotOnRoll"):
        council_client.cast_vote(leaver, later, YES)


def test_eligibility_follows_the_snapshot_across_leaving_and_rejoining(
    council_client: CouncilClient,
    registry_client: RegistryClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
) -> None:
    mover = hall.voters[1]
    registry_client.update_roll(hall.admin, hall.id, [], [mover.address])
    while_away = open_hall_proposal()
    registry_client.update_roll(hall.admin, hall.id, [mover.address])
    back = open_hall_proposal()
    registry_client.update_roll(hall.admin, hall.id, [], [mover.address])
    with _refused("VoterNotOnRoll"):
        council_client.cast_vote(mover, while_away, YES)
    council_client.cast_vote(mover, back, YES)


def test_staged_but_unpublished_roll_change_does_not_count(
    council_client: CouncilClient,
    registry_client: RegistryClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
) -> None:
    registry_client.update_roll(hall.admin, hall.id, [hall.outsider.address], publish=False)
    pid = open_hall_proposal()
    assert council_client.proposal(pid).roll_size == 8
    with _refused("VoterNotOnRoll"):
        council_client.cast_vote(hall.outsider, pid, YES)


def test_cast_vote_relayed_through_trusted_forwarder_counts_the_signer(
    w3: Web3,
    system: Deployment,
    council_client: CouncilClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
    clock: Clock,
) -> None:
    from ledger.tx import send

    pid = open_hall_proposal()
    resident = hall.voters[2]
    forwarder = system.forwarder
    request = sign_forward_request(
        w3,
        forwarder,
        resident,
        system.council.functions.castVote(pid, ABSTAIN),
        gas=200_000,
        deadline=clock.now() + 600,
    )
    call = forwarder.functions.execute(request.as_struct())
    send(w3, hall.admin, call)  # the admin relays and pays; the resident only signed
    assert council_client.has_voted(pid, resident.address)
    assert council_client.tally(pid) == (0, 0, 1)


# ---------------------------------------------------------------- finalization


def _vote(council: CouncilClient, hall: Hall, pid: int, options: list[int]) -> None:
    """Residents sign, in roll order, the given options; the admin relays them in one batch."""
    signed = [council.sign_ballot(v, pid, o) for v, o in zip(hall.residents, options, strict=False)]
    result = council.cast_ballots(hall.admin, pid, signed)
    assert len(result.cast) == len(options), result.skipped


@pytest.mark.parametrize(
    ("options", "quorum_bps", "threshold_bps", "outcome"),
    [
        ([YES, YES, NO, ABSTAIN], 5000, 5000, Outcome.PASSED),  # 2 of 3 decisive
        ([YES, NO, ABSTAIN, ABSTAIN], 5000, 5000, Outcome.REJECTED),  # a tie is not a majority
        ([YES, YES, NO], 3000, 6666, Outcome.PASSED),  # exactly two-thirds passes 6666
        ([YES, YES, YES, NO, NO], 5000, 6666, Outcome.REJECTED),  # 60 % does not
        ([YES, YES, YES], 5000, 5000, Outcome.NO_QUORUM),  # 3 of 8 < 50 %
        ([YES, YES, YES, ABSTAIN], 5000, 5000, Outcome.PASSED),  # abstentions make the quorum
        ([ABSTAIN] * 8, 5000, 5000, Outcome.REJECTED),  # nobody decided
        ([], 0, 5000, Outcome.REJECTED),
    ],
)
def test_finalize_yes_no_abstain_decides_outcome_from_tally(
    council_client: CouncilClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
    clock: Clock,
    options: list[int],
    quorum_bps: int,
    threshold_bps: int,
    outcome: Outcome,
) -> None:
    pid = open_hall_proposal(quorum_bps=quorum_bps, threshold_bps=threshold_bps)
    if options:
        _vote(council_client, hall, pid, options)
    _close(clock)
    assert council_client.finalize(hall.outsider, pid) is outcome
    info = council_client.proposal(pid)
    assert info.state is ProposalState.FINALIZED and info.outcome is outcome
    assert info.tally == tuple(options.count(o) for o in (YES, NO, ABSTAIN))
    assert info.winning_option == (YES if outcome is Outcome.PASSED else NO_WINNER)


@pytest.mark.parametrize(
    ("options", "threshold_bps", "outcome", "winner"),
    [
        ([2, 2, 0, 1], 0, Outcome.PASSED, 2),  # plurality
        ([2, 2, 0, 0], 0, Outcome.REJECTED, NO_WINNER),  # tie for first
        ([2, 2, 0, 1], 5000, Outcome.REJECTED, NO_WINNER),  # 50 % is not more than half
        ([3, 3, 3, 1], 5000, Outcome.PASSED, 3),
    ],
)
def test_finalize_multiple_choice_needs_a_sole_leader_above_threshold(
    council_client: CouncilClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
    clock: Clock,
    options: list[int],
    threshold_bps: int,
    outcome: Outcome,
    winner: int,
) -> None:
    pid = open_hall_proposal(
        kind=BallotKind.MULTIPLE_CHOICE, option_count=4, threshold_bps=threshold_bps
    )
    _vote(council_client, hall, pid, options)
    _close(clock)
    assert council_client.finalize(hall.outsider, pid) is outcome
    assert council_client.proposal(pid).winning_option == winner


def test_finalize_emits_tally_and_turnout(
    council_client: CouncilClient,
    hall: Hall,
    open_hall_proposal: OpenProposal,
    clock: Clock,
    system: Deployment,
) -> None:
    pid = open_hall_proposal()
    _vote(council_client, hall, pid, [YES, NO, YES])
    _close(clock)
    receipt = council_client._send(hall.outsider, system.council.functions.finalize(pid))
    (event,) = system.council.events.ProposalFinalized().process_receipt(receipt)
    assert event["args"]["tally"] == [2, 1, 0]
    assert event["args"]["turnout"] == 3
    assert (event["args"]["outcome"], event["args"]["winningOption"]) == (Outcome.PASSED, YES)


def test_finalize_refused_before_close_and_twice(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> None:
    pid = open_hall_proposal()
    with _refused("VotingNotClosed"):
        council_client.finalize(hall.outsider, pid)
    _close(clock)
    council_client.finalize(hall.outsider, pid)
    with _refused("AlreadyFinalized"):
        council_client.finalize(hall.outsider, pid)
    with _refused("UnknownProposal"):
        council_client.finalize(hall.outsider, pid + 1)


def test_budget_of_reports_passed_budget_and_zeros_for_unknown_proposal(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> None:
    pid = open_hall_proposal(budget_amount=12_345, budget_currency=b"EUR")
    _vote(council_client, hall, pid, [YES] * 5)
    assert council_client.budget_of(pid) == (hall.id, False, 12_345, b"EUR")
    _close(clock)
    council_client.finalize(hall.outsider, pid)
    assert council_client.budget_of(pid) == (hall.id, True, 12_345, b"EUR")
    assert council_client.budget_of(pid + 100) == (0, False, 0, b"\x00\x00\x00")


# ---------------------------------------------------------------- execution milestones


@pytest.fixture
def passed_proposal(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> int:
    pid = open_hall_proposal()
    _vote(council_client, hall, pid, [YES] * 5)
    _close(clock)
    assert council_client.finalize(hall.outsider, pid) is Outcome.PASSED
    return pid


def test_record_milestones_until_completed(
    council_client: CouncilClient, hall: Hall, passed_proposal: int, system: Deployment
) -> None:
    pid = passed_proposal
    assert council_client.record_milestone(hall.committee, pid, b"\x01" * 32, completed=False) == 0
    assert council_client.proposal(pid).execution is ExecutionStatus.IN_PROGRESS
    assert council_client.record_milestone(hall.committee, pid, b"\x02" * 32, completed=True) == 1
    info = council_client.proposal(pid)
    assert (info.execution, info.milestone_count) == (ExecutionStatus.COMPLETED, 2)
    assert council_client.milestones(pid) == (b"\x01" * 32, b"\x02" * 32)
    with _refused("ExecutionAlreadyCompleted"):
        council_client.record_milestone(hall.committee, pid, b"\x03" * 32, completed=False)


def test_record_milestone_refused_for_non_committee_and_missing_evidence(
    council_client: CouncilClient, hall: Hall, passed_proposal: int
) -> None:
    with _refused("NotCommittee"):
        council_client.record_milestone(
            hall.voters[0], passed_proposal, b"\x01" * 32, completed=True
        )
    with _refused("MissingEvidence"):
        council_client.record_milestone(
            hall.committee, passed_proposal, b"\x00" * 32, completed=True
        )


def test_record_milestone_refused_unless_proposal_passed(
    council_client: CouncilClient, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> None:
    pid = open_hall_proposal()
    with _refused("ProposalNotPassed"):
        council_client.record_milestone(hall.committee, pid, b"\x01" * 32, completed=False)
    _vote(council_client, hall, pid, [NO] * 5)
    _close(clock)
    council_client.finalize(hall.outsider, pid)
    with _refused("ProposalNotPassed") as info:
        council_client.record_milestone(hall.committee, pid, b"\x01" * 32, completed=False)
    assert info.value.args_ == (pid, Outcome.REJECTED)
