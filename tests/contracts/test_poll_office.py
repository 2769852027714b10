"""PollOffice: a poll officer's in-person ballot counts as an online one and closes the other
channel (first ballot of a resident wins, the later one skipped with AlreadyVoted, both ways);
the officer's signature and role are checked (forged, malleable, non-officer, revoked officer);
only the poll office hands vouched ballots to Elections; the count includes both channels."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.election_rules import count_ranked, ranking_of
from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import ElectionSkipReason, PollSkipReason, Roles
from ledger.signing.eip712 import to_compact
from ledger.signing.election_ballots import encode_approval, encode_ranking
from ledger.signing.secp256k1 import HALF_N
from ledger.tx import send
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, Hall

R = ElectionSkipReason
P = PollSkipReason
OpenElection = Callable[..., int]


@pytest.fixture
def elections(w3: Web3, system: Deployment) -> ElectionsContract:
    return ElectionsContract(w3, system.elections)


@pytest.fixture
def office(w3: Web3, system: Deployment) -> PollOfficeContract:
    return PollOfficeContract(w3, system.poll_office, system.elections)


@pytest.fixture
def officers(
    registry_client: RegistryContract, hall: Hall, accounts: list[LocalAccount]
) -> tuple[LocalAccount, LocalAccount]:
    """Two poll officers of the hall (accounts 6 and 7, on no roll)."""
    for officer in accounts[6:8]:
        registry_client.grant_role(hall.admin, hall.id, Roles.POLL_OFFICER, officer.address)
    return accounts[6], accounts[7]


@pytest.fixture
def open_election(elections: ElectionsContract, hall: Hall, clock: Clock) -> OpenElection:
    def open_(count: int = 4, **overrides: object) -> int:
        now = clock.now()
        fields: dict[str, object] = {
            "community_id": hall.id,
            "candidates": candidates(count),
            "opens_at": now,
            "closes_at": now + 3600,
        }
        fields.update(overrides)
        return elections.open_election(hall.committee, ElectionParams(**fields))  # type: ignore[arg-type]

    return open_


def test_an_officers_in_person_ballot_is_counted_and_marks_the_resident_as_voted(
    elections: ElectionsContract,
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    open_election: OpenElection,
) -> None:
    eid = open_election()
    voter = hall.signers[0].address
    choices = encode_ranking([2, 0])
    batch = office.cast(hall.outsider, eid, [office.sign(officers[0], eid, voter, choices)])
    assert batch.vouched == ((voter, officers[0].address),)
    assert batch.cast == ((voter, choices),)
    assert batch.refused == batch.skipped == ()
    assert elections.contract.functions.hasVoted(eid, voter).call()
    assert elections.election(eid).ballotCount == 1


def test_an_online_ballot_after_an_in_person_one_is_refused_as_already_voted(
    elections: ElectionsContract,
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    open_election: OpenElection,
) -> None:
    eid = open_election()
    voter = hall.signers[1]
    office.cast(hall.outsider, eid, [office.sign(officers[0], eid, voter.address, 0x1)])
    online = elections.cast_ballots(hall.outsider, eid, [elections.sign(voter, eid, 0x2)])
    assert online.cast == ()
    assert online.skipped == ((voter.address, R.AlreadyVoted),)


def test_an_in_person_ballot_after_an_online_one_is_refused_as_already_voted(
    elections: ElectionsContract,
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    open_election: OpenElection,
) -> None:
    eid = open_election()
    voter = hall.signers[2]
    elections.cast_ballots(hall.outsider, eid, [elections.sign(voter, eid, 0x3)])
    batch = office.cast(hall.outsider, eid, [office.sign(officers[1], eid, voter.address, 0x1)])
    assert batch.vouched == ((voter.address, officers[1].address),)
    assert batch.cast == ()
    assert batch.skipped == ((voter.address, R.AlreadyVoted),)


def test_a_resident_marked_twice_by_officers_counts_once(
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    open_election: OpenElection,
) -> None:
    eid = open_election()
    voter = hall.signers[3].address
    first = office.sign(officers[0], eid, voter, 0x1)
    again = office.sign(officers[0], eid, voter, 0x2)
    other = office.sign(officers[1], eid, voter, 0x3)
    batch = office.cast(hall.outsider, eid, [first, again])
    assert batch.cast == ((voter, 0x1),)
    assert batch.skipped == ((voter, R.AlreadyVoted),)
    later = office.cast(hall.outsider, eid, [other, first])
    assert later.cast == ()
    assert later.skipped == ((voter, R.AlreadyVoted), (voter, R.AlreadyVoted))


def test_an_in_person_ballot_without_a_current_officers_signature_is_refused_with_the_reason(
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    registry_client: RegistryContract,
    hall: Hall,
    open_election: OpenElection,
) -> None:
    eid = open_election()
    voters = [s.address for s in hall.signers]
    by_resident = office.sign(hall.voters[0], eid, voters[0], 0x1)  # a resident is no officer
    signed = office.sign(officers[0], eid, voters[1], 0x1)
    voter, choices, officer, r, vs = signed.call_arg()
    forged = (voter, choices, officers[1].address, r, vs)  # claims the other officer signed
    altered = (voter, 0x2, officer, r, vs)  # the officer signed other choices
    r_ = to_compact(signed.signature)[0]
    malleable = (voter, choices, officer, r_, (HALF_N + 1).to_bytes(32, "big"))
    batch = office.cast(hall.outsider, eid, [by_resident, forged, altered, malleable])
    assert batch.refused == (
        (voters[0], P.NotPollOfficer),
        (voters[1], P.BadOfficerSignature),
        (voters[1], P.BadOfficerSignature),
        (voters[1], P.MalleableOfficerSignature),
    )
    assert batch.vouched == batch.cast == ()
    registry_client.revoke_role(hall.admin, hall.id, Roles.POLL_OFFICER, officers[0].address)
    revoked = office.cast(hall.outsider, eid, [signed])
    assert revoked.refused == ((voters[1], P.NotPollOfficer),)


def test_an_officer_of_another_community_is_no_officer_here(
    office: PollOfficeContract,
    registry_client: RegistryContract,
    hall: Hall,
    accounts: list[LocalAccount],
    open_election: OpenElection,
) -> None:
    elsewhere = registry_client.create_community(hall.admin, b"\x77" * 32)
    registry_client.grant_role(hall.admin, elsewhere, Roles.POLL_OFFICER, accounts[8].address)
    eid = open_election()
    voter = hall.signers[0].address
    batch = office.cast(hall.outsider, eid, [office.sign(accounts[8], eid, voter, 0x1)])
    assert batch.refused == ((voter, P.NotPollOfficer),)


def test_vouched_ballots_still_meet_every_election_rule(
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    open_election: OpenElection,
    clock: Clock,
) -> None:
    eid = open_election()
    officer = officers[0]
    batch = office.cast(
        hall.outsider,
        eid,
        [
            office.sign(officer, eid, hall.stranger.address, 0x1),
            office.sign(officer, eid, hall.signers[0].address, encode_ranking([1, 1, 2])),
            office.sign(officer, eid, hall.signers[1].address, encode_ranking([7])),
        ],
    )
    assert [r for _, r in batch.skipped] == [R.NotOnRoll, R.RepeatedCandidate, R.UnknownCandidate]
    assert batch.cast == ()
    clock.advance(3600)
    late = office.cast(hall.outsider, eid, [office.sign(officer, eid, hall.signers[2].address, 1)])
    assert late.skipped == ((hall.signers[2].address, R.ElectionNotOpen),)


def test_only_the_poll_office_hands_in_ballots_without_the_voters_signature(
    w3: Web3, system: Deployment, hall: Hall, open_election: OpenElection
) -> None:
    eid = open_election()
    call = system.elections.functions.castInPersonBallots(
        eid, [(hall.signers[0].address, 1, bytes(32), bytes(32))]
    )
    with pytest.raises(ContractRuleBroken) as broken:
        send(w3, hall.outsider, call)
    assert broken.value.error == "NotPollOffice"
    assert system.elections.functions.pollOffice().call() == system.poll_office.address
    assert system.poll_office.functions.elections().call() == system.elections.address


def test_the_count_takes_both_channels_as_the_rules_say(
    elections: ElectionsContract,
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    open_election: OpenElection,
    clock: Clock,
) -> None:
    eid = open_election(count=3)
    rankings = [[0, 1], [1, 0], [1, 2], [2, 1], [2, 0], [0], [1], [2]]
    residents = hall.residents
    online = [
        elections.sign(v, eid, encode_ranking(r))
        for v, r in zip(residents[:4], rankings[:4], strict=True)
    ]
    in_person = [
        office.sign(officers[k % 2], eid, v.address, encode_ranking(r))
        for k, (v, r) in enumerate(zip(residents[4:], rankings[4:], strict=True))
    ]
    elections.cast_ballots(hall.outsider, eid, online[:2])
    office.cast(hall.outsider, eid, in_person[:2])
    elections.cast_ballots(hall.outsider, eid, online[2:])
    office.cast(hall.outsider, eid, in_person[2:])
    clock.advance(3600)
    record = elections.count(hall.outsider, eid)
    stored = [ranking_of(encode_ranking(r), 3, 3) for r in rankings]
    expected = count_ranked(stored, 3, 1)
    assert record.winners == tuple(expected.winners)
    assert [list(r["tally"]) for r in record.rounds] == [list(r.tally) for r in expected.rounds]


def test_an_in_person_approval_ballot_adds_to_the_approvals(
    elections: ElectionsContract,
    office: PollOfficeContract,
    officers: tuple[LocalAccount, LocalAccount],
    hall: Hall,
    open_election: OpenElection,
) -> None:
    from ledger.protocol.generated import ElectionKind

    eid = open_election(count=3, kind=ElectionKind.Approval)
    voter = hall.signers[0].address
    office.cast(hall.outsider, eid, [office.sign(officers[0], eid, voter, encode_approval([0, 2]))])
    assert list(elections.election(eid).tally) == [1, 0, 1]
