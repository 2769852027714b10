"""The ranked count's rules (the model the on-chain count is checked against round by round, in
tests/contracts/test_elections_count.py) against pref-voting's instant runoff, an independent
implementation, on elections hypothesis generates: ties at every elimination, truncated rankings
whose ballots exhaust, several seats, candidates nobody ranked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.election_rules import count_ranked
from tests.pref_voting import load

pv = load()


def _profile(rankings: Sequence[Sequence[int]], count: int) -> Any:
    """Truncated strict rankings as pref-voting's weak orders: rank 1 first, unranked last."""
    ballots = [{c: place for place, c in enumerate(r, start=1)} for r in rankings]
    return pv.ProfileWithTies(ballots, candidates=list(range(count)))


def _pref_voting_winners(rankings: Sequence[Sequence[int]], count: int, seats: int) -> list[int]:
    """Sequential instant runoff in pref-voting: each seat its IRV among the candidates not yet
    elected. Our tie rule eliminates the higher index; pref-voting 1.18.2 eliminates the tied
    candidate that comes first in its tie-breaker list, so the list runs from the highest."""
    profile, elected = _profile(rankings, count), []
    highest_first = list(reversed(range(count)))
    for _ in range(seats):
        rest = [c for c in range(count) if c not in elected]
        (winner,) = pv.instant_runoff_tb(profile, curr_cands=rest, tie_breaker=highest_first)
        elected.append(winner)
    return elected


@st.composite
def elections(draw: st.DrawFn) -> tuple[int, int, list[list[int]]]:
    count = draw(st.integers(2, 6))
    seats = draw(st.integers(1, min(3, count - 1)))
    longest = draw(st.integers(1, count))
    ranking = st.lists(st.integers(0, count - 1), min_size=1, max_size=longest, unique=True)
    return count, seats, draw(st.lists(ranking, min_size=1, max_size=30))


@settings(max_examples=400, deadline=None)
@given(election=elections())
def test_every_seat_is_the_one_pref_voting_elects_with_the_same_tie_rule(
    election: tuple[int, int, list[list[int]]],
) -> None:
    count, seats, rankings = election
    model = count_ranked(rankings, count, seats)
    assert list(model.winners) == _pref_voting_winners(rankings, count, seats)


@settings(max_examples=200, deadline=None)
@given(election=elections())
def test_the_winner_is_one_of_those_any_tie_break_could_elect(
    election: tuple[int, int, list[list[int]]],
) -> None:
    """pref-voting's parallel-universe tie-breaking: the set of winners some order of breaking
    the ties would give. Ours is one of them, and the only one when there is no tie to break."""
    count, _, rankings = election
    model = count_ranked(rankings, count, 1)
    possible = pv.instant_runoff_put(_profile(rankings, count))
    assert model.winners[0] in possible
    if not _broke_a_tie(model.rounds, count):
        assert possible == list(model.winners)


def _broke_a_tie(rounds: Sequence[Any], count: int) -> bool:
    """Whether some round's fewest votes were shared by several continuing candidates."""
    out: set[int] = set()
    for r in rounds:
        continuing = [c for c in range(count) if c not in out]
        fewest = min(r.tally[c] for c in continuing)
        if r.eliminated is not None:
            if sum(r.tally[c] == fewest for c in continuing) > 1:
                return True
            out.add(r.eliminated)
    return False


def test_a_tie_at_every_round_goes_the_way_both_rules_say() -> None:
    # A 2, B 2, C 2: C goes first; then A 3, B 3 is no majority and B goes: A wins.
    rankings = [[0], [0], [1], [1], [2, 0], [2, 1]]
    assert count_ranked(rankings, 3, 1).winners == (0,)
    assert _pref_voting_winners(rankings, 3, 1) == [0]
    assert pv.instant_runoff_put(_profile(rankings, 3)) == [0, 1, 2]


def test_the_stand_ins_refuse_to_be_used() -> None:
    from tests.pref_voting import NotInstalled

    with pytest.raises(RuntimeError, match="not installed"):
        NotInstalled("matplotlib.pyplot").figure()
