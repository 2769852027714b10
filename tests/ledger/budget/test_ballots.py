from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.budget.ballots import BallotRules, bitmap_of, chosen, tally
from ledger.protocol.generated import BudgetRule, BudgetSkipReason


def _rules(rule: BudgetRule = BudgetRule.Knapsack) -> BallotRules:
    return BallotRules(rule, 1, 2, budget=100, costs=(60, 50, 30, 10), ineligible=0b1000)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 255)))
def test_a_bitmap_names_exactly_the_projects_it_was_made_of(indexes: set[int]) -> None:
    assert chosen(bitmap_of(indexes)) == sorted(indexes)


def test_an_index_past_256_projects_cannot_be_in_a_bitmap() -> None:
    with pytest.raises(ValueError):
        bitmap_of([256])


def test_the_tally_gives_one_vote_per_named_project() -> None:
    assert tally([0b011, 0b110, 0b010], 3) == [1, 3, 1]


@pytest.mark.parametrize(
    ("bitmap", "fault"),
    [
        (0b10000, BudgetSkipReason.UnknownProject),
        (0b11000, BudgetSkipReason.UnknownProject),
        (0b1001, BudgetSkipReason.IneligibleProject),
        (0, BudgetSkipReason.TooFewProjects),
        (0b0111, BudgetSkipReason.TooManyProjects),
        (0b0011, BudgetSkipReason.OverBudget),
        (0b0101, None),
    ],
)
def test_a_knapsack_ballot_is_judged_in_the_contracts_order(
    bitmap: int, fault: BudgetSkipReason | None
) -> None:
    assert _rules().content_fault(bitmap) == fault


def test_a_k_approval_ballot_has_no_cost_limit() -> None:
    assert _rules(BudgetRule.KApproval).content_fault(0b0011) is None
