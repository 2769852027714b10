"""A ranked election by every channel in the browser (web/tests/mixed.mjs, a 360 px phone, Chinese
then English): in person, on paper in box A, by proxy and online. Here: the community, officers,
election, box and mandate the story starts from, the close it asks for, and the chain's side
afterwards, checked against what the page showed. Screenshots in test-artifacts/web-mixed/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from commons.demo import bilingual
from ledger.offchain import text_hash
from ledger.protocol.generated import MandateScope, Roles
from ledger.signing.election_ballots import encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts, page_community

ARTIFACTS = ARTIFACTS_ROOT / "web-mixed"
NAMES = ["Wang Fang", "Li Ming", "Zhang Wei"]
STATEMENTS = [
    bilingual(f"{en}\nI will fix the lift.", f"{zh}\n我会修好电梯。")
    for en, zh in zip(NAMES, ["王芳", "李明", "张伟"], strict=True)
]
# Five ballots. Round 1: Wang 2 (box A's [0, 2], online [0]), Li 2 (box A's [1], the proxy's
# [1, 0]), Zhang 1 (in person [2, 1]): Zhang is out and the ballot moves to Li. Round 2: Li 3 of 5,
# elected.
IN_PERSON = [2, 1]
PAPER = [([0, 2], 1), ([1], 1)]
BY_PROXY = [1, 0]
ONLINE = [0]


def _key(account: LocalAccount) -> dict[str, str]:
    return {"key": "0x" + bytes(account.key).hex(), "address": account.address}


@needs_browser
def test_an_election_by_every_channel_is_cast_counted_and_shown_in_the_page(
    served: LiveSystem, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    live = served
    admin, first, second, present, online, mandator, proxy, *boxed = new_accounts(9)
    committee = accounts[1]  # opens the election and declares the box from its funded account
    roles = [
        (Roles.REGISTRAR, admin.address),
        (Roles.COMMITTEE, committee.address),
        (Roles.POLL_OFFICER, first.address),
        (Roles.POLL_OFFICER, second.address),
    ]
    voters = [present, online, mandator, proxy, *boxed]
    cid = page_community(live, admin, roles, [v.address for v in voters], b"\x07")
    for text in [*STATEMENTS, "A"]:
        live.client.post("/v1/texts", {"text": text})
    hashes = tuple(bytes.fromhex(text_hash(s)[2:]) for s in STATEMENTS)
    elections = ElectionsContract(live.w3, live.deployment.elections)
    boxes = PaperBoxesContract(live.w3, live.deployment.poll_office, live.deployment.elections)
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    eid = elections.open_election(committee, ElectionParams(cid, hashes, now + 60, now + 3600))
    box = boxes.declare(committee, eid, "A", [b.address for b in boxed])
    appointed = live.client.appoint(mandator, cid, proxy.address, MandateScope.Election, eid)
    assert live.client.wait(appointed["id"])["status"] == "counted"
    live.rpc("evm_mine", [now + 60])
    seed: dict[str, Any] = {
        "election": eid,
        "box": box,
        "first": _key(first),
        "second": _key(second),
        "present": _key(present),
        "online": _key(online),
        "proxy": _key(proxy),
        "mandator": mandator.address,
        "inPerson": IN_PERSON,
        "paper": PAPER,
        "byProxy": BY_PROXY,
        "onlineRanking": ONLINE,
    }
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))

    def close(_: dict[str, Any]) -> None:
        live.rpc("evm_mine", [elections.election(eid).closesAt + 1])

    result = run_story("mixed.mjs", live.url, ARTIFACTS, {"close": close}, seed=seed_file)
    state = result["state"]

    # The in-person resident's own online ballot was refused, in words, for the rule it broke.
    assert state["refusedCode"] == "AlreadyVoted"
    assert "一票" in state["refused"] and "AlreadyVoted" not in state["refused"]
    # Every channel, as the chain holds it.
    view = live.client.get(f"/v1/elections/{eid}")
    channels = ("ballotCount", "onlineCount", "inPersonCount", "paperCount", "proxyCount")
    assert tuple(view[c] for c in channels) == (5, 1, 1, 2, 1)
    assert state["channels"] == "online 1 · in person 1 · paper box A 2 · by proxy 1"
    assert state["channelsZh"] == "网上 1 · 现场 1 · 纸质票箱 A 2 · 代理 1"
    held = elections.contract.functions.proxyBallotOf(eid, mandator.address).call()
    assert tuple(held) == (proxy.address, encode_ranking(BY_PROXY) & 0xFFF)
    # The count the page ran, round by round, is the chain's; the page showed each round.
    [seat] = live.client.get(f"/v1/elections/{eid}/rounds")["seats"]
    assert [(r["tally"], r["eliminated"]) for r in seat["rounds"]] == [
        ([2, 2, 1], 2),
        ([2, 3, 0], None),
    ]
    assert seat["elected"] == 1 and view["winners"] == [1]
    assert len(state["rounds"]) == len(seat["rounds"])
    assert NAMES[1] in state["winners"]
    # Gasless for everyone in the story: the relayer paid.
    for who in (first, second, present, online, proxy):
        assert live.w3.eth.get_balance(who.address) == 0
