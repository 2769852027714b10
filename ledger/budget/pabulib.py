"""A round in the pabulib `.pb` format, so outside tools (pabutools, pabulib's) can re-tally it.

The format, as pabutools' parser reads it: `;`-separated sections META (key;value), PROJECTS
(project_id;cost;... one row per project) and VOTES (voter_id;vote with the chosen project ids
comma-separated). Both rules are approval ballots in pabulib's terms; a knapsack round says so
with max_sum_cost. META `budget` is the selection's budget, so a greedy re-run selects what the
contract did. Ineligible projects are left out: no counted ballot names them and the selection
never walks them.
"""

from __future__ import annotations

import csv
import io

from ledger.budget.ballots import chosen
from ledger.budget.record import RoundRecord
from ledger.protocol.generated import BudgetRule

Rows = list[list[object]]


def round_as_pb(record: RoundRecord) -> str:
    """The `.pb` text of `record`."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerows([*_meta(record), *_projects(record), *_votes(record)])
    return out.getvalue()


def _meta(record: RoundRecord) -> Rows:
    eligible = [p for p in record.projects if p.eligible]
    rows: list[tuple[str, object]] = [
        ("description", f"Commons Ledger participatory budgeting round {record.round_id}"),
        ("country", "none"),
        ("unit", "community"),
        ("instance", str(record.round_id)),
        ("num_projects", len(eligible)),
        ("num_votes", len(record.ballots)),
        ("budget", record.selection_budget),
        ("vote_type", "approval"),
        ("rule", "greedy"),
        ("currency", record.currency),
        ("min_length", record.min_projects),
        ("max_length", record.max_projects),
    ]
    if record.rule == BudgetRule.Knapsack:
        rows.append(("max_sum_cost", record.budget))
    return [["META"], ["key", "value"], *([key, value] for key, value in rows)]


def _projects(record: RoundRecord) -> Rows:
    votes = record.votes
    selected = set(record.selection().selected)
    rows: Rows = [["PROJECTS"], ["project_id", "cost", "votes", "name", "selected"]]
    for index, project in enumerate(record.projects):
        if project.eligible:
            rows.append([index, project.cost, votes[index], project.name, int(index in selected)])
    return rows


def _votes(record: RoundRecord) -> Rows:
    rows: Rows = [["VOTES"], ["voter_id", "vote"]]
    for ballot in record.ballots:
        rows.append([ballot.voter, ",".join(str(i) for i in chosen(ballot.projects))])
    return rows
