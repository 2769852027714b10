"""Paper ballot boxes: declared by the committee before voting opens with the residents assigned
to them (who then cannot vote online or in person); totals count only once two different poll
officers signed the same ones, within the box's assigned count; the count engine takes them as
weighted entries, so the result is the count of every channel's ballots."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.election_rules import approvals_of, count_approval, count_ranked, ranking_of
from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import ElectionKind, ElectionSkipReason, PaperBoxSkipReason, Roles
from ledger.signing.election_ballots import encode_ranking
from ledger.signing.secp256k1 import HALF_N
from ledger.tx import send
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, Hall

R = ElectionSkipReason
B = PaperBoxSkipReason
OPENS_IN = 600
PendingElection = Callable[..., int]


@pytest.fixture
def elections(w3: Web3, system: Deployment) -> ElectionsContract:
    return ElectionsContract(w3, system.elections)


@pytest.fixture
def boxes(w3: Web3, system: Deployment) -> PaperBoxesContract:
    return PaperBoxesContract(w3, system.poll_office, system.elections)


@pytest.fixture
def officers(
    registry_client: RegistryContract, hall: Hall, accounts: list[LocalAccount]
) -> tuple[LocalAccount, LocalAccount]:
    """Two poll officers of the hall (accounts 6 and 7, on no roll)."""
    for officer in accounts[6:8]:
        registry_client.grant_role(hall.admin, hall.id, Roles.POLL_OFFICER, officer.address)
    return accounts[6], accounts[7]


@pytest.fixture
def pending_election(elections: ElectionsContract, hall: Hall, clock: Clock) -> PendingElection:
    """An election opening OPENS_IN seconds from now, for an hour."""

    def open_(count: int = 3, **overrides: object) -> int:
        now = clock.now()
        fields: dict[str, object] = {
            "community_id": hall.id,
            "candidates": candidates(count),
            "opens_at": now + OPENS_IN,
            "closes_at": now + OPENS_IN + 3600,
        }
        fields.update(overrides)
        return elections.open_election(hall.committee, ElectionParams(**fields))  # type: ignore[arg-type]

    return open_


def _refused(call: Callable[[], object]) -> str:
    with pytest.raises(ContractRuleBroken) as broken:
        call()
    return broken.value.error


def test_two_officers_signing_the_same_totals_count_the_box_as_weighted_entries(
    elections: ElectionsContract,
    boxes: PaperBoxesContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    pending_election: PendingElection,
    clock: Clock,
) -> None:
    eid = pending_election()
    assigned = [s.address for s in hall.signers]
    box = boxes.declare(hall.committee, eid, "A", assigned)
    clock.advance(OPENS_IN)
    online = [
        elections.sign(v, eid, encode_ranking(r))
        for v, r in zip(hall.voters, ([0, 1], [1, 0], [2, 1]), strict=True)
    ]
    elections.cast_ballots(hall.outsider, eid, online)
    entries = [(encode_ranking([2, 0]), 3), (encode_ranking([1]), 2)]
    first = boxes.submit(hall.outsider, box, [boxes.sign(officers[0], box, entries)])
    assert first.signed == (officers[0].address,)
    assert first.counted is None and first.entries == ()
    second = boxes.submit(hall.outsider, box, [boxes.sign(officers[1], box, entries)])
    assert second.counted == 5
    assert second.entries == tuple(entries)
    assert boxes.box(box).ballots == 5
    assert elections.election(eid).ballotCount == 8
    clock.advance(3600)
    record = elections.count(hall.outsider, eid)
    rankings = [[0, 1], [1, 0], [2, 1]] + [[2, 0]] * 3 + [[1]] * 2
    expected = count_ranked([ranking_of(encode_ranking(r), 3, 3) for r in rankings], 3, 1)
    assert record.winners == tuple(expected.winners)
    assert [list(r["tally"]) for r in record.rounds] == [list(r.tally) for r in expected.rounds]


def test_approval_box_totals_add_their_counts_to_each_approved_candidate(
    elections: ElectionsContract,
    boxes: PaperBoxesContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    pending_election: PendingElection,
    clock: Clock,
) -> None:
    eid = pending_election(count=3, kind=ElectionKind.Approval, max_choices=2)
    box = boxes.declare(hall.committee, eid, "B", [s.address for s in hall.signers])
    clock.advance(OPENS_IN)
    entries = [(0b011, 2), (0b100, 3)]
    boxes.submit(hall.outsider, box, [boxes.sign(o, box, entries) for o in officers])
    assert list(elections.election(eid).tally) == [2, 2, 3]
    ballots = [approvals_of(c, 3, 2) for c, n in entries for _ in range(n)]
    assert list(elections.election(eid).tally) == list(
        count_approval(ballots, 3, 1).rounds[0].tally
    )


def test_one_officer_signing_a_box_twice_does_not_count_it(
    boxes: PaperBoxesContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    pending_election: PendingElection,
    clock: Clock,
) -> None:
    eid = pending_election()
    box = boxes.declare(hall.committee, eid, "A", [s.address for s in hall.signers])
    clock.advance(OPENS_IN)
    signed = boxes.sign(officers[0], box, [(encode_ranking([0]), 2)])
    batch = boxes.submit(hall.outsider, box, [signed, signed])
    assert batch.signed == (officers[0].address,)
    assert batch.refused == ((officers[0].address, B.SameOfficerTwice),)
    assert batch.counted is None
    assert boxes.box(box).ballots == 0


def test_disputed_totals_count_only_once_both_officers_sign_the_same(
    boxes: PaperBoxesContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    pending_election: PendingElection,
    clock: Clock,
) -> None:
    eid = pending_election()
    box = boxes.declare(hall.committee, eid, "A", [s.address for s in hall.signers])
    clock.advance(OPENS_IN)
    theirs = [(encode_ranking([0]), 2)]
    mine = [(encode_ranking([0]), 3)]
    boxes.submit(hall.outsider, box, [boxes.sign(officers[0], box, theirs)])
    disputed = boxes.submit(hall.outsider, box, [boxes.sign(officers[1], box, mine)])
    assert disputed.counted is None
    agreed = boxes.submit(hall.outsider, box, [boxes.sign(officers[0], box, mine)])
    assert agreed.counted == 3
    late = boxes.submit(hall.outsider, box, [boxes.sign(officers[1], box, theirs)])
    assert late.refused == ((officers[1].address, B.BoxAlreadyCounted),)


def test_box_totals_breaking_a_rule_are_refused_with_the_reason(
    boxes: PaperBoxesContract,
    officers: tuple[LocalAccount, LocalAccount],
    registry_client: RegistryContract,
    hall: Hall,
    pending_election: PendingElection,
    clock: Clock,
) -> None:
    eid = pending_election(max_choices=2)
    box = boxes.declare(hall.committee, eid, "A", [s.address for s in hall.signers[:3]])
    early = boxes.submit(hall.outsider, box, [boxes.sign(officers[0], box, [(1, 1)])])
    assert early.refused == ((officers[0].address, B.VotingNotOpen),)
    clock.advance(OPENS_IN)
    good = boxes.sign(officers[0], box, [(encode_ranking([0]), 1)])
    choices, counts, certificate, officer, r, vs = good.call_arg()
    forged = (choices, counts, certificate, officers[1].address, r, vs)
    malleable = (choices, counts, certificate, officer, r, (HALF_N + 1).to_bytes(32, "big"))
    batch = boxes.submit(
        hall.outsider,
        box,
        [
            boxes.sign(hall.voters[0], box, [(encode_ranking([0]), 1)]),  # a resident
            forged,
            malleable,
            boxes.sign(officers[0], box, [(encode_ranking([0]), 4)]),  # 4 ballots, 3 assigned
            boxes.sign(officers[0], box, [(encode_ranking([0, 1, 2]), 1)]),  # 3 ranks of 2
            boxes.sign(officers[0], box, [(encode_ranking([0]), 0)]),
        ],
    )
    assert [reason for _, reason in batch.refused] == [
        B.NotPollOfficer,
        B.BadOfficerSignature,
        B.MalleableOfficerSignature,
        B.OverAssigned,
        B.BadPattern,
        B.EmptyTotals,
    ]
    assert batch.signed == ()
    unknown = boxes.submit(hall.outsider, 999, [good])
    assert unknown.refused == ((officers[0].address, B.BoxNotFound),)
    registry_client.revoke_role(hall.admin, hall.id, Roles.POLL_OFFICER, officers[0].address)
    revoked = boxes.submit(hall.outsider, box, [good])
    assert revoked.refused == ((officers[0].address, B.NotPollOfficer),)


def test_box_totals_after_the_election_closed_are_refused(
    boxes: PaperBoxesContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    pending_election: PendingElection,
    clock: Clock,
) -> None:
    eid = pending_election()
    box = boxes.declare(hall.committee, eid, "A", [s.address for s in hall.signers])
    clock.advance(OPENS_IN + 3600)
    batch = boxes.submit(hall.outsider, box, [boxes.sign(officers[0], box, [(1, 1)])])
    assert batch.refused == ((officers[0].address, B.VotingNotOpen),)


def test_a_box_for_unassigned_residents_is_refused(
    boxes: PaperBoxesContract, hall: Hall, pending_election: PendingElection
) -> None:
    eid = pending_election()
    error = _refused(
        lambda: boxes.declare(
            hall.committee, eid, "A", [hall.signers[0].address, hall.stranger.address]
        )
    )
    assert error == "PaperVoterNotOnRoll"


def test_a_resident_is_assigned_to_one_box_only(
    boxes: PaperBoxesContract, hall: Hall, pending_election: PendingElection
) -> None:
    eid = pending_election()
    boxes.declare(hall.committee, eid, "A", [hall.signers[0].address])
    again = _refused(lambda: boxes.declare(hall.committee, eid, "B", [hall.signers[0].address]))
    twice = _refused(lambda: boxes.declare(hall.committee, eid, "C", [hall.signers[1].address] * 2))
    assert again == twice == "PaperVoterAssigned"


def test_a_box_is_declared_by_the_committee_before_voting_opens(
    boxes: PaperBoxesContract, hall: Hall, pending_election: PendingElection, clock: Clock
) -> None:
    eid = pending_election()
    assigned = [hall.signers[0].address]
    assert _refused(lambda: boxes.declare(hall.voters[0], eid, "A", assigned)) == "NotCommittee"
    assert _refused(lambda: boxes.declare(hall.committee, eid, "A", [])) == "InvalidBoxSize"
    clock.advance(OPENS_IN)
    assert _refused(lambda: boxes.declare(hall.committee, eid, "A", assigned)) == "PaperBoxTooLate"


def test_an_assigned_resident_is_refused_online_and_in_person(
    w3: Web3,
    system: Deployment,
    elections: ElectionsContract,
    boxes: PaperBoxesContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    pending_election: PendingElection,
    clock: Clock,
) -> None:
    eid = pending_election()
    voter, other = hall.signers[0], hall.signers[1]
    boxes.declare(hall.committee, eid, "A", [voter.address])
    clock.advance(OPENS_IN)
    online = elections.cast_ballots(
        hall.outsider, eid, [elections.sign(voter, eid, 0x1), elections.sign(other, eid, 0x1)]
    )
    assert online.skipped == ((voter.address, R.AssignedToPaperBox),)
    office = PollOfficeContract(w3, system.poll_office, system.elections)
    in_person = office.cast(hall.outsider, eid, [office.sign(officers[0], eid, voter.address, 0x2)])
    assert in_person.skipped == ((voter.address, R.AssignedToPaperBox),)
    again = elections.cast_ballots(hall.outsider, eid, [elections.sign(other, eid, 0x2)])
    assert again.skipped == ((other.address, R.AlreadyVoted),)
    assert not elections.contract.functions.hasVoted(eid, voter.address).call()


def test_only_the_poll_office_assigns_paper_voters_and_hands_in_box_totals(
    w3: Web3, system: Deployment, hall: Hall, pending_election: PendingElection
) -> None:
    eid = pending_election()
    fns = system.elections.functions
    assign = fns.assignPaperVoters(eid, [hall.signers[0].address])
    cast = fns.castPaperBallots(eid, 1, [1], [1])
    for call in (assign, cast):
        assert _refused(lambda call=call: send(w3, hall.outsider, call)) == "NotPollOffice"
