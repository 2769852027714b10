"""Ratings through the real API, relay and chain: residents rate a passed proposal marked
completed (or a budget project a milestone completed), once each, within the window; count and
average come from the chain, the histogram from its events; each rule the contract would skip a
rating for is answered before acknowledgement with its reason."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.budget.grants import grant_id
from ledger.config import Settings
from ledger.signing.ratings import RatingDomain, sign_rating
from ledger.tx import send
from tests.audit.budget_town import Round, budget_town
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem, new_accounts
from tests.e2e.conftest import live as _live  # noqa: F401  (the live system, as a fixture)

REGISTRAR, COMMITTEE = Web3.keccak(text="REGISTRAR"), Web3.keccak(text="COMMITTEE")
THIRTY_DAYS = 30 * 86_400


@dataclass
class Done:
    community: int
    completed: int
    open_: int
    residents: list[LocalAccount]


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> LiveSystem:
    system: LiveSystem = request.getfixturevalue("_live")
    return system


@pytest.fixture(scope="module")
def done(live: LiveSystem) -> Done:
    """A community with a passed proposal marked completed, and one still open."""
    admin, chair = new_accounts(2)
    client = live.client
    registry, council = client.contracts["registry"], client.contracts["council"]
    client.act(admin, registry.functions.createCommunity(Web3.keccak(text="ratings")))
    community: int = registry.functions.communityCount().call()
    client.act(admin, registry.functions.grantRole(community, REGISTRAR, admin.address))
    client.act(admin, registry.functions.grantRole(community, COMMITTEE, chair.address))
    residents = signer_keys(6, "ratings")
    roll = [r.address for r in residents]
    client.act(admin, registry.functions.updateRoll(community, roll, [], True))
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    ids = []
    for n, closes in enumerate((now + 60, now + 10 * THIRTY_DAYS)):
        params = (community, bytes([n + 1]) * 32, 0, 3, now, closes, 0, 5000, 0, b"\x00" * 3)
        client.act(chair, council.functions.openProposal(params))
        ids.append(int(council.functions.proposalCount().call()))
    client.wait_all([client.ballot(r, ids[0], 0) for r in residents[:3]])
    live.rpc("evm_increaseTime", [61])
    live.rpc("evm_mine")
    client.act(chair, council.functions.finalize(ids[0]))
    client.act(chair, council.functions.recordMilestone(ids[0], b"\x07" * 32, True))
    return Done(community, ids[0], ids[1], residents)


def _rating(
    live: LiveSystem, rater: LocalAccount, proposal: int, score: int, comment: bytes = bytes(32)
) -> dict[str, object]:
    domain = RatingDomain(live.client.chain_id, live.deployment.ratings.address)
    signed = sign_rating(rater, proposal, score, comment, domain)
    return {
        "proposalId": proposal,
        "rater": rater.address,
        "score": score,
        "commentHash": "0x" + comment.hex(),
        "signature": "0x" + signed.signature.hex(),
    }


def _post(live: LiveSystem, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{live.url}/v1/ratings", json=body)


def test_residents_rate_a_completed_proposal_and_its_ratings_are_served(
    live: LiveSystem, done: Done
) -> None:
    before = live.client.get(f"/v1/proposals/{done.completed}/ratings")
    assert (before["opened"], before["count"], before["average"]) == (False, 0, None)
    receipts = [
        live.client.rate(r, done.completed, s, c)
        for r, s, c in zip(done.residents[:3], (5, 4, 4), (None, "Well built.", None), strict=True)
    ]
    landed = live.client.wait_all(receipts)
    assert [d["status"] for d in landed] == ["counted"] * 3
    # Each batch stayed within the bound the relay packs batches by.
    settings = Settings()
    for tx in {d["txHash"] for d in landed}:
        items = sum(d["txHash"] == tx for d in landed)
        used = int(live.w3.eth.get_transaction_receipt(tx)["gasUsed"])
        print(f"rating batch of {items}: {used} gas")
        assert used < settings.relay_batch_base_gas + settings.relay_rating_gas * items
    live.client.wait_indexed(live.client.wait(receipts[-1]["id"])["block"])
    after = live.client.get(
        f"/v1/proposals/{done.completed}/ratings", rater=done.residents[0].address
    )
    assert (after["opened"], after["count"], after["average"], after["rated"]) == (
        True,
        3,
        4.33,
        True,
    )
    assert after["histogram"] == [0, 0, 0, 2, 1]


def test_the_same_rating_twice_gets_one_receipt_and_another_score_is_refused(
    live: LiveSystem, done: Done
) -> None:
    body = _rating(live, done.residents[3], done.completed, 3)
    first, again = _post(live, body).json(), _post(live, body).json()
    assert first["id"] == again["id"]
    assert live.client.wait(first["id"])["status"] == "counted"
    changed = _post(live, _rating(live, done.residents[3], done.completed, 1))
    assert (changed.status_code, changed.json()["code"]) == (409, "AlreadyRated")


def test_ratings_refused_off_the_roll_by_another_signer_out_of_range_or_not_completed(
    live: LiveSystem, done: Done
) -> None:
    (outsider,) = new_accounts(1)
    stranger = _post(live, _rating(live, outsider, done.completed, 5))
    assert (stranger.status_code, stranger.json()["code"]) == (422, "NotOnRoll")
    forged = {**_rating(live, outsider, done.completed, 5), "rater": done.residents[4].address}
    assert _post(live, forged).json()["code"] == "BadSignature"
    too_high = _post(live, _rating(live, done.residents[4], done.completed, 6))
    assert (too_high.status_code, too_high.json()["code"]) == (422, "InvalidScore")
    still_open = _post(live, _rating(live, done.residents[4], done.open_, 5))
    assert (still_open.status_code, still_open.json()["code"]) == (409, "ProposalNotCompleted")


def test_a_budget_project_not_completed_is_refused_and_its_ratings_read_by_round_and_index(
    live: LiveSystem, done: Done
) -> None:
    """No round 999 exists, so its project 0 was never completed: refused before
    acknowledgement, like a proposal still open. (The demo's rated project:
    tests/e2e/test_demo_initiatives.py.)"""
    subject = grant_id(999, 0)
    refused = _post(live, _rating(live, done.residents[4], subject, 5))
    assert (refused.status_code, refused.json()["code"]) == (409, "ProjectNotCompleted")
    none = live.client.get("/v1/budget-rounds/999/projects/0/ratings")
    assert (none["id"], none["opened"], none["count"]) == (str(subject), False, 0)
    for path in ("999/projects/256", "0/projects/0", f"{2**247}/projects/0"):
        bad = httpx.get(f"{live.url}/v1/budget-rounds/{path}/ratings")
        assert (bad.status_code, bad.json()["code"]) == (422, "InvalidRequest")


def test_a_selected_project_under_way_is_refused_and_once_completed_its_residents_rate_it(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    town = budget_town(live.w3, live.deployment, accounts, "rated through the API", 2, 1_000)
    round_ = Round(live.w3, live.deployment, town, budget=500)
    round_.submit([100])
    round_.advance(61)
    assert round_.cast(accounts[9], [round_.sign(v, 0b1) for v in town.voters]) == 2
    round_.advance(601)
    assert round_.select(accounts[9]) == 0b1
    milestone = round_.contract.functions.recordProjectMilestone
    subject = grant_id(round_.id, 0)
    send(live.w3, town.committee, milestone(round_.id, 0, b"\x0e" * 32, False))
    under_way = _post(live, _rating(live, town.voters[0], subject, 4))
    assert (under_way.status_code, under_way.json()["code"]) == (409, "ProjectNotCompleted")
    completed = f"/v1/communities/{town.community}/completed-projects"
    assert live.client.get(completed)["projects"] == []

    send(live.w3, town.committee, milestone(round_.id, 0, b"\x0f" * 32, True))
    receipt = live.client.rate(town.voters[0], subject, 4, None)
    live.client.wait_indexed(live.client.wait(receipt["id"])["block"])
    served = live.client.get(f"/v1/budget-rounds/{round_.id}/projects/0/ratings")
    assert (served["id"], served["opened"], served["count"], served["average"]) == (
        str(subject), True, 1, 4.0)  # fmt: skip
    [listed] = live.client.get(completed)["projects"]
    assert (listed["roundId"], listed["project"]["index"], listed["project"]["ratingsId"]) == (
        round_.id, 0, str(subject))  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [{"score": "5"}, {"commentHash": "0x12"}, {"signature": "0x00"}, {"rater": "me"}, {"x": 1}],
)
def test_malformed_ratings_are_invalid_requests(
    live: LiveSystem, done: Done, change: dict[str, object]
) -> None:
    answer = _post(live, {**_rating(live, done.residents[5], done.completed, 5), **change})
    assert (answer.status_code, answer.json()["code"]) == (422, "InvalidRequest")


def test_a_rating_after_the_window_is_refused(live: LiveSystem, done: Done) -> None:
    # A minute past: anvil's blocks run ahead of the wall clock when many come in a second.
    live.rpc("evm_increaseTime", [THIRTY_DAYS + 60])
    live.rpc("evm_mine")
    late = _post(live, _rating(live, done.residents[5], done.completed, 5))
    assert (late.status_code, late.json()["code"]) == (409, "RatingsClosed")
