"""What a budget ballot's bitmap says, and the content rules the contract judges it by.

A ballot is one uint256: bit i set = project i chosen. The content rules come after the
signature, roll and once-only checks in the contract's order (IParticipatoryBudget's
BudgetSkipReason), so `content_fault` names the first of UnknownProject, IneligibleProject,
TooFewProjects, TooManyProjects, OverBudget that a bitmap breaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.protocol.generated import BudgetRule, BudgetSkipReason, Constants

MAX_PROJECTS = Constants.MAX_PROJECTS


def chosen(bitmap: int) -> list[int]:
    """Indexes of the set bits, ascending."""
    indexes: list[int] = []
    while bitmap:
        low = bitmap & -bitmap
        indexes.append(low.bit_length() - 1)
        bitmap ^= low
    return indexes


def bitmap_of(indexes: Iterable[int]) -> int:
    bitmap = 0
    for index in indexes:
        if not 0 <= index < MAX_PROJECTS:
            raise ValueError(f"project index {index} is outside 0..{MAX_PROJECTS - 1}")
        bitmap |= 1 << index
    return bitmap


def tally(bitmaps: Iterable[int], project_count: int) -> list[int]:
    """Votes per project: each counted ballot gives one vote to each project it names."""
    votes = [0] * project_count
    for bitmap in bitmaps:
        for index in chosen(bitmap):
            votes[index] += 1
    return votes


@dataclass(frozen=True)
class BallotRules:
    """A round's limits as the contract reads them when judging a ballot's content."""

    rule: BudgetRule
    min_projects: int
    max_projects: int
    budget: int
    costs: tuple[int, ...]
    ineligible: int

    def content_fault(self, bitmap: int) -> BudgetSkipReason | None:
        """The first content rule `bitmap` breaks, or None if it may be counted."""
        if bitmap >> len(self.costs):
            return BudgetSkipReason.UnknownProject
        if bitmap & self.ineligible:
            return BudgetSkipReason.IneligibleProject
        picks = chosen(bitmap)
        if len(picks) < self.min_projects:
            return BudgetSkipReason.TooFewProjects
        if len(picks) > self.max_projects:
            return BudgetSkipReason.TooManyProjects
        if self.rule == BudgetRule.Knapsack and self.total_cost(picks) > self.budget:
            return BudgetSkipReason.OverBudget
        return None

    def total_cost(self, picks: Sequence[int]) -> int:
        return sum(self.costs[index] for index in picks)
