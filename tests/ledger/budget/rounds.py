"""Hypothesis-generated budgeting rounds and pabutools' view of them, for the cross-checks."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from pabutools.election import ApprovalBallot, ApprovalProfile, Cost_Sat, Instance, Project
from pabutools.rules import greedy_utilitarian_welfare
from pabutools.tiebreaking import TieBreakingRule

from ledger.budget.record import BallotRecord, ProjectRecord, RoundRecord
from ledger.protocol.generated import BudgetRule


@st.composite
def rounds(draw: st.DrawFn, max_projects: int = 12, max_ballots: int = 40) -> RoundRecord:
    """A round whose counted ballots name only eligible projects; small costs make ties common."""
    count = draw(st.integers(1, max_projects))
    budget = draw(st.integers(1, 120))
    costs = draw(st.lists(st.integers(1, budget), min_size=count, max_size=count))
    eligible = draw(
        st.lists(st.sampled_from([True, True, True, False]), min_size=count, max_size=count)
    )
    allowed = sum(1 << i for i in range(count) if eligible[i])
    bitmaps = draw(st.lists(st.integers(0, (1 << count) - 1), max_size=max_ballots))
    projects = tuple(ProjectRecord(cost, f"p{i}", eligible[i]) for i, cost in enumerate(costs))
    ballots = tuple(
        BallotRecord(f"0x{n:040x}", bitmap & allowed) for n, bitmap in enumerate(bitmaps)
    )
    return RoundRecord(
        round_id=draw(st.integers(1, 9)),
        budget=budget,
        selection_budget=draw(st.integers(0, budget)),
        currency="CNY",
        rule=draw(st.sampled_from(list(BudgetRule))),
        min_projects=1,
        max_projects=count,
        projects=projects,
        ballots=tuple(b for b in ballots if b.projects),
    )


def pabutools_election(record: RoundRecord) -> tuple[Instance, ApprovalProfile]:
    """The round as a pabutools instance (eligible projects, named by index) and profile."""
    projects = {
        i: Project(str(i), cost=p.cost) for i, p in enumerate(record.projects) if p.eligible
    }
    instance = Instance(projects.values(), budget_limit=record.selection_budget)
    profile = ApprovalProfile(
        [ApprovalBallot(projects[i] for i in _bits(b.projects)) for b in record.ballots],
        instance=instance,
    )
    return instance, profile


def our_tie_order() -> TieBreakingRule:
    """Ties go to the lower cost, then to the lower index (the project's name)."""
    return TieBreakingRule(lambda inst, prof, project: (project.cost, int(project.name)))


def pabutools_greedy(instance: Instance, profile: Any) -> set[int]:
    """pabutools' greedy by votes, less zero-vote projects (which we never select).

    Cost satisfaction makes greedy_utilitarian_welfare's density (total satisfaction / cost)
    equal the vote count; zero-vote projects come last in its order, so dropping them leaves
    the rest of its selection as it was.
    """
    allocation = greedy_utilitarian_welfare(
        instance, profile, sat_class=Cost_Sat, tie_breaking=our_tie_order()
    )
    return {int(p.name) for p in allocation if profile.approval_score(p) > 0}


def _bits(bitmap: int) -> list[int]:
    return [i for i in range(bitmap.bit_length()) if bitmap >> i & 1]
