"""Initiatives and ratings in the browser (web/tests/initiatives.mjs, phone, Chinese then
English): a resident puts an initiative forward, neighbours co-sign it until the threshold and
the council proposal appears with its text; a resident rates a completed proposal and the
committee's record shows it. Here: the community the story starts from, and the chain's side
afterwards. Screenshots in test-artifacts/web-initiatives/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from web3 import Web3

from ledger.protocol.generated import InitiativeRules, Roles
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-initiatives"
# Half of a roll of four: two co-signatures make a proposal.
RULES = InitiativeRules(
    thresholdBps=5000, signingPeriod=7 * 86_400, votingPeriod=86_400, quorumBps=0, passBps=5000
)


def _community(live: LiveSystem) -> dict[str, Any]:
    """Community 1: four residents, initiative rules, and a proposal passed and completed."""
    admin, chair = new_accounts(2)
    residents = new_accounts(4)
    client = live.client
    registry, council = client.contracts["registry"], client.contracts["council"]
    client.act(admin, registry.functions.createCommunity(Web3.keccak(text="riverside")))
    cid = int(registry.functions.communityCount().call())
    client.act(admin, registry.functions.grantRole(cid, Roles.REGISTRAR, admin.address))
    client.act(admin, registry.functions.grantRole(cid, Roles.COMMITTEE, chair.address))
    client.act(admin, registry.functions.updateRoll(cid, [r.address for r in residents], [], True))
    client.act(admin, client.contracts["initiatives"].functions.setRules(cid, tuple(RULES)))
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    text = "修好三号楼的电梯\nRepair the lift of building 3."
    text_hash = bytes.fromhex(client.post("/v1/texts", {"text": text})["hash"][2:])
    params = (cid, text_hash, 0, 3, now, now + 60, 0, 5000, 0, b"\x00" * 3)
    client.act(chair, council.functions.openProposal(params))
    completed = int(council.functions.proposalCount().call())
    client.wait_all([client.ballot(r, completed, 0) for r in residents[:3]])
    live.rpc("evm_increaseTime", [61])
    live.rpc("evm_mine")
    client.act(chair, council.functions.finalize(completed))
    done = client.act(chair, council.functions.recordMilestone(completed, b"\x09" * 32, True))
    client.wait_indexed(done["block"])
    return {
        "community": cid,
        "needed": 2,
        "completed": completed,
        "residents": [{"key": r.key.hex(), "address": r.address} for r in residents],
    }


@needs_browser
def test_residents_cosign_an_initiative_into_a_proposal_and_rate_a_completed_one(
    served: LiveSystem, tmp_path: Path
) -> None:
    live = served
    seed = _community(live)
    assert seed["community"] == 1, "the page opens on community 1"
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))

    result = run_story("initiatives.mjs", live.url, ARTIFACTS, {}, seed=seed_file)

    initiative, proposal = result["state"]["initiative"], result["state"]["proposal"]
    shown = live.client.get(f"/v1/initiatives/{initiative}")
    assert (shown["state"], shown["proposalId"], shown["coSignatures"]) == ("promoted", proposal, 2)
    assert shown["author"] == seed["residents"][0]["address"]
    opened = live.client.get(f"/v1/proposals/{proposal}")
    assert opened["proposer"] == live.deployment.initiatives.address
    ratings = live.client.get(
        f"/v1/proposals/{seed['completed']}/ratings", rater=seed["residents"][-1]["address"]
    )
    assert (ratings["count"], ratings["histogram"], ratings["rated"]) == (1, [0, 0, 0, 1, 0], True)
    # Gasless for the residents: the relayer paid for every act.
    assert all(live.w3.eth.get_balance(r["address"]) == 0 for r in seed["residents"])
    shots = {name.split("-", 1)[1] for name in result["screenshots"]}
    assert {"initiative-promoted.png", "rated-zh.png", "committee-ratings.png"} <= shots
