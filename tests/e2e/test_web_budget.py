"""The whole cycle in the browser (web/tests/budget.mjs, phone, Chinese), from a resident's idea
to a funded, finished and rated project: an initiative put forward and co-signed by two
neighbours into a council proposal; a project submitted through the form (a cost over the budget
refused before signing); the basket refuses an over-budget choice before signing, a ballot
signed in the page is relayed and counted, and after the selection the page explains the walk
step by step; the selected project, its grant opened, is completed and rated in the page, and
the committee's record shows the rating. Here: the community and rounds the story starts from,
the selection and the completion when the story asks for them, and the chain's side afterwards.
Screenshots in test-artifacts/web-budget/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.budget.grants import grant_id
from ledger.protocol.generated import InitiativeRules
from ledger.tx import send
from tests.audit.budget_town import Round, budget_town
from tests.contract_wrappers.budget import RoundParams
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, needs_node, node_tests, run_story
from tests.e2e.conftest import LiveSystem

ARTIFACTS = ARTIFACTS_ROOT / "web-budget"
COSTS = [60, 50, 30, 10]
# Cast before the story; the resident in the page adds projects 0 and 2. Votes then 2, 2, 3, 1:
# 2 first, then 1 (the cheaper of the tie), 0 no longer fits, 3 does.
OTHERS = [0b0110, 0b0101, 0b1010]


@needs_node
def test_the_pages_budget_ballots_carry_any_of_256_projects_exactly_under_node() -> None:
    node_tests("budget.unit.test.mjs")


@needs_browser
def test_an_idea_becomes_a_proposal_and_a_project_is_voted_selected_completed_and_rated(
    served: LiveSystem, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    live = served
    town = budget_town(live.w3, live.deployment, accounts, "budget page", 4, 1_000)
    assert town.community == 1, "the page opens on community 1"
    r = Round(live.w3, live.deployment, town, budget=100)
    r.submit(COSTS)
    r.advance(61)
    others = [r.sign(v, b) for v, b in zip(town.voters[1:], OTHERS, strict=True)]
    assert r.cast(accounts[9], others) == len(OTHERS)
    # A second round still taking projects (ten minutes), for the form.
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    taking = r.client.open_round(
        town.committee,
        RoundParams(town.community, now - 1, now + 600, now + 600, now + 1200, 100_000),
    )
    # Initiatives in community 1: two co-signatures of its seven residents make a proposal.
    rules = InitiativeRules(thresholdBps=2500, signingPeriod=7 * 86_400, votingPeriod=86_400,
                            quorumBps=0, passBps=5000)  # fmt: skip
    send(
        live.w3,
        town.admin,
        live.deployment.initiatives.functions.setRules(town.community, tuple(rules)),
    )
    voter = town.voters[0]
    seed = {"round": r.id, "submitRound": taking,
            "voter": {"key": voter.key.hex(), "address": voter.address},
            "cosigners": [{"key": v.key.hex(), "address": v.address} for v in town.voters[1:3]]}  # fmt: skip
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))
    # The page lists the rounds the index holds: the index first catches up with the chain.
    live.client.wait_indexed(int(live.w3.eth.block_number))

    def close_and_select(_: dict[str, Any]) -> None:
        r.advance(601)
        r.select(accounts[9])
        live.client.wait_indexed(int(live.w3.eth.block_number))

    def complete_project(_: dict[str, Any]) -> dict[str, str]:
        """Project 2 (selected, funded) carried out: a milestone completes it."""
        call = r.contract.functions.recordProjectMilestone(r.id, 2, b"\x0d" * 32, True)
        send(live.w3, town.committee, call)
        live.client.wait_indexed(int(live.w3.eth.block_number))
        return {"ratingsId": str(grant_id(r.id, 2))}

    result = run_story(
        "budget.mjs",
        live.url,
        ARTIFACTS,
        {"close-and-select": close_and_select, "complete-project": complete_project},
        seed=seed_file,
    )

    assert r.contract.functions.hasVoted(r.id, voter.address).call()
    assert int(r.contract.functions.getRound(r.id).call().selected) == 0b1110
    assert result["state"]["walk"] == [["2", "true"], ["1", "true"], ["0", "false"], ["3", "true"]]
    # The idea became a council proposal by the co-signatures given in the page.
    initiative = live.deployment.initiatives.functions.getInitiative(
        result["state"]["initiative"]
    ).call()
    assert initiative.proposalId == result["state"]["proposal"] and initiative.coSignatures == 2
    # The resident rated the completed project in the page: counted on-chain under its grant id.
    ratings = live.deployment.ratings.functions
    assert ratings.hasRated(grant_id(r.id, 2), voter.address).call()
    assert ratings.ratingsOf(grant_id(r.id, 2)).call().count == 1
    assert result["state"]["ratedSummary"] == result["state"]["recordCount"] == "1"
    # The project submitted in the page: on-chain by the resident, its description served.
    (project,) = live.client.get(f"/v1/budget-rounds/{taking}")["projects"]
    assert (project["proposer"], project["cost"]) == (voter.address, 4550)
    assert project["text"] == "自行车棚\n学校门口十二个车位。"
    assert result["state"]["submittedTitle"] == "自行车棚"
    assert "预算" in result["state"]["overRefusal"]
    shots = {name.split("-", 1)[1] for name in result["screenshots"]}
    assert {"basket-over-budget.png", "ballot-counted.png", "selection-walk.png",
            "project-rated.png", "project-submitted.png", "idea-became-a-proposal.png"} <= shots  # fmt: skip
