"""The demo's initiatives and ratings through the real API: one initiative reached its threshold
and became a council proposal, one is still gathering co-signatures, the completed playground
and a funded budget project carried out carry residents' ratings; seeding again (a restart)
makes nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from commons.demo import INITIATIVES, PROJECT_RATINGS, RATINGS, demo_keys, seed_demo
from ledger.budget.grants import grant_id
from tests.e2e.conftest import LiveSystem


def test_the_demo_has_a_promoted_initiative_a_gathering_one_a_rated_proposal_and_a_rated_project(
    live: LiveSystem, tmp_path_factory: pytest.TempPathFactory
) -> None:
    keys = demo_keys(Path(tmp_path_factory.mktemp("demo")) / "keys.json")
    made = seed_demo(live.client, keys, log=lambda _: None, fast_clock=True)
    community, playground = made["community"], made["proposals"]["playground"]

    page = live.client.get("/v1/initiatives", community=community)
    by_id = {i["id"]: i for i in page["items"]}
    lights, benches = (by_id[made["initiatives"][k]] for k in ("lights", "benches"))
    assert (lights["state"], lights["coSignatures"], lights["needed"]) == ("promoted", 3, 3)
    assert lights["textMatches"] is True
    proposal = live.client.get(f"/v1/proposals/{lights['proposalId']}")
    assert (proposal["state"], proposal["textHash"]) == ("Open", lights["textHash"])
    assert (benches["state"], benches["coSignatures"]) == ("open", len(INITIATIVES["benches"][2]))

    ratings = live.client.get(f"/v1/proposals/{playground}/ratings")
    scores = [score for score, _ in RATINGS.values()]
    assert (ratings["count"], ratings["opened"]) == (len(scores), True)
    assert ratings["average"] == int(sum(scores) * 100 / len(scores)) / 100
    assert live.client.get(f"/v1/proposals/{playground}")["execution"] == "Completed"

    # The budget round's funded project, carried out and rated under its grant id.
    round_id, index = made["budget_round"], made["rated_project"]
    project = live.client.get(f"/v1/budget-rounds/{round_id}")["projects"][index]
    assert (project["selected"], project["completed"]) == (True, True)
    assert project["ratingsId"] == str(grant_id(round_id, index))
    live.client.wait_indexed(live.w3.eth.block_number)  # the histogram is read from the index
    rated = live.client.get(f"/v1/budget-rounds/{round_id}/projects/{index}/ratings")
    assert (rated["count"], rated["id"]) == (len(PROJECT_RATINGS), project["ratingsId"])
    assert sum(rated["histogram"]) == len(PROJECT_RATINGS)

    again = seed_demo(live.client, keys, log=lambda _: None, fast_clock=True)
    assert again["initiatives"] == made["initiatives"]
    assert again["rated_project"] == index
    assert live.client.get("/v1/initiatives", community=community)["total"] == 2
    assert live.client.get(f"/v1/proposals/{playground}/ratings")["count"] == len(scores)
    again_rated = live.client.get(f"/v1/budget-rounds/{round_id}/projects/{index}/ratings")
    assert again_rated["count"] == len(PROJECT_RATINGS)
