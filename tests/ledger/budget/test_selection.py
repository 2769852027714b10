from __future__ import annotations

from hypothesis import given, settings

from ledger.budget.record import RoundRecord
from ledger.budget.selection import WalkStep, select
from tests.ledger.budget.rounds import pabutools_election, pabutools_greedy, rounds


def test_a_project_that_no_longer_fits_is_passed_over_and_a_cheaper_one_still_selected() -> None:
    selection = select(100, costs=[60, 50, 30, 10], votes=[9, 8, 8, 1], eligible=[True] * 4)
    assert selection.walk == (
        WalkStep(0, 9, 60, 40, True),
        WalkStep(2, 8, 30, 10, True),
        WalkStep(1, 8, 50, 10, False),
        WalkStep(3, 1, 10, 0, True),
    )
    assert selection.selected == (0, 2, 3)
    assert selection.bitmap == 0b1101
    assert selection.spent == 100


def test_ties_go_to_the_lower_cost_then_the_lower_index() -> None:
    selection = select(10, costs=[5, 5, 4], votes=[3, 3, 3], eligible=[True] * 3)
    assert [step.index for step in selection.walk] == [2, 0, 1]
    assert selection.selected == (2, 0)


def test_zero_vote_and_ineligible_projects_are_never_walked() -> None:
    selection = select(100, costs=[1, 1, 1], votes=[0, 5, 4], eligible=[True, False, True])
    assert [step.index for step in selection.walk] == [2]
    assert selection.selected == (2,)


def test_an_empty_walk_spends_nothing() -> None:
    selection = select(100, costs=[1], votes=[0], eligible=[True])
    assert selection.walk == ()
    assert selection.spent == 0 and selection.bitmap == 0


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_the_reference_selection_equals_pabutools_greedy_by_votes(record: RoundRecord) -> None:
    instance, profile = pabutools_election(record)
    assert set(record.selection().selected) == pabutools_greedy(instance, profile)


@settings(max_examples=200, deadline=None)
@given(rounds())
def test_our_tally_equals_pabutools_approval_scores(record: RoundRecord) -> None:
    instance, profile = pabutools_election(record)
    scores = {int(p.name): profile.approval_score(p) for p in instance}
    assert scores == {i: v for i, v in enumerate(record.votes) if record.projects[i].eligible}
