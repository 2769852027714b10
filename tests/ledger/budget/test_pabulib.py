from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from pabutools.election.pabulib import parse_pabulib_from_string

from ledger.budget.pabulib import round_as_pb
from ledger.budget.record import BallotRecord, ProjectRecord, RoundRecord
from ledger.budget.tables import ballots_csv, projects_csv
from ledger.protocol.generated import BudgetRule
from tests.ledger.budget.rounds import pabutools_election, pabutools_greedy, rounds


def _round() -> RoundRecord:
    return RoundRecord(
        round_id=3,
        budget=100,
        selection_budget=90,
        currency="CNY",
        rule=BudgetRule.Knapsack,
        min_projects=1,
        max_projects=3,
        projects=(
            ProjectRecord(60, "0xaa"),
            ProjectRecord(40, "0xbb", False),
            ProjectRecord(30, "0xcc"),
        ),
        ballots=(BallotRecord("0x01", 0b101), BallotRecord("0x02", 0b001)),
    )


def test_the_pb_file_states_the_selection_budget_the_rule_and_leaves_out_ineligible_projects() -> (
    None
):
    instance, profile = parse_pabulib_from_string(round_as_pb(_round()))
    assert instance.budget_limit == 90
    assert instance.meta["max_sum_cost"] == "100"
    assert instance.meta["currency"] == "CNY"
    assert sorted(p.name for p in instance) == ["0", "2"]
    assert [sorted(p.name for p in ballot) for ballot in profile] == [["0", "2"], ["0"]]
    assert [b.meta["voter_id"] for b in profile] == ["0x01", "0x02"]


@settings(max_examples=150, deadline=None)
@given(rounds())
def test_the_pb_file_round_trips_through_pabutools_to_the_same_election_counts_and_selection(
    record: RoundRecord,
) -> None:
    parsed_instance, parsed_profile = parse_pabulib_from_string(round_as_pb(record))
    instance, profile = pabutools_election(record)
    assert parsed_instance.budget_limit == instance.budget_limit
    assert {(p.name, p.cost) for p in parsed_instance} == {(p.name, p.cost) for p in instance}
    assert [sorted(p.name for p in b) for b in parsed_profile] == [
        sorted(p.name for p in b) for b in profile
    ]
    by_name = {p.name: parsed_profile.approval_score(p) for p in parsed_instance}
    assert by_name == {
        p.name: int(parsed_instance.project_meta[p]["votes"]) for p in parsed_instance
    }
    assert by_name == {str(i): v for i, v in enumerate(record.votes) if record.projects[i].eligible}
    selected = {
        p.name for p in parsed_instance if parsed_instance.project_meta[p]["selected"] == "1"
    }
    assert selected == {str(i) for i in record.selection().selected}
    assert pabutools_greedy(parsed_instance, parsed_profile) == set(record.selection().selected)


def test_the_projects_csv_carries_each_projects_tally_and_outcome() -> None:
    rows = list(csv.DictReader(io.StringIO(projects_csv(_round()))))
    assert [(r["index"], r["votes"], r["eligible"], r["selected"]) for r in rows] == [
        ("0", "2", "1", "1"),
        ("1", "0", "0", "0"),
        ("2", "1", "1", "1"),
    ]


def test_the_ballots_csv_column_sums_are_the_tally() -> None:
    record = _round()
    rows = list(csv.reader(io.StringIO(ballots_csv(record))))
    assert rows[0] == ["voter", "0", "1", "2"]
    sums = [sum(int(row[1 + i]) for row in rows[1:]) for i in range(3)]
    assert sums == record.votes == [2, 0, 1]
