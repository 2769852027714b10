"""A budgeting round as one value: what the exports write and the cross-checks read."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.budget.ballots import tally
from ledger.budget.selection import Selection, select
from ledger.protocol.generated import BudgetRule


@dataclass(frozen=True)
class ProjectRecord:
    """One project; `name` is how the exports label it (its text hash on-chain)."""

    cost: int
    name: str
    eligible: bool = True


@dataclass(frozen=True)
class BallotRecord:
    """One counted ballot: who cast it and the bitmap of chosen projects."""

    voter: str
    projects: int


@dataclass(frozen=True)
class RoundRecord:
    """A round's rules, projects and counted ballots.

    `budget` is the round's (a knapsack ballot's limit); `selection_budget` is what the selection
    spends from: min(budget, the fund's available amount when it ran).
    """

    round_id: int
    budget: int
    selection_budget: int
    currency: str
    rule: BudgetRule
    min_projects: int
    max_projects: int
    projects: tuple[ProjectRecord, ...]
    ballots: tuple[BallotRecord, ...]

    @property
    def votes(self) -> list[int]:
        return tally((ballot.projects for ballot in self.ballots), len(self.projects))

    def selection(self) -> Selection:
        return select(
            self.selection_budget,
            [project.cost for project in self.projects],
            self.votes,
            [project.eligible for project in self.projects],
        )
