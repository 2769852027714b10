"""Participatory budgeting through the real API and relay: signed ballots posted, refused before
acknowledgement for the reasons the contract would skip them, relayed in a batch and counted; the
round served with its votes and the selection step by step; the round exported as CSV and as a
pabulib .pb file that pabutools reads back to the same tally and selection; a project submitted
with its text and the resident's signed request, refused before acknowledgement for the reason the
contract would revert it."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from pabutools.election.pabulib import parse_pabulib_from_string
from web3 import Web3

from ledger.node import rpc
from ledger.offchain import text_hash
from ledger.signing.budget_ballots import BudgetBallot, BudgetDomain, sign_budget_ballot
from ledger.signing.forwards import sign_forward_request
from tests.audit.budget_town import Round, budget_town
from tests.contract_wrappers.budget import RoundParams
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem
from tests.ledger.budget.rounds import pabutools_greedy

COSTS = [60, 50, 30, 10]
# Votes 2, 3, 3, 1: 1 and 2 tie (30 first), then 0 (60) no longer fits, 3 (10) does.
BALLOTS = [0b0110, 0b0110, 0b0101, 0b1010, 0b0001]


def _body(r: Round, voter: LocalAccount, projects: int) -> dict[str, Any]:
    domain = BudgetDomain(int(r.w3.eth.chain_id), to_checksum_address(r.contract.address))
    ballot = BudgetBallot(r.id, to_checksum_address(voter.address), projects)
    signed = sign_budget_ballot(voter, ballot, domain)
    return {
        "roundId": r.id,
        "voter": ballot.voter,
        "projects": projects,
        "signature": "0x" + signed.signature.hex(),
    }


def _wait_for(predicate: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("not reached in time")


def test_budget_ballots_are_checked_relayed_counted_and_the_round_served_and_exported(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    town = budget_town(live.w3, live.deployment, accounts, "budget api", len(BALLOTS), 1_000)
    r = Round(live.w3, live.deployment, town, budget=100)
    r.submit(COSTS)
    r.advance(61)
    url = f"{live.url}/v1"

    receipts = []
    for voter, projects in zip(town.voters, BALLOTS, strict=True):
        answer = httpx.post(f"{url}/budget-ballots", json=_body(r, voter, projects))
        assert answer.status_code == 202, answer.text
        receipts.append(answer.json()["id"])
    stranger = signer_keys(1, "budget-api-stranger")[0]
    refused = {
        "OverBudget": _body(r, town.proposers[0], 0b0011),
        "UnknownProject": _body(r, town.proposers[0], 0b10000),
        "TooFewProjects": _body(r, town.proposers[0], 0),
        "NotOnRoll": _body(r, stranger, 0b1),
        "AlreadyVoted": _body(r, town.voters[0], 0b1),
    }
    for code, body in refused.items():
        answer = httpx.post(f"{url}/budget-ballots", json=body)
        assert answer.json()["code"] == code, answer.text
    assert httpx.post(f"{url}/budget-ballots", json=refused["OverBudget"]).status_code == 422
    assert httpx.post(f"{url}/budget-ballots", json=refused["AlreadyVoted"]).status_code == 409

    _wait_for(
        lambda: all(
            httpx.get(f"{url}/receipts/{rid}").json()["status"] == "counted" for rid in receipts
        )
    )
    r.advance(601)
    r.select(accounts[9])

    served = httpx.get(f"{url}/budget-rounds/{r.id}").json()
    assert served["state"] == "Selected" and served["ballotCount"] == len(BALLOTS)
    assert [p["votes"] for p in served["projects"]] == [2, 3, 3, 1]
    assert [p["selected"] for p in served["projects"]] == [False, True, True, True]
    assert [(s["index"], s["remaining"], s["selected"]) for s in served["walk"]] == [
        (2, 70, True),
        (1, 20, True),
        (0, 20, False),
        (3, 10, True),
    ]
    assert served["spent"] == 90
    listed = httpx.get(f"{url}/communities/{town.community}/budget-rounds").json()
    assert listed["roundIds"] == [r.id]
    missing = httpx.get(f"{url}/budget-rounds/999")
    assert (missing.status_code, missing.json()["code"]) == (404, "UnknownBudgetRound")

    base = f"{url}/budget-rounds/{r.id}"
    _wait_for(lambda: len(httpx.get(f"{base}/ballots.csv").text.splitlines()) == 1 + len(BALLOTS))
    projects = list(csv.DictReader(io.StringIO(httpx.get(f"{base}/projects.csv").text)))
    assert [(p["votes"], p["selected"]) for p in projects] == [
        ("2", "0"), ("3", "1"), ("3", "1"), ("1", "1"),
    ]  # fmt: skip
    pb = httpx.get(f"{base}/round.pb")
    assert pb.headers["content-disposition"].endswith(f'budget-round-{r.id}.pb"')
    instance, profile = parse_pabulib_from_string(pb.text)
    assert {p.name: profile.approval_score(p) for p in instance} == {
        "0": 2, "1": 3, "2": 3, "3": 1,
    }  # fmt: skip
    assert pabutools_greedy(instance, profile) == {1, 2, 3}


def _project(live: LiveSystem, r: Round, proposer: LocalAccount, signed: str, cost: int,
             text: str | None = None, round_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """A project body: `text` (default: the signed one) and the signed submitProject of
    keccak256(`signed`) for `round_id` (default: r's)."""
    call = r.contract.functions.submitProject(round_id or r.id, Web3.keccak(text=signed), cost)
    forwarder = live.client.contracts["forwarder"]
    request = sign_forward_request(live.w3, forwarder, proposer, call)
    return {"text": signed if text is None else text, "request": request.to_payload()}


def test_a_project_is_submitted_with_its_text_and_refused_early_for_the_contracts_reasons(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    town = budget_town(live.w3, live.deployment, accounts, "budget projects api", 1, 1_000)
    r = Round(live.w3, live.deployment, town, budget=100)
    url = f"{live.url}/v1/budget-rounds/{r.id}/projects"
    text = "A bicycle shelter by the school gate, twelve places."

    answer = httpx.post(url, json=_project(live, r, town.proposers[0], text, 40))
    assert answer.status_code == 202, answer.text
    assert live.client.wait(answer.json()["id"])["status"] == "counted"
    (project,) = httpx.get(f"{live.url}/v1/budget-rounds/{r.id}").json()["projects"]
    assert (project["proposer"], project["cost"]) == (town.proposers[0].address, 40)
    assert (project["textHash"], project["text"]) == (text_hash(text), text)
    assert httpx.get(f"{live.url}/v1/texts/{project['textHash']}").json()["text"] == text

    proposer = town.proposers[1]
    stranger = signer_keys(1, "budget-projects-stranger")[0]
    initiative = live.client.contracts["initiatives"].functions.submit(
        town.community, Web3.keccak(text=text), 0, b"\x00" * 3
    )
    other_call = sign_forward_request(
        live.w3, live.client.contracts["forwarder"], proposer, initiative
    ).to_payload()
    refused = {
        "TextMismatch": (422, _project(live, r, proposer, text, 40, text="another text")),
        "NotASubmission": (422, {"text": text, "request": other_call}),
        "ProposerNotOnRoll": (422, _project(live, r, stranger, "from afar", 40)),
        "InvalidProjectCost": (422, _project(live, r, proposer, "free", 0)),
    }
    for code, (status, body) in refused.items():
        answer = httpx.post(url, json=body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    over = httpx.post(url, json=_project(live, r, proposer, "too dear", 101))
    assert (over.status_code, over.json()["code"]) == (422, "InvalidProjectCost")
    # Signed for this round, posted to another one.
    elsewhere = httpx.post(
        f"{live.url}/v1/budget-rounds/{r.id + 1}/projects",
        json=_project(live, r, proposer, "astray", 40),
    )
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (422, "NotASubmission")

    nowhere = httpx.post(
        f"{live.url}/v1/budget-rounds/{10**6}/projects",
        json=_project(live, r, proposer, "nowhere", 40, round_id=10**6),
    )
    assert (nowhere.status_code, nowhere.json()["code"]) == (422, "UnknownBudgetRound")

    now = int(live.w3.eth.get_block("latest")["timestamp"])
    params = RoundParams(town.community, now + 300, now + 600, now + 600, now + 1200, 100)
    later = r.client.open_round(town.committee, params)
    early = httpx.post(
        f"{live.url}/v1/budget-rounds/{later}/projects",
        json=_project(live, r, proposer, "too early", 40, round_id=later),
    )
    assert (early.status_code, early.json()["code"]) == (409, "SubmissionNotOpen")

    closes_at = httpx.get(f"{live.url}/v1/budget-rounds/{r.id}").json()["submissionClosesAt"]
    rpc(live.w3, "evm_mine", [closes_at])
    late = httpx.post(url, json=_project(live, r, proposer, "too late", 40))
    assert (late.status_code, late.json()["code"]) == (409, "SubmissionNotOpen")
    assert len(httpx.get(f"{live.url}/v1/budget-rounds/{r.id}").json()["projects"]) == 1
