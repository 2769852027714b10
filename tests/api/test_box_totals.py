"""Paper-box totals through the real API: a box's resident is refused online before the chain,
each officer's signed totals are checked (over the box's assigned count, a non-officer),
relayed through the PollOffice and receipted; the second officer reads the first's totals from
GET /v1/elections/{id}/paper-boxes and confirms them, and GET /v1/elections/{id} counts the
ballots by channel ("online 3 · paper box A 3")."""

from __future__ import annotations

import time
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.node import rpc
from ledger.protocol.generated import ElectionKind, Roles
from ledger.signing.election_ballots import encode_approval, encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem, live

__all__ = ["live"]  # the fixture, shared with the end-to-end tests


def _until(read: Any, done: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_box_totals_are_checked_relayed_confirmed_and_counted_by_channel(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    w3 = live.w3
    registry = RegistryContract(w3, live.deployment.registry)
    elections = ElectionsContract(w3, live.deployment.elections)
    boxes = PaperBoxesContract(w3, live.deployment.poll_office, live.deployment.elections)
    admin, committee, first, second = accounts[0], accounts[1], accounts[6], accounts[7]
    community = registry.create_community(admin, Web3.keccak(text="paper box api"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    for officer in (first, second):
        registry.grant_role(admin, community, Roles.POLL_OFFICER, officer.address)
    voters = signer_keys(6, "paper-api")
    registry.update_roll(admin, community, [v.address for v in voters])
    now = int(w3.eth.get_block("latest")["timestamp"])
    opens = now + 60
    eid = elections.open_election(
        committee, ElectionParams(community, candidates(3), opens, opens + 3600)
    )
    box = boxes.declare(committee, eid, "A", [v.address for v in voters[3:]])
    assert httpx.post(f"{live.url}/v1/texts", json={"text": "A"}).status_code == 201
    rpc(w3, "evm_mine", [opens])

    def online(voter: LocalAccount, ranking: list[int]) -> httpx.Response:
        choices = encode_ranking(ranking)
        signed = elections.sign(voter, eid, choices)
        body = {
            "electionId": eid,
            "voter": voter.address,
            "choices": choices,
            "signature": "0x" + signed.signature.hex(),
        }
        return httpx.post(f"{live.url}/v1/election-ballots", json=body)

    def totals(officer: LocalAccount, entries: list[tuple[int, int]]) -> httpx.Response:
        signed = boxes.sign(officer, box, entries)
        body = {
            "boxId": box,
            "choices": [c for c, _ in entries],
            "counts": [n for _, n in entries],
            "certificateHash": "0x" + signed.totals.certificate_hash.hex(),
            "officer": officer.address,
            "signature": "0x" + signed.signature.hex(),
        }
        return httpx.post(f"{live.url}/v1/box-totals", json=body)

    assigned = online(voters[4], [0])
    assert (assigned.status_code, assigned.json()["code"]) == (409, "AssignedToPaperBox")
    accepted = [online(v, [i % 3]) for i, v in enumerate(voters[:3])]
    entries = [(encode_ranking([2, 0]), 2), (encode_ranking([1]), 1)]
    accepted.append(totals(first, entries))
    assert [a.status_code for a in accepted] == [202] * 4
    receipts = live.client.wait_all([a.json() for a in accepted])
    assert [r["status"] for r in receipts] == ["counted"] * 4
    assert receipts[3]["detail"] == "signed"

    # The same officer's same totals again are the same message: its receipt, landed once.
    assert totals(first, entries).json()["id"] == receipts[3]["id"]
    over = totals(second, [(encode_ranking([1]), 4)])
    assert (over.status_code, over.json()["code"]) == (422, "OverAssigned")
    not_officer = totals(voters[0], entries)
    assert (not_officer.status_code, not_officer.json()["code"]) == (403, "NotPollOfficer")

    # The second officer reads the first's totals back and signs the same.
    listed = _until(
        lambda: httpx.get(f"{live.url}/v1/elections/{eid}/paper-boxes").json(),
        lambda b: b and b[0]["signatures"],
    )
    (shown,) = listed
    assert (shown["label"], shown["voters"], shown["ballots"]) == (
        "A",
        [v.address for v in voters[3:]],
        None,
    )
    (signature,) = shown["signatures"]
    assert signature["officer"] == first.address
    confirmed = [
        (int(c), n) for c, n in zip(signature["choices"], signature["counts"], strict=True)
    ]
    assert confirmed == entries
    counted = live.client.wait_all([totals(second, confirmed).json()])
    assert counted[0]["detail"] == "box counted: 3 ballots"

    election = _until(
        lambda: httpx.get(f"{live.url}/v1/elections/{eid}").json(),
        lambda e: e["paperCount"] == 3,
    )
    assert (election["ballotCount"], election["onlineCount"], election["paperCount"]) == (6, 3, 3)
    assert election["boxCounts"] == [{"boxId": box, "label": "A", "ballots": 3}]
    # `commons audit --acks` finds both officers' acknowledged totals where they were signed.
    judged = live.judge_acks(lambda i: i["kind"] == "box-totals" and i["payload"]["boxId"] == box)
    assert judged.findings == [] and judged.warnings == []
    assert [(e["verdict"], e["outcome"]) for e in judged.entries] == [("landed", "counted")] * 2


def test_an_approval_elections_ballots_are_counted_by_channel_though_it_holds_none(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    """An approval election only adds each ballot to its tally (its ballotCount stays 0): the
    counts by channel come from its ballots' events and the boxes, never below zero."""
    w3 = live.w3
    registry = RegistryContract(w3, live.deployment.registry)
    elections = ElectionsContract(w3, live.deployment.elections)
    boxes = PaperBoxesContract(w3, live.deployment.poll_office, live.deployment.elections)
    admin, committee, first, second = accounts[0], accounts[1], accounts[6], accounts[7]
    community = registry.create_community(admin, Web3.keccak(text="paper box approval api"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    for officer in (first, second):
        registry.grant_role(admin, community, Roles.POLL_OFFICER, officer.address)
    voters = signer_keys(5, "paper-approval-api")
    registry.update_roll(admin, community, [v.address for v in voters])
    opens = int(w3.eth.get_block("latest")["timestamp"]) + 60
    params = ElectionParams(
        community, candidates(4), opens, opens + 3600, seats=2, kind=ElectionKind.Approval
    )
    eid = elections.open_election(committee, params)
    box = boxes.declare(committee, eid, "B", [v.address for v in voters[3:]])
    rpc(w3, "evm_mine", [opens])
    online = [elections.sign(v, eid, encode_approval({0, i + 1})) for i, v in enumerate(voters[:3])]
    assert elections.cast_ballots(accounts[9], eid, online).skipped == ()
    entries = [(encode_approval({1, 2}), 2)]
    for officer in (first, second):
        boxes.submit(accounts[9], box, [boxes.sign(officer, box, entries)])

    election = _until(
        lambda: httpx.get(f"{live.url}/v1/elections/{eid}").json(),
        lambda e: e["onlineCount"] == 3 and e["paperCount"] == 2,
    )
    counts = ("ballotCount", "onlineCount", "inPersonCount", "paperCount")
    assert tuple(election[k] for k in counts) == (5, 3, 0, 2)
