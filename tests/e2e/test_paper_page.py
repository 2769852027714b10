"""Paper box totals in the browser (web/tests/paper.mjs, phone, Chinese): two poll officers sign
a box's totals, the second confirming what the first entered, and the box counts. Here: the
community, officers, election and box the story starts from, and the chain's side afterwards.
Screenshots in test-artifacts/paper-page/."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from eth_account.signers.local import LocalAccount

from ledger.node import rpc
from ledger.protocol.generated import Roles
from ledger.signing.election_ballots import encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts, page_community


@needs_browser
def test_two_officers_enter_and_confirm_a_paper_box_in_the_page_and_it_counts(
    served: LiveSystem, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    live = served
    admin, first, second, *residents = new_accounts(6)
    committee = accounts[1]  # declares the box from its own funded account
    roles = [
        (Roles.REGISTRAR, admin.address),
        (Roles.COMMITTEE, committee.address),
        (Roles.POLL_OFFICER, first.address),
        (Roles.POLL_OFFICER, second.address),
    ]
    cid = page_community(live, admin, roles, [r.address for r in residents], b"\x06")
    elections = ElectionsContract(live.w3, live.deployment.elections)
    boxes = PaperBoxesContract(live.w3, live.deployment.poll_office, live.deployment.elections)
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    params = ElectionParams(cid, candidates(3), now + 60, now + 3600)
    eid = elections.open_election(committee, params)
    box = boxes.declare(committee, eid, "甲", [r.address for r in residents])
    assert httpx.post(f"{live.url}/v1/texts", json={"text": "甲"}).status_code == 201
    rpc(live.w3, "evm_mine", [now + 60])
    seed = {
        "election": eid,
        "box": box,
        "first": {"key": "0x" + bytes(first.key).hex(), "address": first.address},
        "second": {"key": "0x" + bytes(second.key).hex(), "address": second.address},
    }
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))

    result = run_story("paper.mjs", live.url, ARTIFACTS_ROOT / "paper-page", {}, seed=seed_file)

    assert "纸质票箱 甲 3" in result["state"]["counts"]
    counted = boxes.box(box)
    assert counted.ballots == 3
    stored = elections.contract.functions.storedBallots(eid, 0, 3).call()
    assert sorted(stored) == sorted(
        [encode_ranking([2, 0]) & 0xFFF] * 2 + [encode_ranking([1]) & 0xFFF]
    )
    # Gasless for the officers: the relayer paid.
    assert live.w3.eth.get_balance(first.address) == live.w3.eth.get_balance(second.address) == 0
