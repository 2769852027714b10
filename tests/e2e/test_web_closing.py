"""A proposal opens and closes on time with no other activity: the worker's schedule bell mines
one empty block at each of its times, so the chain's own view of the proposal changes when the
clock says, and a resident reopening the page sees it (web/tests/closing.mjs, phone, Chinese).
Without the bell the proposal would read "voting" until some unrelated transaction came."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.offchain import text_hash
from ledger.protocol.generated import ProposalState, Roles
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-closing"
OPENS_IN_S = 20
CLOSES_IN_S = 40
TEXT = "在2号楼门口装一个无障碍坡道。"


@needs_browser
def test_a_proposal_opens_and_closes_on_time_with_nothing_else_happening(
    served: LiveSystem, accounts: list[LocalAccount]
) -> None:
    live = served
    live.stop_api()
    live.start_api(schedule_bell="true", schedule_bell_s="0.2")
    admin, chair = new_accounts(2)
    registry, council = live.client.contracts["registry"], live.client.contracts["council"]
    live.client.act(admin, registry.functions.createCommunity(b"\x01" * 32))
    community = registry.functions.communityCount().call()
    live.client.act(admin, registry.functions.grantRole(community, Roles.COMMITTEE, chair.address))
    live.client.act(admin, registry.functions.grantRole(community, Roles.REGISTRAR, admin.address))
    live.client.act(admin, registry.functions.updateRoll(community, [chair.address], [], True))
    live.client.post("/v1/texts", {"text": TEXT})
    now = live.w3.eth.get_block("pending")["timestamp"]
    opens, closes = now + OPENS_IN_S, now + CLOSES_IN_S
    params = (
        community,
        bytes.fromhex(text_hash(TEXT)[2:]),
        0,
        3,
        opens,
        closes,
        0,
        5000,
        0,
        b"\x00" * 3,
    )
    done = live.client.act(chair, council.functions.openProposal(params))
    live.client.wait_indexed(done["block"])
    proposal = council.functions.proposalCount().call()
    opened_at = live.w3.eth.block_number

    run_story("closing.mjs", live.url, ARTIFACTS, {}, extra_args=("--proposal", str(proposal)))

    # The chain agrees, and it got there with empty blocks only: nobody sent anything.
    assert council.functions.state(proposal).call() == ProposalState.Closed
    blocks: list[Any] = [
        live.w3.eth.get_block(n) for n in range(opened_at + 1, live.w3.eth.block_number + 1)
    ]
    assert blocks and all(not b["transactions"] for b in blocks)
    stamps = [b["timestamp"] for b in blocks]
    assert any(opens <= t < closes for t in stamps), "a block when voting opened"
    assert any(t >= closes for t in stamps), "a block when voting closed"
    assert len(blocks) <= 2, "one bell at each time, not a block every tick"
    # The result can be published now, by anyone.
    stranger = accounts[9].address
    assert council.functions.finalize(proposal).call({"from": stranger}) is not None
