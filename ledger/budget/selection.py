"""The reference selection of a budgeting round: greedy by votes, passing over what no longer fits.

Eligible projects with at least one vote are walked by votes descending; ties go to the lower
cost, then to the lower index. With `remaining` starting at the selection budget, a project is
selected iff its cost is at most `remaining` (which then drops by the cost); a project that does
not fit is passed over and the walk goes on, since a cheaper one may still fit. Projects with
zero votes and ineligible projects are not walked. The contract runs the same walk on-chain and
emits one event per step; the audit compares those events with `select`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WalkStep:
    """One project's turn in the walk; `remaining` is the budget left after it."""

    index: int
    votes: int
    cost: int
    remaining: int
    selected: bool


@dataclass(frozen=True)
class Selection:
    """The walk in order, and what it selected."""

    budget: int
    walk: tuple[WalkStep, ...]

    @property
    def selected(self) -> tuple[int, ...]:
        """Selected project indexes, in walk order."""
        return tuple(step.index for step in self.walk if step.selected)

    @property
    def bitmap(self) -> int:
        """Selected projects as the contract's bitmap (bit i = project i)."""
        return sum(1 << index for index in self.selected)

    @property
    def spent(self) -> int:
        return self.budget - (self.walk[-1].remaining if self.walk else self.budget)


def walk_order(costs: Sequence[int], votes: Sequence[int], eligible: Sequence[bool]) -> list[int]:
    """Indexes of the walked projects: eligible with votes, by votes desc, cost asc, index asc."""
    walked = [i for i in range(len(costs)) if eligible[i] and votes[i] > 0]
    return sorted(walked, key=lambda i: (-votes[i], costs[i], i))


def select(
    budget: int, costs: Sequence[int], votes: Sequence[int], eligible: Sequence[bool]
) -> Selection:
    """Runs the walk with `budget` to spend (the contract's min(round budget, fund available))."""
    if not len(costs) == len(votes) == len(eligible):
        raise ValueError("costs, votes and eligible must name the same projects")
    remaining = budget
    steps: list[WalkStep] = []
    for index in walk_order(costs, votes, eligible):
        fits = costs[index] <= remaining
        if fits:
            remaining -= costs[index]
        steps.append(WalkStep(index, votes[index], costs[index], remaining, fits))
    return Selection(budget, tuple(steps))
