"""Election proxy ballots: counted only with a live mandate covering this election and every rule
both ways (over the limit, after the resident's own ballot, revoked, wrong scope, wrong election, a
proxy's proxy); the resident's own ballot, online or in person, replaces a counted proxy ballot
where it is stored, so the count reads each voter's one ballot; a stateful model mixing every
channel whose stored ballots and tallies the chain always matches."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import ElectionKind, ElectionSkipReason, MandateScope, Roles
from ledger.signing.election_ballots import encode_approval, encode_ranking
from ledger.tx import send
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, Hall
from tests.contracts.election_proxies_support import ElectionProxies
from tests.contracts.mandates_support import Proxies

OpenElection = Callable[..., int]


def kept(choices: int, max_choices: int = 4) -> int:
    """What Elections stores of a ranking: its first maxChoices nibbles."""
    return choices & ((1 << (4 * max_choices)) - 1)


@pytest.fixture
def elections(w3: Web3, system: Deployment) -> ElectionsContract:
    return ElectionsContract(w3, system.elections)


@pytest.fixture
def mandates(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> Proxies:
    return Proxies(w3, system.mandates, system.council, accounts[8])


@pytest.fixture
def eproxies(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> ElectionProxies:
    return ElectionProxies(w3, system.election_proxies, system.elections, accounts[8])


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


def test_a_proxy_ballot_counts_for_the_resident_and_names_its_proxy(
    mandates: Proxies, eproxies: ElectionProxies, hall: Hall, open_election: OpenElection
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    assert mandates.appoint_one(hall.id, resident, proxy.address) == "appointed"
    eid = open_election()
    ranking = encode_ranking([2, 0])
    assert eproxies.cast_one(eid, resident.address, proxy, ranking) == "cast"
    assert eproxies.stored(eid) == [kept(ranking)]
    assert eproxies.proxy_ballot_of(eid, resident.address) == (proxy.address, ranking)
    assert eproxies.by_proxy(eid) == 1
    assert eproxies.elections.functions.hasVoted(eid, resident.address).call()
    assert eproxies.cast_by(eid, proxy.address) == 1


def test_the_residents_own_ballot_replaces_a_counted_proxy_ballot_where_it_is_stored(
    elections: ElectionsContract,
    mandates: Proxies,
    eproxies: ElectionProxies,
    hall: Hall,
    open_election: OpenElection,
) -> None:
    resident, proxy, other = hall.signers[0], hall.signers[1], hall.signers[2]
    mandates.appoint_one(hall.id, resident, proxy.address)
    eid = open_election()
    first = elections.sign(other, eid, encode_ranking([1]))
    elections.cast_ballots(hall.outsider, eid, [first])
    eproxies.cast_one(eid, resident.address, proxy, encode_ranking([2, 0]))
    own = encode_ranking([3, 1])
    later = elections.sign(hall.signers[3], eid, encode_ranking([0]))
    again = elections.sign(resident, eid, encode_ranking([1]))
    batch = elections.cast_ballots(
        hall.outsider, eid, [elections.sign(resident, eid, own), later, again]
    )
    # The replacement is counted (after the loop's ballots), the voter's second ballot skipped.
    assert sorted(batch.cast) == sorted(
        [(resident.address, own), (hall.signers[3].address, encode_ranking([0]))]
    )
    assert batch.skipped == ((resident.address, ElectionSkipReason.AlreadyVoted),)
    assert eproxies.stored(eid) == [kept(encode_ranking([1])), kept(own), kept(encode_ranking([0]))]
    assert eproxies.proxy_ballot_of(eid, resident.address)[0] == "0x" + "0" * 40
    assert eproxies.by_proxy(eid) == 0
    view = elections.election(eid)
    assert view.ballotCount == 3


def test_an_approval_proxy_ballot_replaced_gives_its_approvals_back(
    elections: ElectionsContract,
    mandates: Proxies,
    eproxies: ElectionProxies,
    hall: Hall,
    open_election: OpenElection,
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    mandates.appoint_one(hall.id, resident, proxy.address)
    eid = open_election(count=10, kind=ElectionKind.Approval, max_choices=3)
    eproxies.cast_one(eid, resident.address, proxy, encode_approval([0, 9]))
    assert list(elections.election(eid).tally) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    elections.cast_ballots(
        hall.outsider, eid, [elections.sign(resident, eid, encode_approval([1, 8]))]
    )
    assert list(elections.election(eid).tally) == [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]


def test_a_proxy_ballot_after_the_residents_own_is_skipped(
    elections: ElectionsContract,
    mandates: Proxies,
    eproxies: ElectionProxies,
    hall: Hall,
    open_election: OpenElection,
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    mandates.appoint_one(hall.id, resident, proxy.address)
    eid = open_election()
    elections.cast_ballots(hall.outsider, eid, [elections.sign(resident, eid, encode_ranking([1]))])
    assert eproxies.cast_one(eid, resident.address, proxy, encode_ranking([0])) == "VotedThemself"
    assert eproxies.stored(eid) == [kept(encode_ranking([1]))]
    assert eproxies.cast_by(eid, proxy.address) == 0


def test_a_proxy_ballot_for_a_paper_box_resident_is_skipped_as_such(
    w3: Web3,
    system: Deployment,
    mandates: Proxies,
    eproxies: ElectionProxies,
    hall: Hall,
    open_election: OpenElection,
    clock: Clock,
) -> None:
    """A paper box's resident votes on paper only: their proxy's ballot is refused for that,
    not as if the resident had voted."""
    resident, other, proxy = hall.signers[0], hall.signers[2], hall.signers[1]
    for who in (resident, other):
        mandates.appoint_one(hall.id, who, proxy.address)
    eid = open_election(opens_at=clock.now() + 60, closes_at=clock.now() + 3600)
    PaperBoxesContract(w3, system.poll_office, system.elections).declare(
        hall.committee, eid, "A", [resident.address]
    )
    clock.advance(60)
    assert eproxies.cast_one(eid, resident.address, proxy, encode_ranking([0])) == (
        "AssignedToPaperBox"
    )
    assert eproxies.cast_one(eid, other.address, proxy, encode_ranking([0])) == "cast"
    assert eproxies.by_proxy(eid) == 1 and eproxies.cast_by(eid, proxy.address) == 1


def test_a_second_proxy_ballot_for_one_resident_is_skipped(
    mandates: Proxies, eproxies: ElectionProxies, hall: Hall, open_election: OpenElection
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    mandates.appoint_one(hall.id, resident, proxy.address)
    eid = open_election()
    args = [
        eproxies.arg(eid, resident.address, proxy, encode_ranking([0])),
        eproxies.arg(eid, resident.address, proxy, encode_ranking([1])),
    ]
    assert eproxies.outcomes(eproxies.cast(eid, args)) == ["cast", "AlreadyVotedByProxy"]
    assert eproxies.stored(eid) == [kept(encode_ranking([0]))]


def test_a_proxy_over_the_limit_is_skipped_and_a_lowered_limit_applies_at_the_ballot(
    w3: Web3,
    mandates: Proxies,
    eproxies: ElectionProxies,
    hall: Hall,
    open_election: OpenElection,
) -> None:
    proxy = hall.signers[0]
    for resident in hall.signers[1:3]:
        assert mandates.appoint_one(hall.id, resident, proxy.address) == "appointed"
    assert mandates.appoint_one(hall.id, hall.signers[3], proxy.address) == "ProxyOverLimit"
    eid = open_election()
    send(w3, hall.admin, mandates.mandates.functions.setProxyLimit(hall.id, 1))
    args = [eproxies.arg(eid, r.address, proxy, encode_ranking([0])) for r in hall.signers[1:3]]
    assert eproxies.outcomes(eproxies.cast(eid, args)) == ["cast", "ProxyOverLimit"]


def test_a_limit_counts_only_ballots_elections_took(
    elections: ElectionsContract,
    mandates: Proxies,
    eproxies: ElectionProxies,
    hall: Hall,
    open_election: OpenElection,
) -> None:
    proxy = hall.signers[0]
    voted, waiting = hall.signers[1], hall.signers[2]
    for resident in (voted, waiting):
        mandates.appoint_one(hall.id, resident, proxy.address)
    eid = open_election()
    elections.cast_ballots(hall.outsider, eid, [elections.sign(voted, eid, encode_ranking([1]))])
    args = [
        eproxies.arg(eid, voted.address, proxy, encode_ranking([0])),
        eproxies.arg(eid, voted.address, proxy, encode_ranking([0])),
        eproxies.arg(eid, waiting.address, proxy, encode_ranking([0])),
    ]
    assert eproxies.outcomes(eproxies.cast(eid, args)) == ["VotedThemself", "VotedThemself", "cast"]


def test_a_revoked_mandate_casts_nothing(
    mandates: Proxies, eproxies: ElectionProxies, hall: Hall, open_election: OpenElection
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    mandates.appoint_one(hall.id, resident, proxy.address)
    assert mandates.revoke_one(hall.id, resident) == "revoked"
    eid = open_election()
    assert eproxies.cast_one(eid, resident.address, proxy, encode_ranking([0])) == "NoMandate"
    assert eproxies.stored(eid) == []


def test_a_mandate_counts_for_its_own_election_or_every_vote_only(
    mandates: Proxies, eproxies: ElectionProxies, hall: Hall, open_election: OpenElection
) -> None:
    eid = open_election()
    other = open_election()
    (a, b, c), proxy = hall.signers[0:3], hall.signers[3]
    send(mandates.w3, hall.admin, mandates.mandates.functions.setProxyLimit(hall.id, 3))
    mandates.appoint_one(hall.id, a, proxy.address, scope=MandateScope.Proposal, vote_id=eid)
    mandates.appoint_one(hall.id, b, proxy.address, scope=MandateScope.Election, vote_id=other)
    mandates.appoint_one(hall.id, c, proxy.address, scope=MandateScope.Election, vote_id=eid)
    args = [eproxies.arg(eid, r.address, proxy, encode_ranking([0])) for r in (a, b, c)]
    assert eproxies.outcomes(eproxies.cast(eid, args)) == ["NoMandate", "NoMandate", "cast"]


def test_a_proxys_own_proxy_cannot_cast_for_the_resident(
    mandates: Proxies, eproxies: ElectionProxies, hall: Hall, open_election: OpenElection
) -> None:
    resident, proxy, proxys_proxy = hall.signers[0:3]
    mandates.appoint_one(hall.id, resident, proxy.address)
    mandates.appoint_one(hall.id, proxy, proxys_proxy.address)
    eid = open_election()
    assert (
        eproxies.cast_one(eid, resident.address, proxys_proxy, encode_ranking([0])) == "NoMandate"
    )
    assert eproxies.cast_one(eid, proxy.address, proxys_proxy, encode_ranking([0])) == "cast"


def test_a_forged_malformed_or_late_proxy_ballot_is_skipped(
    mandates: Proxies,
    eproxies: ElectionProxies,
    hall: Hall,
    open_election: OpenElection,
    clock: Clock,
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    mandates.appoint_one(hall.id, resident, proxy.address)
    eid = open_election()
    args = [
        eproxies.arg(eid, resident.address, proxy, encode_ranking([0]), signer=hall.signers[2]),
        eproxies.arg(eid, resident.address, proxy, encode_ranking([5])),
        eproxies.arg(eid, resident.address, hall.stranger, encode_ranking([0])),
    ]
    # ElectionProxies' own skips come first, then those Elections finds.
    outcomes = eproxies.outcomes(eproxies.cast(eid, args))
    assert outcomes == ["BadSignature", "ProxyNotOnRoll", "UnknownCandidate"]
    clock.advance(3601)
    assert eproxies.cast_one(eid, resident.address, proxy, encode_ranking([0])) == "ElectionNotOpen"


def test_only_election_proxies_hands_in_proxy_ballots(
    w3: Web3, system: Deployment, hall: Hall, open_election: OpenElection
) -> None:
    eid = open_election()
    ballot = [(hall.signers[0].address, encode_ranking([0]), b"\0" * 32, b"\0" * 32)]
    call = system.elections.functions.castMandatedBallots(eid, ballot, [hall.signers[1].address], 2)
    with pytest.raises(ContractRuleBroken, match="NotElectionProxies"):
        send(w3, hall.admin, call)


def test_an_in_person_ballot_replaces_a_proxy_ballot_and_the_count_reads_the_residents(
    w3: Web3,
    system: Deployment,
    elections: ElectionsContract,
    mandates: Proxies,
    eproxies: ElectionProxies,
    registry_client: RegistryContract,
    hall: Hall,
    accounts: list[LocalAccount],
    open_election: OpenElection,
    clock: Clock,
) -> None:
    officer = accounts[6]
    registry_client.grant_role(hall.admin, hall.id, Roles.POLL_OFFICER, officer.address)
    office = PollOfficeContract(w3, system.poll_office, system.elections)
    resident, proxy = hall.signers[0], hall.signers[1]
    mandates.appoint_one(hall.id, resident, proxy.address)
    eid = open_election(count=3)
    eproxies.cast_one(eid, resident.address, proxy, encode_ranking([0]))
    ballots = [elections.sign(v, eid, encode_ranking([1])) for v in hall.signers[2:4]]
    elections.cast_ballots(hall.outsider, eid, ballots)
    batch = office.cast(
        hall.outsider, eid, [office.sign(officer, eid, resident.address, encode_ranking([2, 1]))]
    )
    assert batch.cast == ((resident.address, encode_ranking([2, 1])),)
    assert eproxies.by_proxy(eid) == 0
    clock.advance(3601)
    record = elections.count(hall.outsider, eid)
    # Without the replacement candidate 0 would hold one of three first preferences; with it,
    # candidate 1 has two of three, a majority in round one.
    assert record.winners == (1,)
    assert record.rounds[0]["tally"] == [0, 2, 1]
