"""Joining the roll in the page, end to end: Debian's Chromium at phone size, in Chinese, against
the real API, contracts and anvil. A new person makes a key and asks to join; the registrar finds
the request by its code (and from a photo of its QR code; a forged one is refused by the page
alone), records the person, adds and publishes; the person then votes and checks the receipt, and
the registrar takes someone who moved away off the roll (asked once more) and publishes. The
browser half is web/tests/join.mjs; what the page claims is checked again here against the chain
and the API. Screenshots: test-artifacts/web-join/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.offchain import text_hash
from ledger.protocol.generated import Roles
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-join"
PERSON = "王芳 3号楼2单元402"
NEW_VIEWS = ("join-ask-zh", "join-zh", "join-en", "roll-pending-zh", "roll-refused-zh",
             "roll-zh", "roll-en", "join-on-roll-zh", "roll-remove-zh")  # fmt: skip


def _office(live: LiveSystem, leaver: str) -> tuple[int, LocalAccount, LocalAccount]:
    """A community with a registrar and a committee member, and on its roll only someone about to
    move away."""
    admin, registrar, chair = new_accounts(3)
    registry = live.client.contracts["registry"]
    live.client.act(admin, registry.functions.createCommunity(Web3.keccak(text="join story")))
    cid: int = registry.functions.communityCount().call()
    for role, account in ((Roles.REGISTRAR, registrar), (Roles.COMMITTEE, chair)):
        live.client.act(admin, registry.functions.grantRole(cid, role, account.address))
    done = live.client.act(registrar, registry.functions.updateRoll(cid, [leaver], [], True))
    live.client.wait_indexed(done["block"])
    return cid, registrar, chair


def _people(live: LiveSystem, community: int, registrar: LocalAccount) -> list[dict[str, Any]]:
    challenge = live.client.post("/v1/auth/challenge", {"address": registrar.address})
    signed = Account.sign_message(encode_defunct(text=challenge["message"]), registrar.key)
    token = live.client.post(
        "/v1/auth/login",
        {"nonce": challenge["nonce"], "signature": "0x" + signed.signature.hex()},
    )["token"]
    answer = httpx.get(
        f"{live.url}/v1/communities/{community}/people",
        headers={"Authorization": f"Bearer {token}"},
    )
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@needs_browser
def test_a_new_person_joins_in_the_page_is_added_by_the_registrar_and_votes(
    served: LiveSystem, tmp_path: Path
) -> None:
    live = served
    leaver = Account.create().address
    community, registrar, chair = _office(live, leaver)
    seed = {
        "community": community,
        "leaver": leaver,
        "registrar": {"address": registrar.address, "key": "0x" + bytes(registrar.key).hex()},
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    council = live.client.contracts["council"]

    def open_proposal(_: dict[str, Any]) -> dict[str, Any]:
        # Opened now, after the roll was published: a proposal's voters are its opening roll.
        text = "社区活动室周末开放到晚上九点"
        live.client.post("/v1/texts", {"text": text})
        now = live.w3.eth.get_block("latest")["timestamp"]
        params = (community, bytes.fromhex(text_hash(text)[2:]), 0, 3, now - 1, now + 3600,
                  0, 5000, 0, b"\x00" * 3)  # fmt: skip
        done = live.client.act(chair, council.functions.openProposal(params))
        live.client.wait_indexed(done["block"])
        return {"proposal": int(council.functions.proposalCount().call())}

    result = run_story(
        "join.mjs",
        live.url,
        ARTIFACTS,
        {"open-proposal": open_proposal},
        seed=tmp_path / "seed.json",
    )

    for view in NEW_VIEWS:
        assert view in result["a11y"], f"axe-core checked {view}"
    assert len(result["screenshots"]) >= 10
    assert all((ARTIFACTS / name).stat().st_size > 5_000 for name in result["screenshots"])
    print(f"screenshots and story.json in {ARTIFACTS}")

    # What the page claims, re-read from the chain and the registrar's records.
    resident = Web3.to_checksum_address(result["resident"])
    registry = live.client.contracts["registry"].functions
    assert registry.isResident(community, resident).call()
    assert not registry.isResident(community, leaver).call(), "removed in the page"
    assert council.functions.hasVoted(result["proposal"], resident).call()
    people = {p["address"]: p for p in _people(live, community, registrar)}
    assert people[resident]["person"] == PERSON
    assert people[resident]["recordedBy"] == registrar.address
    joined = live.client.get(f"/v1/communities/{community}/joins/{result['code']}")
    assert joined["resident"] == resident and joined["status"] == "onRoll"
