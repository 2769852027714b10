"""The on-chain count against the plain Python model of IElections' rules (every round, tally,
transfer and winner, ties included) and against pyrankvote's instant runoff, on elections that
hypothesis generates: partial rankings (exhausted ballots), several seats, ties."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pyrankvote
import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from ledger.audit.election_rules import Count, Round, count_approval, count_ranked, transfers
from ledger.deploy import Deployment
from ledger.protocol.generated import ElectionKind
from ledger.signing.election_ballots import encode_approval, encode_ranking
from tests.contract_wrappers.elections import (
    CountRecord,
    ElectionParams,
    ElectionsContract,
    candidates,
)
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, Hall, signer_keys

VOTERS = 40
NONE = 255


@pytest.fixture
def elections(w3: Web3, system: Deployment) -> ElectionsContract:
    return ElectionsContract(w3, system.elections)


@pytest.fixture
def voters(registry_client: RegistryContract, hall: Hall) -> list[LocalAccount]:
    keys = signer_keys(VOTERS, "count")
    registry_client.update_roll(hall.admin, hall.id, [k.address for k in keys])
    return keys


@st.composite
def ranked_elections(draw: st.DrawFn) -> tuple[int, int, int, list[list[int]]]:
    count = draw(st.integers(2, 7))
    seats = draw(st.integers(1, min(3, count - 1)))
    max_choices = draw(st.integers(1, count))
    ranking = st.lists(st.integers(0, count - 1), min_size=1, max_size=max_choices, unique=True)
    ballots = draw(st.lists(ranking, max_size=VOTERS))
    return count, seats, max_choices, ballots


def _run(
    elections: ElectionsContract,
    hall: Hall,
    clock: Clock,
    voters: Sequence[LocalAccount],
    params: dict[str, object],
    choices: Sequence[int],
    step: int,
) -> CountRecord:
    now = clock.now()
    eid = elections.open_election(
        hall.committee,
        ElectionParams(hall.id, opens_at=now, closes_at=now + 60, **params),  # type: ignore[arg-type]
    )
    if choices:
        signed = [elections.sign(v, eid, c) for v, c in zip(voters, choices, strict=False)]
        batch = elections.cast_ballots(hall.outsider, eid, signed)
        assert batch.skipped == ()
    clock.advance(60)
    return elections.count(hall.outsider, eid, step=step)


def _pyrankvote_winners(rankings: Sequence[Sequence[int]], count: int, seats: int) -> list[int]:
    """Sequential IRV built from pyrankvote's instant runoff: each seat a fresh IRV with the
    candidates already elected struck from every ballot."""
    people = [pyrankvote.Candidate(str(c)) for c in range(count)]
    elected: list[int] = []
    for _ in range(seats):
        running = [p for c, p in enumerate(people) if c not in elected]
        ballots = [
            pyrankvote.Ballot(ranked_candidates=[people[c] for c in r if c not in elected])
            for r in rankings
        ]
        result = pyrankvote.instant_runoff_voting(running, ballots)
        elected.append(int(result.get_winners()[0].name))
    return elected


def _unambiguous(count: Count) -> bool:
    """No round whose outcome pyrankvote settles by another rule than ours: a tie for last
    among candidates with votes, a leader with exactly half, or no votes at all."""
    for r in count.rounds:
        active = sum(r.tally)
        if active == 0 or any(2 * t == active for t in r.tally):
            return False
        if r.eliminated is not None:
            low = r.tally[r.eliminated]
            rivals = [
                c
                for c, t in enumerate(r.tally)
                if c != r.eliminated and t == low and _continuing(count, r, c)
            ]
            if low > 0 and rivals:
                return False
    return True


def _continuing(count: Count, r: Round, candidate: int) -> bool:
    before = [x for x in count.rounds if (x.seat, x.round) < (r.seat, r.round)]
    elected = set(count.winners[: r.seat - 1])
    eliminated = {x.eliminated for x in before if x.seat == r.seat}
    return candidate not in elected and candidate not in eliminated


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(election=ranked_elections(), step=st.sampled_from([3, 20_000]))
def test_the_ranked_count_matches_the_model_round_by_round_and_pyrankvote_where_unambiguous(
    elections: ElectionsContract,
    hall: Hall,
    clock: Clock,
    voters: list[LocalAccount],
    election: tuple[int, int, int, list[list[int]]],
    step: int,
) -> None:
    count, seats, max_choices, rankings = election
    params = {"candidates": candidates(count), "seats": seats, "max_choices": max_choices}
    record = _run(
        elections, hall, clock, voters, params, [encode_ranking(r) for r in rankings], step
    )
    model = count_ranked(rankings, count, seats)
    assert record.winners == model.winners
    assert [
        (r["seat"], r["round"], tuple(r["tally"]), r["exhausted"], r["eliminated"])
        for r in record.rounds
    ] == [
        (r.seat, r.round, r.tally, r.exhausted, NONE if r.eliminated is None else r.eliminated)
        for r in model.rounds
    ]
    expected_transfers = [
        (after.seat, after.round, before.eliminated, *transfers(before, after))
        for before, after in zip(model.rounds, model.rounds[1:], strict=False)
        if before.seat == after.seat
    ]
    assert [
        (t["seat"], t["round"], t["from"], tuple(t["received"]), t["exhausted"])
        for t in record.transfers
    ] == expected_transfers
    if _unambiguous(model):
        assert list(model.winners) == _pyrankvote_winners(rankings, count, seats)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_the_approval_count_matches_the_model(
    elections: ElectionsContract,
    hall: Hall,
    clock: Clock,
    voters: list[LocalAccount],
    data: st.DataObject,
) -> None:
    count = data.draw(st.integers(2, 16))
    seats = data.draw(st.integers(1, count - 1))
    max_choices = data.draw(st.integers(1, count))
    sets = data.draw(
        st.lists(
            st.sets(st.integers(0, count - 1), min_size=1, max_size=max_choices),
            max_size=VOTERS,
        )
    )
    params = {
        "candidates": candidates(count),
        "seats": seats,
        "kind": ElectionKind.Approval,
        "max_choices": max_choices,
    }
    record = _run(elections, hall, clock, voters, params, [encode_approval(s) for s in sets], 1)
    model = count_approval([sorted(s) for s in sets], count, seats)
    assert record.winners == model.winners
    assert [tuple(r["tally"]) for r in record.rounds] == [model.rounds[0].tally]


def test_the_tie_rule_model_eliminates_the_higher_index_and_elects_the_lower() -> None:
    # A 2, B 2, C 2: C goes first; then A 3, B 3 is no majority and B (higher) goes.
    model = count_ranked([[0], [0], [1], [1], [2, 0], [2, 1]], 3, 1)
    assert [r.eliminated for r in model.rounds] == [2, 1, None]
    assert model.winners == (0,)
    assert count_approval([[1], [0]], 2, 1).winners == (0,)


def test_the_model_agrees_with_pyrankvote_on_1000_random_unambiguous_elections() -> None:
    """Off-chain and fast: many more elections than the chain tests, incl. exhausted ballots."""
    rng = random.Random(20261204)
    checked = 0
    for _ in range(1000):
        count = rng.randint(2, 8)
        seats = rng.randint(1, min(3, count - 1))
        rankings = [
            rng.sample(range(count), rng.randint(1, count)) for _ in range(rng.randint(1, 60))
        ]
        model = count_ranked(rankings, count, seats)
        if _unambiguous(model):
            checked += 1
            assert list(model.winners) == _pyrankvote_winners(rankings, count, seats), rankings
    assert checked >= 300  # 365 with this seed
