"""Elections: opening rules, relayed ranked and approval ballots (every encoding, signature, roll
and double-vote rule both ways, as skip reasons), the stepwise count and its round events, and
gas per ballot in batches of 100."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from ledger.audit.election_rules import BallotFault, approvals_of, ranking_of
from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import ElectionKind, ElectionSkipReason, ElectionState, Events
from ledger.relay.ballot_events import outcomes_by_voter, voted_on_chain
from ledger.relay.message import COUNTED, REJECTED
from ledger.signing.eip712 import to_compact
from ledger.signing.election_ballots import encode_approval, encode_ranking
from ledger.signing.secp256k1 import HALF_N
from tests.contract_wrappers import ranking_code
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, Hall, signer_keys

R = ElectionSkipReason
OpenElection = Callable[..., int]


@pytest.fixture
def elections(w3: Web3, system: Deployment) -> ElectionsContract:
    return ElectionsContract(w3, system.elections)


@pytest.fixture
def open_election(elections: ElectionsContract, hall: Hall, clock: Clock) -> OpenElection:
    """Open an election in `hall`: 4 candidates, one seat, ranked, open now for an hour."""

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


def _rule(call: Callable[[], object]) -> str:
    with pytest.raises(ContractRuleBroken) as broken:
        call()
    return broken.value.error


# ---------------------------------------------------------------- opening


def test_only_a_committee_member_opens_an_election(
    elections: ElectionsContract, hall: Hall, clock: Clock
) -> None:
    now = clock.now()
    params = ElectionParams(hall.id, candidates(3), now, now + 60)
    assert _rule(lambda: elections.open_election(hall.voters[0], params)) == "NotCommittee"
    election_id = elections.open_election(hall.committee, params)
    view = elections.election(election_id)
    assert view.opener == hall.committee.address
    assert view.state == ElectionState.Open
    assert list(view.candidates) == list(candidates(3))
    assert view.rollSize == len(hall.residents)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"count": 1}, "InvalidCandidateCount"),
        ({"count": 17}, "InvalidCandidateCount"),
        ({"candidates": (b"\x01" * 32, bytes(32))}, "MissingCandidateHash"),
        ({"seats": 0}, "InvalidSeats"),
        ({"seats": 4}, "InvalidSeats"),
        ({"max_choices": 5}, "InvalidMaxChoices"),
        ({"opens_at": 10**10, "closes_at": 10**10}, "InvalidSchedule"),
        ({"closes_at": 1}, "InvalidSchedule"),
    ],
)
def test_an_election_breaking_an_opening_rule_is_refused(
    open_election: OpenElection, overrides: dict[str, object], error: str
) -> None:
    count = overrides.pop("count", 4)
    if count != 4:
        overrides["candidates"] = candidates(int(count))  # type: ignore[call-overload]
    assert _rule(lambda: open_election(**overrides)) == error


def test_an_election_with_an_empty_roll_is_refused(
    elections: ElectionsContract,
    registry_client: RegistryContract,
    hall: Hall,
    clock: Clock,
) -> None:
    community = registry_client.create_community(hall.admin, b"\x55" * 32)
    from ledger.protocol.generated import Roles

    registry_client.grant_role(hall.admin, community, Roles.COMMITTEE, hall.committee.address)
    now = clock.now()
    params = ElectionParams(community, candidates(3), now, now + 60)
    assert _rule(lambda: elections.open_election(hall.committee, params)) == "EmptyRoll"


# ---------------------------------------------------------------- ranked ballots


def test_the_ranking_encoding_pads_with_the_last_candidate() -> None:
    assert encode_ranking([2, 0]) == 0x0000000000000002
    assert encode_ranking([1, 3, 2]) == 0x2222222222222231
    assert encode_ranking(list(range(16))) == 0xFEDCBA9876543210


def test_valid_rankings_are_counted_and_stored_as_cast(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection
) -> None:
    eid = open_election(max_choices=3)
    rankings = [[0], [1, 0], [3, 2, 1], [2, 3], [0, 1, 2], [1]]
    signed = [
        elections.sign(v, eid, encode_ranking(r))
        for v, r in zip(hall.residents, rankings, strict=False)
    ]
    batch = elections.cast_ballots(hall.outsider, eid, signed)
    assert batch.skipped == ()
    assert [c for _, c in batch.cast] == [encode_ranking(r) for r in rankings]
    stored = elections.contract.functions.storedBallots(eid, 0, 10).call()
    assert stored == [encode_ranking(r) & 0xFFF for r in rankings]  # 3 ranks: 12 bits each
    assert all(
        elections.contract.functions.hasVoted(eid, v.address).call() for v in hall.residents[:6]
    )
    assert not elections.contract.functions.hasVoted(eid, hall.residents[6].address).call()


@pytest.mark.parametrize(
    ("choices", "reason"),
    [
        (encode_ranking([1, 2, 1]), R.RepeatedCandidate),
        (0x1111111111111101, R.RepeatedCandidate),  # [1, 0, 1]: the padding is not the last
        (encode_ranking([0, 4]), R.UnknownCandidate),
        (encode_ranking([15]), R.UnknownCandidate),
        (encode_ranking([0, 1, 2, 3]), R.TooManyChoices),
    ],
)
def test_a_ranking_breaking_an_encoding_rule_is_skipped(
    elections: ElectionsContract,
    hall: Hall,
    open_election: OpenElection,
    choices: int,
    reason: ElectionSkipReason,
) -> None:
    eid = open_election(max_choices=3)
    voter = hall.signers[0]
    batch = elections.cast_ballots(hall.outsider, eid, [elections.sign(voter, eid, choices)])
    assert batch.cast == () and batch.skipped == ((voter.address, reason),)
    # The rule, not the voter, was at fault: a valid ballot still counts.
    good = elections.cast_ballots(
        hall.outsider, eid, [elections.sign(voter, eid, encode_ranking([3, 0]))]
    )
    assert good.cast == ((voter.address, encode_ranking([3, 0])),)


def test_a_voter_off_the_roll_or_voting_twice_is_skipped(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection
) -> None:
    eid = open_election()
    voter = hall.signers[1]
    first = elections.sign(voter, eid, encode_ranking([0]))
    again = elections.sign(voter, eid, encode_ranking([1]))
    stranger = elections.sign(hall.stranger, eid, encode_ranking([0]))
    batch = elections.cast_ballots(hall.outsider, eid, [first, again, stranger])
    assert batch.cast == ((voter.address, encode_ranking([0])),)
    assert batch.skipped == ((voter.address, R.AlreadyVoted), (hall.stranger.address, R.NotOnRoll))
    later = elections.cast_ballots(hall.outsider, eid, [again, first])
    assert later.skipped == ((voter.address, R.AlreadyVoted), (voter.address, R.AlreadyVoted))


def test_a_batch_emits_one_event_of_its_counted_ballots_in_order_after_its_skips(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection
) -> None:
    eid = open_election()
    a, c = hall.signers[0], hall.signers[1]
    ranks_a, ranks_c = encode_ranking([2, 0]), encode_ranking([1])
    ballots = [
        elections.sign(a, eid, ranks_a),
        elections.sign(hall.stranger, eid, encode_ranking([0])),
        elections.sign(c, eid, ranks_c),
        elections.sign(a, eid, ranks_a),
    ]
    batch = elections.cast_ballots(hall.outsider, eid, ballots)
    logs = [log for log in batch.receipt["logs"] if log["address"] == elections.contract.address]
    topics = [bytes(log["topics"][0]) for log in logs]
    cast_topic, skip_topic = Events.ElectionBallotsCast.topic, Events.ElectionBallotSkipped.topic
    assert topics == [skip_topic, skip_topic, cast_topic]
    assert int.from_bytes(bytes(logs[2]["topics"][1]), "big") == eid
    # The entries as IElections words them, packed here by hand: choices << 160 | voter.
    (words,) = abi_decode(["uint256[]"], bytes(logs[2]["data"]))
    assert list(words) == [ranks_a << 160 | int(a.address, 16), ranks_c << 160 | int(c.address, 16)]
    # The relay reads each payload's outcome from it: the voter's first ballot counted, the
    # repeat skipped, though the batch's one event comes after the skip.
    payloads = [{"voter": b.ballot.voter, "choices": b.ballot.choices} for b in ballots]
    said = outcomes_by_voter(
        batch.receipt,
        elections.contract.address,
        cast_topic,
        skip_topic,
        lambda _: None,
        lambda code: R(code).name,
        payloads,
    )
    assert [(o.status, o.detail) for o in said] == [
        (COUNTED, None),
        (REJECTED, "NotOnRoll"),
        (COUNTED, None),
        (REJECTED, "AlreadyVoted"),
    ]
    none_counted = elections.cast_ballots(hall.outsider, eid, ballots[1:2])
    assert [bytes(log["topics"][0]) for log in none_counted.receipt["logs"]] == [skip_topic]
    # Who voted, as a relay started later reads it from the chain: the two counted, no one else.
    voted = voted_on_chain(elections.w3, elections.contract.address, cast_topic, eid)
    assert voted == {a.address.lower(): "on-chain", c.address.lower(): "on-chain"}


def test_a_ballot_outside_the_window_is_skipped(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection, clock: Clock
) -> None:
    now = clock.now()
    eid = open_election(opens_at=now + 600, closes_at=now + 1200)
    ballot = elections.sign(hall.signers[0], eid, encode_ranking([0]))
    assert elections.cast_ballots(hall.outsider, eid, [ballot]).skipped == (
        (hall.signers[0].address, R.ElectionNotOpen),
    )
    clock.advance(700)
    assert elections.cast_ballots(hall.outsider, eid, [ballot]).skipped == ()
    clock.advance(600)
    late = elections.sign(hall.signers[1], eid, encode_ranking([0]))
    assert elections.cast_ballots(hall.outsider, eid, [late]).skipped == (
        (hall.signers[1].address, R.ElectionNotOpen),
    )


def test_a_wrong_signer_a_replay_and_a_malleable_signature_are_skipped(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection
) -> None:
    first, second = open_election(), open_election()
    voter, other = hall.signers[2], hall.signers[3]
    signed = elections.sign(voter, first, encode_ranking([2, 1]))
    # Another resident's signature over a ballot naming `voter`.
    forged = elections.sign(other, first, encode_ranking([2, 1]))
    forged_arg = (voter.address, *forged.call_arg()[1:])
    # The same ballot, changed choices: the signature no longer matches.
    altered = (voter.address, encode_ranking([1, 2]), *signed.call_arg()[2:])
    # A signature for the first election relayed to the second.
    replayed = signed.call_arg()
    # s above n/2 (expressible in the compact form up to 2^255): refused before recovery.
    r_ = to_compact(signed.signature)[0]
    malleable = (voter.address, signed.ballot.choices, r_, (HALF_N + 1).to_bytes(32, "big"))
    batch = elections.cast_ballots(hall.outsider, first, [forged_arg, altered, malleable])
    assert [r for _, r in batch.skipped] == [R.BadSignature, R.BadSignature, R.MalleableSignature]
    assert elections.cast_ballots(hall.outsider, second, [replayed]).skipped == (
        (voter.address, R.BadSignature),
    )
    assert elections.cast_ballots(hall.outsider, first, [signed]).skipped == ()


def test_ballot_digest_view_matches_what_the_voter_signs(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection
) -> None:
    eid = open_election()
    signed = elections.sign(hall.signers[0], eid, encode_ranking([3, 1]))
    digest = elections.contract.functions.ballotDigest(
        eid, hall.signers[0].address, encode_ranking([3, 1])
    ).call()
    assert bytes(digest) == signed.digest


# ---------------------------------------------------------------- approval ballots


@pytest.mark.parametrize(
    ("choices", "reason"),
    [
        (0, R.EmptyBallot),
        (encode_approval([0, 4]), R.UnknownCandidate),
        (encode_approval([0, 1, 2]), R.TooManyChoices),
    ],
)
def test_an_approval_set_breaking_a_rule_is_skipped(
    elections: ElectionsContract,
    hall: Hall,
    open_election: OpenElection,
    choices: int,
    reason: ElectionSkipReason,
) -> None:
    eid = open_election(kind=ElectionKind.Approval, seats=2, max_choices=2)
    voter = hall.signers[0]
    batch = elections.cast_ballots(hall.outsider, eid, [elections.sign(voter, eid, choices)])
    assert batch.skipped == ((voter.address, reason),)


def test_approval_elects_the_most_approved_with_ties_to_the_lower_index(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection, clock: Clock
) -> None:
    eid = open_election(kind=ElectionKind.Approval, seats=2, max_choices=2)
    sets = [[3], [3, 1], [2, 1], [2, 0], [3, 2], [0]]  # 0:2 1:2 2:3 3:3
    signed = [
        elections.sign(v, eid, encode_approval(s))
        for v, s in zip(hall.residents, sets, strict=False)
    ]
    assert len(elections.cast_ballots(hall.outsider, eid, signed).cast) == 6
    assert list(elections.election(eid).tally) == [2, 2, 3, 3]
    assert _rule(lambda: elections.count(hall.outsider, eid)) == "ElectionNotClosed"
    clock.advance(3600)
    record = elections.count(hall.outsider, eid)
    assert record.winners == (2, 3)
    assert [(e["seat"], e["candidate"], e["votes"]) for e in record.elected] == [
        (1, 2, 3),
        (2, 3, 3),
    ]
    assert elections.election(eid).state == ElectionState.Counted
    assert _rule(lambda: elections.count(hall.outsider, eid)) == "AlreadyCounted"


# ---------------------------------------------------------------- the ranked count


def test_instant_runoff_transfers_and_exhausts_round_by_round(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection, clock: Clock
) -> None:
    eid = open_election(count=3)
    # 8 ballots: A 3, B 3, C 2 -> C out (highest index among... fewest), its ballots: one to A,
    # one exhausted -> A 4 of 7 active wins.
    rankings = [[0], [0], [0, 1], [1], [1], [1, 0], [2, 0], [2]]
    signed = [
        elections.sign(v, eid, encode_ranking(r))
        for v, r in zip(hall.residents, rankings, strict=True)
    ]
    assert len(elections.cast_ballots(hall.outsider, eid, signed).cast) == 8
    clock.advance(3600)
    assert _rule(lambda: elections.count(hall.outsider, eid, step=0)) == "EmptyCountStep"
    record = elections.count(hall.outsider, eid)
    assert [
        (r["round"], list(r["tally"]), r["exhausted"], r["eliminated"]) for r in record.rounds
    ] == [
        (1, [3, 3, 2], 0, 2),
        (2, [4, 3, 0], 1, 255),
    ]
    (moved,) = record.transfers
    assert (moved["round"], moved["from"], list(moved["received"]), moved["exhausted"]) == (
        2,
        2,
        [1, 0, 0],
        1,
    )
    assert record.winners == (0,)


def test_a_tie_for_last_eliminates_the_higher_index_and_a_tie_for_a_seat_needs_a_majority(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection, clock: Clock
) -> None:
    eid = open_election(count=3, seats=2)
    # A 2, B 2, C 2: C (highest index) goes; then A 3 B 3 ties: B goes; A wins seat 1.
    # Seat 2 afresh among B and C: B 4 (2 own + 2 from A's second choices), C 2... as below.
    rankings = [[0, 1], [0, 1], [1], [1], [2, 0], [2]]
    signed = [
        elections.sign(v, eid, encode_ranking(r))
        for v, r in zip(hall.residents, rankings, strict=False)
    ]
    elections.cast_ballots(hall.outsider, eid, signed)
    clock.advance(3600)
    record = elections.count(hall.outsider, eid)
    assert [(r["seat"], r["round"], list(r["tally"]), r["eliminated"]) for r in record.rounds] == [
        (1, 1, [2, 2, 2], 2),
        (1, 2, [3, 2, 0], 255),
        (2, 1, [0, 4, 2], 255),
    ]
    assert record.winners == (0, 1)
    assert list(elections.election(eid).winners) == [0, 1]


def test_a_count_split_into_small_steps_gives_the_same_result_as_one_step(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection, clock: Clock
) -> None:
    first, second = open_election(count=4, seats=2), open_election(count=4, seats=2)
    rankings = [[3, 1], [2, 3, 0], [1, 0], [0, 2], [3], [1, 3, 2], [2, 1], [0, 1, 3]]
    for eid in (first, second):
        signed = [
            elections.sign(v, eid, encode_ranking(r))
            for v, r in zip(hall.residents, rankings, strict=True)
        ]
        elections.cast_ballots(hall.outsider, eid, signed)
    clock.advance(3600)
    whole = elections.count(hall.outsider, first, step=1000)
    steps = elections.count(hall.outsider, second, step=1)
    assert len(whole.receipts) == 1
    assert len(steps.receipts) == 8 * len(whole.rounds)  # a step per ballot
    assert whole.winners == steps.winners
    assert [(r["seat"], r["round"], r["tally"]) for r in whole.rounds] == [
        (r["seat"], r["round"], r["tally"]) for r in steps.rounds
    ]


def test_a_later_election_reuses_a_counted_elections_ballot_storage_and_reads_none_of_it(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection, clock: Clock
) -> None:
    first = open_election(count=5)
    long_rankings = [[4, 3, 2, 1, 0], [3, 4, 0, 1, 2], [4, 0, 1, 2, 3], [2, 4, 3, 1, 0]]
    signed = [
        elections.sign(v, first, encode_ranking(r))
        for v, r in zip(hall.residents, long_rankings, strict=False)
    ]
    fresh = elections.cast_ballots(hall.outsider, first, signed)
    clock.advance(3600)
    elections.count(hall.outsider, first)
    second = open_election(count=5)
    short = [[0], [1, 0], [0]]
    signed = [
        elections.sign(v, second, encode_ranking(r))
        for v, r in zip(hall.residents, short, strict=False)
    ]
    reused = elections.cast_ballots(hall.outsider, second, signed)
    assert reused.gas_used < fresh.gas_used
    assert elections.contract.functions.storedBallots(second, 0, 10).call() == [
        encode_ranking(r) & 0xFFFFF for r in short
    ]
    assert (
        _rule(
            lambda: elections._send(
                hall.outsider, elections.contract.functions.storedBallots(first, 0, 1)
            )
        )
        == "BallotsRecycled"
    )
    clock.advance(3600)
    record = elections.count(hall.outsider, second)
    assert [list(r["tally"]) for r in record.rounds] == [[2, 1, 0, 0, 0]]
    assert record.winners == (0,)


def test_an_election_without_ballots_elects_by_the_tie_rule(
    elections: ElectionsContract, hall: Hall, open_election: OpenElection, clock: Clock
) -> None:
    eid = open_election(count=3)
    clock.advance(3600)
    assert elections.count(hall.outsider, eid).winners == (0,)


def test_voters_either_side_of_a_ballot_box_word_boundary_are_each_held_once(
    elections: ElectionsContract,
    registry_client: RegistryContract,
    hall: Hall,
    open_election: OpenElection,
) -> None:
    """A ballot box word holds 255 voters (its top bit is the primer opening writes): roll
    indexes 254 and 255 fall in different words, and the primer marks no one."""
    extra = signer_keys(260, "box-edge")
    registry_client.update_roll(hall.admin, hall.id, [v.address for v in extra])
    registry = registry_client.contract.functions
    at = {registry.residentIndex(hall.id, v.address).call()[1]: v for v in extra}
    edge = [at[i] for i in (253, 254, 255, 256)]
    eid = open_election()
    assert not any(elections.contract.functions.hasVoted(eid, v.address).call() for v in extra)
    first = elections.cast_ballots(
        hall.outsider, eid, [elections.sign(v, eid, encode_ranking([0])) for v in edge[1:3]]
    )
    assert len(first.cast) == 2
    voted = [elections.contract.functions.hasVoted(eid, v.address).call() for v in edge]
    assert voted == [False, True, True, False]
    again = elections.cast_ballots(
        hall.outsider, eid, [elections.sign(v, eid, encode_ranking([1])) for v in edge]
    )
    assert [v for v, _ in again.cast] == [edge[0].address, edge[3].address]
    assert [r for _, r in again.skipped] == [R.AlreadyVoted, R.AlreadyVoted]


# ---------------------------------------------------------------- gas


def test_a_ballot_in_a_batch_of_100_stays_within_its_gas_budget(
    elections: ElectionsContract,
    registry_client: RegistryContract,
    hall: Hall,
    clock: Clock,
    accounts: list[LocalAccount],
) -> None:
    """Ranked ballots of up to 5 ranks over 10 candidates (12 stored per word) and approval
    ballots of 3 approvals; bench/gas_elections.py measures 10 ranks on a 10,000 roll."""
    voters = signer_keys(200, "gas")
    registry_client.update_roll(hall.admin, hall.id, [v.address for v in voters])
    now = clock.now()
    ranked = elections.open_election(
        hall.committee, ElectionParams(hall.id, candidates(10), now, now + 3600, max_choices=5)
    )
    approval = elections.open_election(
        hall.committee,
        ElectionParams(
            hall.id, candidates(10), now, now + 3600, 3, ElectionKind.Approval, max_choices=3
        ),
    )
    for start in (0, 100):
        group = voters[start : start + 100]
        rankings = [encode_ranking([(i + k) % 10 for k in range(5)]) for i in range(100)]
        sets = [encode_approval({i % 10, (i + 3) % 10, (i + 7) % 10}) for i in range(100)]
        ranked_batch = elections.cast_ballots(
            accounts[9],
            ranked,
            [elections.sign(v, ranked, c) for v, c in zip(group, rankings, strict=True)],
        )
        approval_batch = elections.cast_ballots(
            accounts[9],
            approval,
            [elections.sign(v, approval, c) for v, c in zip(group, sets, strict=True)],
        )
        assert len(ranked_batch.cast) == len(approval_batch.cast) == 100
        assert ranked_batch.gas_used / 100 <= 16_000
        assert approval_batch.gas_used / 100 <= 15_000


def test_an_elections_first_batch_of_ten_rank_ballots_writes_no_zero_word(
    elections: ElectionsContract,
    registry_client: RegistryContract,
    hall: Hall,
    clock: Clock,
    accounts: list[LocalAccount],
) -> None:
    """Opening primes the ballot box and the first ballot words (6 ballots of 10 ranks a word),
    so the first batch costs what a later one does: 24,563 gas a ballot before, on a 10,000
    roll (bench/gas_elections.py)."""
    voters = signer_keys(100, "first-batch")
    registry_client.update_roll(hall.admin, hall.id, [v.address for v in voters])
    now = clock.now()
    ranked = elections.open_election(
        hall.committee, ElectionParams(hall.id, candidates(10), now, now + 3600, max_choices=10)
    )
    rankings = [encode_ranking([(i + k) % 10 for k in range(10)]) for i in range(100)]
    batch = elections.cast_ballots(
        accounts[9],
        ranked,
        [elections.sign(v, ranked, c) for v, c in zip(voters, rankings, strict=True)],
    )
    assert len(batch.cast) == 100
    assert batch.gas_used / 100 <= 16_000


_CHOICES = st.one_of(
    st.integers(0, 2**64 - 1),
    st.lists(st.integers(0, 15), min_size=1, max_size=16).map(encode_ranking),
    st.lists(st.integers(0, 7), min_size=1, max_size=8, unique=True).map(encode_ranking),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    count=st.integers(2, 8),
    max_choices=st.integers(1, 8),
    kind=st.sampled_from(list(ElectionKind)),
    words=st.lists(_CHOICES, min_size=8, max_size=8),
)
def test_the_contract_judges_any_choices_as_the_rules_model_does(
    elections: ElectionsContract,
    hall: Hall,
    open_election: OpenElection,
    count: int,
    max_choices: int,
    kind: ElectionKind,
    words: list[int],
) -> None:
    max_choices = min(max_choices, count)
    eid = open_election(count=count, kind=kind, max_choices=max_choices)
    if kind == ElectionKind.Approval:
        words = [w & 0xFFFF for w in words]
    signed = [elections.sign(v, eid, w) for v, w in zip(hall.residents, words, strict=True)]
    batch = elections.cast_ballots(hall.outsider, eid, signed)
    judge = ranking_of if kind == ElectionKind.Ranked else approvals_of
    expected = []
    for voter, word in zip(hall.residents, words, strict=True):
        try:
            judge(word, count, max_choices)
        except BallotFault as fault:
            expected.append((voter.address, fault.reason))
    assert list(batch.skipped) == expected


# ---------------------------------------------------------------- the stored ranking code


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_the_ranking_code_numbers_every_ranking_once_below_its_base(data: st.DataObject) -> None:
    """The model of RankingCode: a bijection between rankings of at most max_choices candidates
    and [0, base), read back rank by rank."""
    count = data.draw(st.integers(min_value=2, max_value=6))
    max_choices = data.draw(st.integers(min_value=1, max_value=count))
    rankings = [
        list(p)
        for length in range(max_choices + 1)
        for p in itertools.permutations(range(count), length)
    ]
    codes = [ranking_code.encode(r, count) for r in rankings]
    assert sorted(codes) == list(range(ranking_code.base(count, max_choices)))
    assert all(ranking_code.decode(c, count) == r for c, r in zip(codes, rankings, strict=True))


def test_ten_of_ten_candidates_take_eleven_ballots_a_word() -> None:
    assert ranking_code.base(10, 10) == 9_864_101
    assert ranking_code.per_word(9_864_101) == 11  # 4 bits a rank held 6
    assert ranking_code.per_word(ranking_code.base(16, 16)) == 5


@pytest.mark.parametrize(("count", "max_choices"), [(10, 10), (16, 16), (5, 2)])
def test_rankings_of_every_length_are_stored_as_their_code_and_read_back(
    w3: Web3,
    elections: ElectionsContract,
    hall: Hall,
    open_election: OpenElection,
    count: int,
    max_choices: int,
) -> None:
    eid = open_election(count=count, max_choices=max_choices)
    lengths = [max_choices, 1, *range(2, max_choices)][: len(hall.residents)]
    rankings = [list(range(count - 1, count - 1 - n, -1)) for n in lengths]
    signed = [
        elections.sign(v, eid, encode_ranking(r))
        for v, r in zip(hall.residents, rankings, strict=False)
    ]
    assert len(elections.cast_ballots(hall.outsider, eid, signed).cast) == len(rankings)
    stored = elections.contract.functions.storedBallots(eid, 0, 100).call()
    assert stored == [encode_ranking(r) & ((1 << (4 * max_choices)) - 1) for r in rankings]
    # On the chain, as the independent model packs them.
    code_base = ranking_code.base(count, max_choices)
    codes = [ranking_code.encode(r, count) for r in rankings]
    address = elections.contract.address
    slot = ranking_code.first_ballot_word(w3, address, eid, codes[0], code_base)
    per_word = ranking_code.per_word(code_base)
    word = int.from_bytes(w3.eth.get_storage_at(address, slot), "big")
    assert word == ranking_code.pack(codes[:per_word], code_base)
