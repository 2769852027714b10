"""An election in the browser (web/tests/elections.mjs, a 360 px phone, Chinese then English):
a resident ranks three candidates by tapping, reviews and signs; another approves two; someone
not on the roll is refused in plain words; after the close and the count the results show every
round, the ranked count run from the page by the outsider (anyone may). Here: the elections the
story starts from (statements stored, other residents' ballots already cast), the close (and the
approval count) it asks for, and the chain's side afterwards. Screenshots in test-artifacts/web-elections/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.demo import CANDIDATES, bilingual
from ledger.offchain import text_hash
from ledger.protocol.generated import ElectionKind, Events, Roles
from ledger.signing.election_ballots import encode_approval, encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract
from tests.contract_wrappers.registry import RegistryContract
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, needs_node, node_tests, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-elections"
NAMES = {"en": ["Wang Fang", "Li Ming", "Zhang Wei"], "zh": ["王芳", "李明", "张伟"]}
STATEMENTS = [
    bilingual(f"{en}\nI will keep the stairwells lit.", f"{zh}\n我会让楼道的灯一直亮着。")
    for en, zh in zip(NAMES["en"], NAMES["zh"], strict=True)
]
# The other residents' rankings, and the story's: round 1 Wang 2, Li 1, Zhang 1 (Zhang out, the
# higher index of the tie); round 2 Wang 2, Li 2 (Li out); round 3 Wang 3, one ballot exhausted.
OTHERS = [[0], [0, 1], [2, 1]]
RANKING = [1, 2, 0]
APPROVE = [0, 2]
WINDOW_S = 600


@needs_node
def test_the_pages_ballots_are_encoded_as_the_contract_reads_them_under_node() -> None:
    node_tests("elections.unit.test.mjs")


def _elections(live: LiveSystem, accounts: list[LocalAccount]) -> dict[str, Any]:
    """A community with a ranked and an approval election on the same three candidates, their
    statements stored; the other residents' ranked ballots cast."""
    w3 = live.w3
    registry = RegistryContract(w3, live.deployment.registry)
    elections = ElectionsContract(w3, live.deployment.elections)
    admin, committee = accounts[0], accounts[1]
    ranker, approver, outsider, *others = new_accounts(3 + len(OTHERS))
    community = registry.create_community(admin, Web3.keccak(text="building 4"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    registry.update_roll(admin, community, [a.address for a in (ranker, approver, *others)])
    for text in STATEMENTS:
        live.client.post("/v1/texts", {"text": text})
    hashes = tuple(bytes.fromhex(text_hash(s)[2:]) for s in STATEMENTS)
    now = int(w3.eth.get_block("latest")["timestamp"])
    ranked = elections.open_election(
        committee, ElectionParams(community, hashes, now, now + WINDOW_S)
    )
    approval = elections.open_election(
        committee,
        ElectionParams(
            community, hashes, now, now + WINDOW_S, kind=ElectionKind.Approval, max_choices=2
        ),
    )
    signed = [
        elections.sign(v, ranked, encode_ranking(r)) for v, r in zip(others, OTHERS, strict=True)
    ]
    elections.cast_ballots(admin, ranked, signed)
    return {
        "community": community,
        "ranked": ranked,
        "approval": approval,
        "names": NAMES,
        "taps": [0, 1, 2],
        "ranking": RANKING,
        "approve": APPROVE,
        "rounds": 3,
        "winner": 0,
        "ranker": {"key": ranker.key.hex(), "address": ranker.address},
        "approver": {"key": approver.key.hex(), "address": approver.address},
        "outsider": {"key": outsider.key.hex(), "address": outsider.address},
    }


@needs_browser
def test_a_ranking_tapped_reviewed_and_signed_is_counted_and_its_rounds_shown(
    served: LiveSystem, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    live = served
    seed = _elections(live, accounts)
    assert seed["community"] == 1, "the page opens on community 1"
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))
    elections = ElectionsContract(live.w3, live.deployment.elections)

    def close(_: dict[str, Any]) -> None:
        """Both elections closed; the approval one counted here, the ranked one by the page."""
        closes = elections.election(seed["ranked"]).closesAt
        live.rpc("evm_mine", [closes + 1])
        record = elections.count(accounts[0], seed["approval"])
        live.client.wait_indexed(int(record.receipts[-1]["blockNumber"]))

    result = run_story("elections.mjs", live.url, ARTIFACTS, {"close": close}, seed=seed_file)

    # The browser's ballots are on the chain as the residents made them.
    ballots = live.client.http.get(f"/v1/elections/{seed['ranked']}/ballots.csv").text
    assert f"{seed['ranker']['address']},0x{encode_ranking(RANKING):016x},1>2>0" in ballots
    approvals = live.client.http.get(f"/v1/elections/{seed['approval']}/ballots.csv").text
    assert f"{seed['approver']['address']},0x{encode_approval(APPROVE):016x},0 2" in approvals
    assert list(elections.election(seed["approval"]).tally) == [1, 0, 1]
    ranked = live.client.get(f"/v1/elections/{seed['ranked']}/rounds")
    assert [r["eliminated"] for r in ranked["seats"][0]["rounds"]] == [2, 1, None]
    assert ranked["seats"][0]["elected"] == 0
    counted = live.w3.eth.get_logs(
        {"address": live.deployment.elections.address, "fromBlock": live.deployment.start_block,
         "topics": [Events.ElectionCounted.topic, seed["ranked"].to_bytes(32, "big")]}
    )  # fmt: skip
    forwarder = live.deployment.forwarder.address
    assert [live.w3.eth.get_transaction(c["transactionHash"])["to"] for c in counted] == [
        forwarder
    ], "the page's count went through the relay's forwarder"
    shots = {name.split("-", 1)[1] for name in result["screenshots"]}
    assert {"ranked-ballot-zh.png", "ballot-review-zh.png", "results-zh.png"} <= shots
    assert {
        "results-zh-360",
        "results-en-large-360",
        "ranked-ballot-zh-360",
        "count-zh-360",
    } <= set(result["a11y"])
    assert not elections.contract.functions.hasVoted(
        seed["ranked"], seed["outsider"]["address"]
    ).call()


def test_the_demo_elects_building_4s_leader_by_ranked_choice_from_every_channel_in_three_rounds(
    seeded: dict[str, Any], served: LiveSystem
) -> None:
    election = served.client.get(f"/v1/elections/{seeded['election']}")
    assert (election["state"], election["kind"], election["communityId"]) == (
        "Counted",
        "Ranked",
        seeded["community"],
    )
    assert election["statements"] == CANDIDATES  # every statement stored, as committed
    assert election["winners"] == [1]  # Zhou Lei
    # Every way to vote: online 5, in person 1, paper box A 2, and 1 by a proxy.
    channels = ("ballotCount", "onlineCount", "inPersonCount", "paperCount", "proxyCount")
    assert tuple(election[c] for c in channels) == (9, 5, 1, 2, 1)
    assert election["boxCounts"] == [{"boxId": 1, "label": "A", "ballots": 2}]
    listed = served.client.get("/v1/elections", community=seeded["community"])
    assert [e["electionId"] for e in listed["items"]] == [seeded["election"]]
    [seat] = served.client.get(f"/v1/elections/{seeded['election']}/rounds")["seats"]
    assert [(r["tally"], r["eliminated"]) for r in seat["rounds"]] == [
        ([3, 3, 2, 1], 3),
        ([3, 3, 3, 0], 2),
        ([3, 4, 0, 0], None),
    ]
    assert seat["rounds"][2]["exhausted"] == 2
