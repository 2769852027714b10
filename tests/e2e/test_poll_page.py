"""The polling place in the browser (web/tests/poll.mjs, phone, Chinese): a poll officer records
a present resident's in-person ballot, the resident found from a photo of their QR code, and a
resident who voted online is refused in plain words. Here: the community, officer, election and
online ballot the story starts from, and the chain's side afterwards. Screenshots in
test-artifacts/poll-page/."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger.protocol.generated import Roles
from ledger.signing.election_ballots import encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts, page_community


@needs_browser
def test_an_officer_records_an_in_person_ballot_in_the_page_and_one_voted_online_is_refused(
    served: LiveSystem, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    live = served
    admin, officer, present, online = new_accounts(4)
    roles = [
        (Roles.REGISTRAR, admin.address),
        (Roles.COMMITTEE, admin.address),
        (Roles.POLL_OFFICER, officer.address),
    ]
    cid = page_community(live, admin, roles, [present.address, online.address], b"\x05")
    elections = ElectionsContract(live.w3, live.deployment.elections)
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    params = ElectionParams(cid, candidates(3), now, now + 3600)
    live.client.act(admin, elections.contract.functions.openElection(params.as_tuple()))
    eid = int(elections.contract.functions.electionCount().call())
    batch = elections.cast_ballots(
        accounts[0], eid, [elections.sign(online, eid, encode_ranking([1]))]
    )
    assert len(batch.cast) == 1
    seed = {
        "election": eid,
        "officer": {"key": "0x" + bytes(officer.key).hex(), "address": officer.address},
        "present": present.address,
        "votedOnline": online.address,
    }
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))

    result = run_story("poll.mjs", live.url, ARTIFACTS_ROOT / "poll-page", {}, seed=seed_file)

    assert "已" in result["state"]["refused"] or "voted" in result["state"]["refused"]
    view = elections.election(eid)
    assert view.ballotCount == 2
    assert elections.contract.functions.hasVoted(eid, present.address).call()
    stored = elections.contract.functions.storedBallots(eid, 0, 2).call()
    assert stored[1] == encode_ranking([2, 0]) & 0xFFF  # three candidates: 12 bits kept
    # Gasless for the officer: the relayer paid.
    assert live.w3.eth.get_balance(officer.address) == 0
