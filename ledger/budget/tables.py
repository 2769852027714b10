"""A round as CSV for spreadsheets: its projects with tallies and outcome, and its ballots.

The ballots table has one row per counted ballot and one 0/1 column per project, so a column's
sum is that project's votes: anyone can re-tally the round without our code.
"""

from __future__ import annotations

import csv
import io

from ledger.budget.record import RoundRecord


def projects_csv(record: RoundRecord) -> str:
    """index, cost, votes, eligible, selected, name: one row per project, in index order."""
    votes = record.votes
    selected = set(record.selection().selected)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "cost", "currency", "votes", "eligible", "selected", "name"])
    for index, project in enumerate(record.projects):
        writer.writerow(
            [
                index,
                project.cost,
                record.currency,
                votes[index],
                int(project.eligible),
                int(index in selected),
                project.name,
            ]
        )
    return out.getvalue()


def ballots_csv(record: RoundRecord) -> str:
    """voter, then one 0/1 column per project (headed by its index): one row per counted ballot."""
    count = len(record.projects)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["voter", *range(count)])
    for ballot in record.ballots:
        writer.writerow([ballot.voter, *((ballot.projects >> i) & 1 for i in range(count))])
    return out.getvalue()
