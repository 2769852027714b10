"""The API end to end: the real server over HTTP, the real chain, signed by real keys — and
every way a request can be wrong."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.api_client import ApiClientError
from ledger.node import pid_alive
from ledger.offchain import text_hash
from ledger.signing.acks import Acknowledgement, verify_ack
from ledger.signing.ballots import (
    ballot_digest,
    make_ballot,
    malleate,
    sign_ballot,
    typed_data_parts,
)
from ledger.signing.forwards import sign_forward_request
from ledger.signing.services import ServiceRecord, category_code
from tests.e2e.conftest import LiveSystem, new_accounts

ROLE = {name: Web3.keccak(text=name) for name in ("COMMITTEE", "REGISTRAR", "COORDINATOR")}


@dataclass
class Community:
    id: int
    admin: LocalAccount
    committee: list[LocalAccount]
    registrar: LocalAccount
    coordinator: LocalAccount
    residents: list[LocalAccount]
    outsider: LocalAccount
    open_proposal: int


def open_proposal(live: LiveSystem, c: Community, *, closes_in: int, budget: int = 0) -> int:
    council = live.client.contracts["council"]
    text = f"proposal closing in {closes_in}s, budget {budget}"
    live.client.post("/v1/texts", {"text": text})
    now = live.w3.eth.get_block("latest")["timestamp"]
    params = (c.id, bytes.fromhex(text_hash(text)[2:]), 0, 3, now - 1, now + closes_in, 2000, 5000,
              budget, b"CNY" if budget else b"\x00" * 3)  # fmt: skip
    live.client.act(c.committee[0], council.functions.openProposal(params))
    count: int = council.functions.proposalCount().call()
    return count


@pytest.fixture(scope="module")
def community(live: LiveSystem) -> Community:
    admin, registrar, coordinator, outsider = new_accounts(4)
    committee, residents = new_accounts(3), new_accounts(12)
    registry = live.client.contracts["registry"]
    live.client.act(admin, registry.functions.createCommunity(Web3.keccak(text="e2e")))
    cid: int = registry.functions.communityCount().call()
    for member in committee:
        live.client.forward(
            admin, registry.functions.grantRole(cid, ROLE["COMMITTEE"], member.address)
        )
    live.client.forward(
        admin, registry.functions.grantRole(cid, ROLE["REGISTRAR"], registrar.address)
    )
    last = live.client.forward(
        admin, registry.functions.grantRole(cid, ROLE["COORDINATOR"], coordinator.address)
    )
    live.client.wait(last["id"])
    roll = [r.address for r in residents] + [m.address for m in committee]
    live.client.act(registrar, registry.functions.updateRoll(cid, roll, [], True))
    c = Community(cid, admin, committee, registrar, coordinator, residents, outsider, 0)
    c.open_proposal = open_proposal(live, c, closes_in=30 * 86_400)
    return c


def ballot_body(
    live: LiveSystem, voter: LocalAccount, proposal: int, option: int
) -> dict[str, Any]:
    signed = sign_ballot(
        voter, make_ballot(proposal, voter.address, option), live.client.ballot_domain
    )
    return {"proposalId": proposal, "voter": voter.address, "option": option,
            "signature": "0x" + signed.signature.hex()}  # fmt: skip


def post(live: LiveSystem, path: str, body: Any) -> httpx.Response:
    return httpx.post(live.url + path, json=body, timeout=30)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["detail"], body
    return body


# --- ballots -----------------------------------------------------------------------------------


def test_signed_ballot_is_acknowledged_lands_and_reads_back_as_on_chain(
    live: LiveSystem, community: Community
) -> None:
    voter = community.residents[0]
    ack = post(live, "/v1/ballots", ballot_body(live, voter, community.open_proposal, 0))
    assert ack.status_code == 202 and ack.json()["status"] in {
        "queued",
        "sent",
        "included",
        "counted",
    }
    done = live.client.wait(ack.json()["id"])
    assert done["status"] == "counted" and done["txHash"] and done["block"]
    council = live.client.contracts["council"]
    digest = council.functions.ballotDigest(community.open_proposal, voter.address, 0).call()
    assert done["detail"] == "0x" + bytes(digest).hex()
    assert council.functions.hasVoted(community.open_proposal, voter.address).call()
    live.client.wait_indexed(done["block"])
    api_view = live.client.get(f"/v1/proposals/{community.open_proposal}")
    chain_view = council.functions.getProposal(community.open_proposal).call()
    assert api_view["tally"] == list(chain_view.tally) and api_view["tally"][0] >= 1
    ballots = live.client.get(f"/v1/proposals/{community.open_proposal}/ballots", limit=500)
    assert {"voter": voter.address, "option": 0, "digest": done["detail"]}.items() <= next(
        b["args"] for b in ballots["items"] if b["args"]["voter"] == voter.address
    ).items()


def test_ballot_signed_by_ethers_js_is_accepted(live: LiveSystem, community: Community) -> None:
    voter = community.residents[1]
    domain, types, primary, message = typed_data_parts(
        make_ballot(community.open_proposal, voter.address, 2), live.client.ballot_domain
    )
    job = {"privateKey": voter.key.hex(), "domain": domain, "types": types, "primaryType": primary,
           "message": message}  # fmt: skip
    out = subprocess.run(["node", "tests/js/sign_typed_data.mjs"], input=json.dumps(job), text=True,
                         capture_output=True, check=True, timeout=60)  # fmt: skip
    signature = json.loads(out.stdout)["signature"]
    assert signature == ballot_body(live, voter, community.open_proposal, 2)["signature"]
    body = {
        "proposalId": community.open_proposal,
        "voter": voter.address,
        "option": 2,
        "signature": signature,
    }
    assert live.client.wait(post(live, "/v1/ballots", body).json()["id"])["status"] == "counted"


def test_every_acknowledgement_is_signed_by_the_relayer_for_the_digest_the_voter_signed(
    live: LiveSystem, community: Community
) -> None:
    voter = community.residents[3]
    body = ballot_body(live, voter, community.open_proposal, 0)
    first, again = post(live, "/v1/ballots", body).json(), post(live, "/v1/ballots", body).json()
    ack = Acknowledgement.from_json(first["ack"])
    relayer = Account.from_key(live.env["COMMONS_RELAYER_KEY"]).address
    assert ack.relayer == relayer
    verify_ack(ack, live.w3.eth.chain_id, live.deployment.forwarder.address)
    ballot = make_ballot(community.open_proposal, voter.address, 0)
    assert ack.message == ballot_digest(ballot, live.client.ballot_domain)
    # Counted from the newest block the API has seen (read at most a second before).
    assert 0 < ack.land_by - 1_000 <= live.w3.eth.block_number
    # Signed (whole seconds) just before the write whose time the receipt gives.
    assert ack.accepted_at <= first["acceptedAt"] < ack.accepted_at + 2
    # The same message again, and the receipt read later, carry the very same promise.
    assert again["ack"] == first["ack"] == live.client.get(f"/v1/receipts/{first['id']}")["ack"]
    landed = live.client.wait(first["id"])
    assert landed["status"] == "counted" and landed["block"] <= ack.land_by


def test_same_signed_ballot_twice_gets_the_same_receipt_and_lands_once(
    live: LiveSystem, community: Community
) -> None:
    body = ballot_body(live, community.residents[2], community.open_proposal, 1)
    first, second = post(live, "/v1/ballots", body), post(live, "/v1/ballots", body)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    done = live.client.wait(first.json()["id"])
    assert post(live, "/v1/ballots", body).json()["id"] == done["id"]  # and after landing
    live.client.wait_indexed(done["block"])
    casts = live.client.get(f"/v1/proposals/{community.open_proposal}/ballots", limit=500)["items"]
    assert sum(b["args"]["voter"] == community.residents[2].address for b in casts) == 1


def test_second_ballot_of_the_same_voter_is_refused_as_already_voted(
    live: LiveSystem, community: Community
) -> None:
    voter = community.residents[3]
    live.client.wait(
        post(live, "/v1/ballots", ballot_body(live, voter, community.open_proposal, 0)).json()["id"]
    )
    assert_error(
        post(live, "/v1/ballots", ballot_body(live, voter, community.open_proposal, 1)),
        409,
        "AlreadyVoted",
    )


def test_ballot_signed_by_another_key_is_refused(live: LiveSystem, community: Community) -> None:
    body = ballot_body(live, community.residents[4], community.open_proposal, 0)
    body["voter"] = community.residents[5].address  # claims to be someone else
    assert_error(post(live, "/v1/ballots", body), 422, "BadSignature")


def test_malleable_high_s_signature_is_refused(live: LiveSystem, community: Community) -> None:
    body = ballot_body(live, community.residents[4], community.open_proposal, 0)
    body["signature"] = "0x" + malleate(bytes.fromhex(body["signature"][2:])).hex()
    assert_error(post(live, "/v1/ballots", body), 422, "MalleableSignature")


def test_ballot_from_an_address_off_the_roll_is_refused(
    live: LiveSystem, community: Community
) -> None:
    body = ballot_body(live, community.outsider, community.open_proposal, 0)
    assert_error(post(live, "/v1/ballots", body), 422, "VoterNotOnRoll")


def test_ballot_for_an_unknown_proposal_or_option_is_refused(
    live: LiveSystem, community: Community
) -> None:
    assert_error(
        post(live, "/v1/ballots", ballot_body(live, community.residents[6], 999_999, 0)),
        422,
        "UnknownProposal",
    )
    body = ballot_body(live, community.residents[6], community.open_proposal, 7)
    assert_error(post(live, "/v1/ballots", body), 422, "InvalidOption")


def test_ballot_after_closing_is_refused(live: LiveSystem, community: Community) -> None:
    proposal = open_proposal(live, community, closes_in=60)
    live.rpc("evm_increaseTime", [120])
    live.rpc("evm_mine")
    time.sleep(1.1)  # the relay's view of chain time refreshes once a second
    body = ballot_body(live, community.residents[7], proposal, 0)
    assert_error(post(live, "/v1/ballots", body), 409, "ProposalNotOpen")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "InvalidRequest"),
        (b"[]", "InvalidRequest"),
        (b'{"proposalId": 1}', "InvalidRequest"),
        (b'{"proposalId": -1, "voter": "0x0", "option": 0, "signature": "0x"}', "InvalidRequest"),
    ],
)
def test_malformed_bodies_are_422_with_a_reason(live: LiveSystem, raw: bytes, code: str) -> None:
    response = httpx.post(
        live.url + "/v1/ballots", content=raw, headers={"content-type": "application/json"}
    )
    assert_error(response, 422, code)


def test_unknown_fields_and_oversized_bodies_are_refused(
    live: LiveSystem, community: Community
) -> None:
    body = {**ballot_body(live, community.residents[8], community.open_proposal, 0), "extra": 1}
    assert_error(post(live, "/v1/ballots", body), 422, "InvalidRequest")
    huge = {"text": "x" * 300_000}
    assert_error(post(live, "/v1/texts", huge), 413, "BodyTooLarge")


# --- forwarded (ERC-2771) requests ----------------------------------------------------------------


def forward_body(
    live: LiveSystem, signer: LocalAccount, call: Any, **kwargs: Any
) -> dict[str, Any]:
    forwarder = live.client.contracts["forwarder"]
    return sign_forward_request(live.w3, forwarder, signer, call, **kwargs).to_payload()


def test_committee_action_by_a_non_member_is_refused_with_the_contract_rule(
    live: LiveSystem, community: Community
) -> None:
    council = live.client.contracts["council"]
    body = forward_body(
        live,
        community.residents[0],
        council.functions.recordMilestone(community.open_proposal, b"\x01" * 32, False),
    )
    assert_error(post(live, "/v1/forward", body), 403, "NotCommittee")


def test_role_escalation_by_a_non_admin_is_refused(live: LiveSystem, community: Community) -> None:
    registry = live.client.contracts["registry"]
    call = registry.functions.grantRole(community.id, ROLE["COMMITTEE"], community.outsider.address)
    assert_error(
        post(live, "/v1/forward", forward_body(live, community.outsider, call)),
        403,
        "NotCommunityAdmin",
    )


def test_forward_request_replay_tampering_expiry_and_stale_nonce(
    live: LiveSystem, community: Community
) -> None:
    registry = live.client.contracts["registry"]
    call = registry.functions.createCommunity(Web3.keccak(text="replay"))
    body = forward_body(live, community.outsider, call)
    first = post(live, "/v1/forward", body)
    assert first.status_code == 202
    assert post(live, "/v1/forward", body).json()["id"] == first.json()["id"]  # same receipt
    assert live.client.wait(first.json()["id"])["status"] == "counted"
    assert post(live, "/v1/forward", body).json()["id"] == first.json()["id"]  # even after landing
    stale = forward_body(
        live,
        community.outsider,
        registry.functions.createCommunity(Web3.keccak(text="stale")),
        nonce=body["nonce"],
    )
    assert_error(post(live, "/v1/forward", stale), 409, "InvalidNonce")
    tampered = forward_body(live, community.outsider, call)
    tampered["data"] = registry.functions.createCommunity(
        Web3.keccak(text="other")
    )._encode_transaction_data()
    assert_error(post(live, "/v1/forward", tampered), 422, "InvalidSignature")
    expired = forward_body(live, community.outsider, call, ttl_s=-10)
    assert_error(post(live, "/v1/forward", expired), 422, "ExpiredRequest")


def test_forward_to_a_foreign_contract_is_refused(live: LiveSystem, community: Community) -> None:
    body = forward_body(
        live,
        community.outsider,
        live.client.contracts["registry"].functions.createCommunity(b"\x00" * 32),
    )
    body["to"] = community.outsider.address
    assert_error(post(live, "/v1/forward", body), 422, "UnknownTarget")


# --- reads, login, private records -------------------------------------------------------------------


def test_unknown_things_are_404(live: LiveSystem) -> None:
    assert_error(httpx.get(live.url + "/v1/receipts/0x" + "ab" * 32), 404, "UnknownReceipt")
    assert_error(httpx.get(live.url + "/v1/proposals/424242"), 404, "UnknownProposal")
    assert_error(httpx.get(live.url + "/v1/communities/424242"), 404, "UnknownCommunity")
    assert_error(httpx.get(live.url + "/v1/texts/0x" + "00" * 32), 404, "UnknownText")
    assert_error(httpx.get(live.url + "/v1/nowhere"), 404, "NotFound")


def test_proposal_text_is_served_with_its_hash_check(
    live: LiveSystem, community: Community
) -> None:
    view = live.client.get(f"/v1/proposals/{community.open_proposal}")
    assert view["text"] and view["textMatches"] is True
    assert text_hash(view["text"]) == view["textHash"]


def login(live: LiveSystem, account: LocalAccount) -> str:
    challenge = live.client.post("/v1/auth/challenge", {"address": account.address})
    signature = Account.sign_message(
        encode_defunct(text=challenge["message"]), account.key
    ).signature
    token: str = live.client.post(
        "/v1/auth/login", {"nonce": challenge["nonce"], "signature": "0x" + signature.hex()}
    )["token"]
    return token


def test_private_people_records_need_a_login_and_the_registrar_role(
    live: LiveSystem, community: Community
) -> None:
    path = f"{live.url}/v1/communities/{community.id}/people"
    record = {"address": community.residents[0].address, "person": "Flat 3B, Wang Fang"}
    assert_error(httpx.put(path, json=record), 401, "NotSignedIn")
    assert_error(
        httpx.put(path, json=record, headers={"Authorization": "Bearer forged"}), 401, "BadToken"
    )
    outsider = {"Authorization": "Bearer " + login(live, community.outsider)}
    assert_error(httpx.put(path, json=record, headers=outsider), 403, "MissingRole")
    assert_error(httpx.get(path, headers=outsider), 403, "MissingRole")
    registrar = {"Authorization": "Bearer " + login(live, community.registrar)}
    assert httpx.put(path, json=record, headers=registrar).status_code == 200
    people = httpx.get(path, headers=registrar).json()
    assert people["total"] == 1 and people["items"][0]["person"] == record["person"]


def test_login_challenge_is_single_use_and_bound_to_the_address(
    live: LiveSystem, community: Community
) -> None:
    account = community.residents[0]
    challenge = live.client.post("/v1/auth/challenge", {"address": account.address})
    wrong = Account.sign_message(
        encode_defunct(text=challenge["message"]), community.outsider.key
    ).signature
    assert_error(
        post(
            live, "/v1/auth/login", {"nonce": challenge["nonce"], "signature": "0x" + wrong.hex()}
        ),
        401,
        "BadLogin",
    )
    assert_error(
        post(
            live, "/v1/auth/login", {"nonce": challenge["nonce"], "signature": "0x" + wrong.hex()}
        ),
        401,
        "BadLogin",
    )


# --- time bank and fund ----------------------------------------------------------------------------


def test_service_logged_then_confirmed_moves_minutes_and_balances_sum_to_zero(
    live: LiveSystem, community: Community
) -> None:
    timebank = live.client.contracts["timebank"]
    live.client.act(community.admin, timebank.functions.setLimits(community.id, -600, 6000))
    provider, recipient = community.residents[9], community.residents[10]
    record = ServiceRecord(
        provider.address, recipient.address, 75, category_code("CARE"), b"\x07" * 32, 1
    )
    full = live.client.service_body(community.id, record, provider, recipient)
    half = {k: full[k] for k in ("communityId", "record", "providerSig")}
    # Only the provider, signed in, logs their service: not anonymously, not someone else.
    assert_error(post(live, "/v1/services/pending", half), 401, "NotSignedIn")
    as_recipient = {"Authorization": f"Bearer {login(live, recipient)}"}
    refused = httpx.post(live.url + "/v1/services/pending", json=half, headers=as_recipient)
    assert_error(refused, 403, "NotProvider")
    as_provider = {"Authorization": f"Bearer {login(live, provider)}"}
    answer = httpx.post(live.url + "/v1/services/pending", json=half, headers=as_provider)
    assert answer.status_code == 201, answer.text
    logged = answer.json()
    pending = live.client.get("/v1/services/pending", recipient=recipient.address)
    assert [p["id"] for p in pending["items"]] == [logged["id"]]
    forged = post(
        live, f"/v1/services/pending/{logged['id']}/confirm", {"recipientSig": full["providerSig"]}
    )
    assert_error(forged, 422, "WrongSigner")
    ack = live.client.post(
        f"/v1/services/pending/{logged['id']}/confirm", {"recipientSig": full["recipientSig"]}
    )
    done = live.client.wait(ack["id"])
    assert done["status"] == "counted" and done["detail"] == logged["id"]
    assert timebank.functions.balanceOf(community.id, provider.address).call() == 75
    live.client.wait_indexed(done["block"])
    balances = live.client.get(f"/v1/communities/{community.id}/balances")["items"]
    assert sum(b["minutes"] for b in balances) == 0
    assert {"account": recipient.address, "minutes": -75} in balances
    assert live.client.get("/v1/services/pending", recipient=recipient.address)["total"] == 0


def test_fund_trail_follows_income_grant_and_approved_payout(
    live: LiveSystem, community: Community
) -> None:
    fund, council = live.client.contracts["fund"], live.client.contracts["council"]
    proposal = open_proposal(live, community, closes_in=60, budget=50_000)
    receipts = [live.client.ballot(r, proposal, 0) for r in community.residents[:6]]
    live.client.wait_all(receipts)
    live.rpc("evm_increaseTime", [120])
    live.rpc("evm_mine")
    chair, second, third = community.committee
    live.client.act(chair, council.functions.finalize(proposal))
    live.client.forward(community.admin, fund.functions.setCurrency(community.id, b"CNY"))
    live.client.act(community.admin, fund.functions.setApprovalThreshold(community.id, 2))
    live.client.act(
        chair, fund.functions.recordIncome(community.id, 1, 80_000, b"CNY", b"\x01" * 32)
    )
    live.client.act(chair, fund.functions.openGrant(proposal, 50_000))
    recipient = community.outsider.address
    live.client.act(
        chair, fund.functions.requestPayout(proposal, recipient, 20_000, b"\x02" * 32, b"\x03" * 32)
    )
    request_id = fund.functions.payoutCount().call()
    with pytest.raises(ApiClientError) as refused:
        live.client.forward(chair, fund.functions.approvePayout(request_id))
    assert refused.value.code == "SelfApproval" or refused.value.status in (403, 409, 422)
    live.client.act(second, fund.functions.approvePayout(request_id))
    live.client.act(third, fund.functions.approvePayout(request_id))
    done = live.client.act(chair, fund.functions.executePayout(request_id))
    live.client.wait_indexed(done["block"])
    trail = live.client.get(f"/v1/communities/{community.id}/fund/trail", proposal=proposal)[
        "items"
    ]
    assert [t["step"] for t in trail] == [
        "GrantOpened",
        "PayoutRequested",
        "PayoutApproved",
        "PayoutApproved",
        "PayoutExecuted",
    ]
    assert trail[-1]["party"] == recipient and trail[-1]["amount"] == 20_000
    csv_text = httpx.get(
        f"{live.url}/v1/communities/{community.id}/fund/trail.csv", params={"recipient": recipient}
    ).text
    assert csv_text.splitlines()[0].startswith("block,txHash,step") and "PayoutExecuted" in csv_text
    view = live.client.get(f"/v1/communities/{community.id}/fund")
    chain_fund = fund.functions.fundOf(community.id).call()
    assert (view["totalIncome"], view["totalPaid"]) == (
        chain_fund.totalIncome,
        chain_fund.totalPaid,
    )


# --- durability -------------------------------------------------------------------------------------


@contextlib.contextmanager
def paused_relay(live: LiveSystem, max_queued: int) -> Iterator[None]:
    """An API whose relay sends nothing for a long while: acknowledged ballots stay queued.
    On the way out the API is restarted as it was."""
    live.stop_api()
    # The worker's first round runs at its start, maybe after the first acknowledgements: a
    # batch that waits an hour for company keeps those from going out too.
    live.start_api(
        relay_interval_s="3600", relay_max_wait_s="3600", relay_max_queued=str(max_queued)
    )
    try:
        yield
    finally:
        live.stop_api(kill=True)
        live.start_api()


def test_kill_9_with_acknowledged_unsent_ballots_then_restart_lands_each_exactly_once(
    live: LiveSystem, community: Community
) -> None:
    proposal = open_proposal(live, community, closes_in=86_400)
    voters = community.residents[:6]
    with paused_relay(live, max_queued=len(voters)):
        acks = [
            post(live, "/v1/ballots", ballot_body(live, v, proposal, i % 3)).json()
            for i, v in enumerate(voters)
        ]
        assert {a["status"] for a in acks} == {"queued"}
        full = post(live, "/v1/ballots", ballot_body(live, community.committee[0], proposal, 0))
        assert_error(full, 429, "QueueFull")
        assert full.headers["retry-after"] == "1"
        orphans = live.children()
        assert orphans, "the relay runs in a worker process"
        live.stop_api(kill=True)  # SIGKILL: acknowledged, durable, never sent
        # The worker notices its parent is gone and exits: it must not relay beside the next.
        assert wait_until_gone(orphans, 15), [p for p in orphans if pid_alive(p)]
        live.start_api()
        done = [live.client.wait(a["id"]) for a in acks]
    assert [d["status"] for d in done] == ["counted"] * len(voters)
    council = live.client.contracts["council"]
    assert list(council.functions.tallyOf(proposal).call()) == [2, 2, 2]
    events = council.events.BallotCast().get_logs(
        from_block=0, argument_filters={"proposalId": proposal}
    )
    assert sorted(e["args"]["voter"] for e in events) == sorted(v.address for v in voters)


def test_a_ballot_refused_for_a_full_queue_does_not_count_its_voter_as_voted(
    live: LiveSystem, community: Community
) -> None:
    """429 means nothing was stored: the voter's next try must not meet a false AlreadyVoted."""
    proposal = open_proposal(live, community, closes_in=86_400)
    first, second = community.residents[:2]
    with paused_relay(live, max_queued=1):
        queued = post(live, "/v1/ballots", ballot_body(live, first, proposal, 0)).json()
        assert_error(post(live, "/v1/ballots", ballot_body(live, second, proposal, 1)), 429,
                     "QueueFull")  # fmt: skip
        # The worker takes the queued ballot (as if sending it): there is room again.
        with sqlite3.connect(live.data_dir / "var" / "relay.sqlite") as db:
            db.execute("UPDATE messages SET status = 'sent' WHERE id = ?", (queued["id"],))
        # Their next ballot (another choice this time) is taken.
        again = post(live, "/v1/ballots", ballot_body(live, second, proposal, 2))
        assert again.status_code == 202, again.text


def wait_until_gone(pids: list[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def test_a_killed_relay_worker_is_started_again_and_relays_what_waited(
    live: LiveSystem, community: Community
) -> None:
    proposal = open_proposal(live, community, closes_in=86_400)
    workers = live.children()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    assert wait_until_gone(workers, 10)
    # Acknowledged while no worker runs; landed by the one the API starts in its place.
    acks = [
        post(live, "/v1/ballots", ballot_body(live, v, proposal, 1)).json()
        for v in community.residents[:3]
    ]
    done = [live.client.wait(a["id"]) for a in acks]
    assert [d["status"] for d in done] == ["counted"] * 3
    assert set(live.children()).isdisjoint(workers)
