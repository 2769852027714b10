"""A catalogue of crafted attacks on the live system, each with the refusal it must meet.

The real API server over HTTP and the real chain, as in test_api.py, which covers the basic
refusals (another key's ballot, a high-s ballot, off-roll voter, non-admin grantRole, forward
tampering, expiry and stale nonces, oversized Content-Length). Here: signatures bound to another
chain, contract, proposal or community; re-encoded and unrecoverable signatures; replays through
the API and straight to the chain (bypassing the relay); roll stuffing after a proposal opened;
role escalation in the council, fund and time bank; out-of-range integers; unicode tricks in
texts; oversized and pathological bodies; reorgs that drop a landed batch; and schemathesis
fuzzing every operation. docs/security.md lists each attack with its expected refusal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError

from ledger.errors import ContractRuleBroken
from ledger.offchain import text_hash
from ledger.protocol.generated import SkipReason
from ledger.signing.ballots import (
    BallotDomain,
    make_ballot,
    malleate,
    sign_ballot,
    typed_data_parts,
)
from ledger.signing.eip712 import domain_for, sign_typed_data, to_compact
from ledger.signing.forwards import FORWARD_REQUEST_TYPES, sign_forward_request
from ledger.signing.secp256k1 import HALF_N
from ledger.signing.services import (
    SERVICE_TYPES,
    CompactSignature,
    ServiceRecord,
    SignedRecord,
    category_code,
    record_id,
    sign_both,
    sign_reversal,
)
from ledger.tx import ErrorDecoder, revert_data, send
from tests.contract_wrappers.timebank import TimeBankContract
from tests.e2e.conftest import LiveSystem, new_accounts

ROOT = Path(__file__).resolve().parents[2]
ROLE = {name: Web3.keccak(text=name) for name in ("COMMITTEE", "REGISTRAR", "COORDINATOR")}
CNY = b"CNY"
ZERO = "0x" + "00" * 20


@dataclass
class Town:
    """A community with every role filled, a funded treasury and an open yes/no proposal."""

    id: int
    admin: LocalAccount
    committee: list[LocalAccount]
    registrar: LocalAccount
    coordinator: LocalAccount
    residents: list[LocalAccount]
    outsider: LocalAccount
    proposal: int


# --- helpers ---------------------------------------------------------------------------------------


def post(live: LiveSystem, path: str, body: Any) -> httpx.Response:
    return httpx.post(live.url + path, json=body, timeout=30)


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the documented refusal: `status`, JSON `{code, detail}`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["detail"], body
    return body


def open_proposal(live: LiveSystem, town: Town, *, closes_in: int, budget: int = 0) -> int:
    council = live.client.contracts["council"]
    text = f"attack catalogue proposal {time.time_ns()}"
    live.client.post("/v1/texts", {"text": text})
    now = live.w3.eth.get_block("latest")["timestamp"]
    params = (town.id, bytes.fromhex(text_hash(text)[2:]), 0, 3, now - 1, now + closes_in, 2000,
              5000, budget, CNY if budget else b"\x00" * 3)  # fmt: skip
    live.client.act(town.committee[0], council.functions.openProposal(params))
    count: int = council.functions.proposalCount().call()
    return count


def ballot(
    live: LiveSystem, voter: LocalAccount, proposal: int, option: int, *, domain: Any = None
) -> dict[str, Any]:
    signed = sign_ballot(
        voter, make_ballot(proposal, voter.address, option), domain or live.client.ballot_domain
    )
    return {"proposalId": proposal, "voter": voter.address, "option": option,
            "signature": "0x" + signed.signature.hex()}  # fmt: skip


def forward(live: LiveSystem, signer: LocalAccount, call: ContractFunction) -> dict[str, Any]:
    forwarder = live.client.contracts["forwarder"]
    return sign_forward_request(live.w3, forwarder, signer, call).to_payload()


def resign(
    live: LiveSystem,
    signer: LocalAccount,
    body: dict[str, Any],
    *,
    chain_id: int | None = None,
    verifying: str | None = None,
) -> dict[str, Any]:
    """`body` (a forward request) signed afresh by `signer`, under the given domain."""
    message = {k: v for k, v in body.items() if k != "signature"}
    message["data"] = HexBytes(body["data"])
    domain = domain_for("CommonsForwarder", "1", chain_id or live.client.chain_id,
                        verifying or live.client.contracts["forwarder"].address)  # fmt: skip
    signature = sign_typed_data(signer, domain, FORWARD_REQUEST_TYPES, "ForwardRequest", message)
    return {**body, "signature": "0x" + signature.hex()}


def forward_refused(
    live: LiveSystem, signer: LocalAccount, call: ContractFunction, status: int, code: str
) -> None:
    refused(post(live, "/v1/forward", forward(live, signer, call)), status, code)


def service_sig(live: LiveSystem, signer: LocalAccount, community: int, rec: ServiceRecord) -> str:
    signature = sign_typed_data(signer, live.client.service_domain, SERVICE_TYPES,
                                "ServiceRecord", rec.message(community))  # fmt: skip
    return "0x" + signature.hex()


def decoder(live: LiveSystem) -> ErrorDecoder:
    return ErrorDecoder(a.abi for a in live.artifacts.values())


def skip_reasons(live: LiveSystem, receipt: Any) -> list[str]:
    council = live.client.contracts["council"]
    events = council.events.BallotSkipped().process_receipt(receipt)
    return [SkipReason(int(e["args"]["reason"])).name for e in events]


def casts(live: LiveSystem, proposal: int) -> list[str]:
    """Voters with a BallotCast for `proposal` on the canonical chain, in order."""
    council = live.client.contracts["council"]
    events = council.events.BallotCast().get_logs(
        from_block=0, argument_filters={"proposalId": proposal}
    )
    return [e["args"]["voter"] for e in events]


def login(live: LiveSystem, account: LocalAccount) -> str:
    challenge = live.client.post("/v1/auth/challenge", {"address": account.address})
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key)
    body = {"nonce": challenge["nonce"], "signature": "0x" + signature.signature.hex()}
    token: str = live.client.post("/v1/auth/login", body)["token"]
    return token


def healthy(live: LiveSystem) -> bool:
    return httpx.get(live.url + "/health", timeout=10).status_code == 200


@pytest.fixture(scope="module")
def town(live: LiveSystem) -> Town:
    admin, registrar, coordinator, outsider = new_accounts(4)
    committee, residents = new_accounts(3), new_accounts(10)
    c = live.client.contracts
    registry, fund, timebank = c["registry"], c["fund"], c["timebank"]
    live.client.act(admin, registry.functions.createCommunity(Web3.keccak(text="attacks")))
    cid: int = registry.functions.communityCount().call()
    grants = [(m, "COMMITTEE") for m in committee] + [(registrar, "REGISTRAR"),
                                                      (coordinator, "COORDINATOR")]  # fmt: skip
    for member, role in grants:
        live.client.forward(admin, registry.functions.grantRole(cid, ROLE[role], member.address))
    live.client.forward(admin, timebank.functions.setLimits(cid, -600, 6000))
    live.client.forward(admin, fund.functions.setCurrency(cid, CNY))
    live.client.act(admin, fund.functions.setApprovalThreshold(cid, 2))
    roll = [a.address for a in (*residents, *committee, coordinator)]
    live.client.act(registrar, registry.functions.updateRoll(cid, roll, [], True))
    live.client.act(committee[0], fund.functions.recordIncome(cid, 1, 1_000_000, CNY, b"\x01" * 32))
    t = Town(cid, admin, committee, registrar, coordinator, residents, outsider, 0)
    t.proposal = open_proposal(live, t, closes_in=30 * 86_400)
    return t


# --- forged, malleable and misdirected signatures ----------------------------------------------------


def test_ballot_signed_for_another_chain_id_is_refused_as_bad_signature(
    live: LiveSystem, town: Town
) -> None:
    other_chain = BallotDomain(live.client.chain_id + 1, live.client.ballot_domain.council)
    body = ballot(live, town.residents[0], town.proposal, 0, domain=other_chain)
    refused(post(live, "/v1/ballots", body), 422, "BadSignature")


def test_ballot_signed_for_another_contract_is_refused_as_bad_signature(
    live: LiveSystem, town: Town
) -> None:
    # A look-alike council: same chain, same name and version, another address.
    registry = Web3.to_checksum_address(live.client.contracts["registry"].address)
    other_contract = BallotDomain(live.client.chain_id, registry)
    body = ballot(live, town.residents[0], town.proposal, 0, domain=other_contract)
    refused(post(live, "/v1/ballots", body), 422, "BadSignature")


def test_ballot_signature_moved_to_another_proposal_or_option_is_refused(
    live: LiveSystem, town: Town
) -> None:
    other = open_proposal(live, town, closes_in=86_400)
    body = ballot(live, town.residents[0], town.proposal, 0)
    refused(post(live, "/v1/ballots", {**body, "proposalId": other}), 422, "BadSignature")
    refused(post(live, "/v1/ballots", {**body, "option": 1}), 422, "BadSignature")


@pytest.mark.parametrize(
    "signature",
    [
        "0x" + "00" * 65,  # r = s = 0, v = 0
        "0x" + "00" * 64 + "1b",  # r = s = 0, v = 27
        "0x" + "ff" * 32 + "01" * 32 + "1b",  # r beyond the curve order
        "0x" + "11" * 64 + "05",  # recovery id 5
    ],
    ids=["all-zero", "zero-r-s", "r-beyond-order", "recovery-id-5"],
)
def test_ballot_with_a_garbage_signature_is_refused_not_a_server_error(
    live: LiveSystem, town: Town, signature: str
) -> None:
    body = {**ballot(live, town.residents[0], town.proposal, 0), "signature": signature}
    response = post(live, "/v1/ballots", body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"BadSignature", "MalleableSignature"}


def test_ballot_signature_re_encoded_with_v_0_or_1_cannot_vote_twice(
    live: LiveSystem, town: Town
) -> None:
    voter = town.residents[1]
    body = ballot(live, voter, town.proposal, 2)
    done = live.client.wait(post(live, "/v1/ballots", body).json()["id"])
    assert done["status"] == "counted"
    sig = bytes.fromhex(body["signature"][2:])
    twin = "0x" + (sig[:64] + bytes([sig[64] - 27])).hex()  # the same signature, v as 0/1
    refused(post(live, "/v1/ballots", {**body, "signature": twin}), 409, "AlreadyVoted")
    assert casts(live, town.proposal).count(voter.address) == 1


def test_forward_request_with_a_high_s_signature_is_refused_as_malleable(
    live: LiveSystem, town: Town
) -> None:
    registry = live.client.contracts["registry"]
    body = forward(live, town.outsider, registry.functions.createCommunity(b"\x05" * 32))
    body["signature"] = "0x" + malleate(bytes.fromhex(body["signature"][2:])).hex()
    refused(post(live, "/v1/forward", body), 422, "MalleableSignature")


def test_forward_request_claiming_another_sender_is_refused(live: LiveSystem, town: Town) -> None:
    registry = live.client.contracts["registry"]
    call = registry.functions.grantRole(town.id, ROLE["COMMITTEE"], town.outsider.address)
    body = forward(live, town.outsider, call)
    body["from"] = town.admin.address  # signed by the outsider, claims to be the admin
    refused(post(live, "/v1/forward", body), 422, "InvalidSignature")


def test_forward_request_signed_for_another_chain_or_forwarder_is_refused(
    live: LiveSystem, town: Town
) -> None:
    registry = live.client.contracts["registry"]
    honest = forward(live, town.outsider, registry.functions.createCommunity(b"\x06" * 32))
    other_chain = resign(live, town.outsider, honest, chain_id=live.client.chain_id + 1)
    refused(post(live, "/v1/forward", other_chain), 422, "InvalidSignature")
    other_contract = resign(live, town.outsider, honest, verifying=registry.address)
    refused(post(live, "/v1/forward", other_contract), 422, "InvalidSignature")


def test_forward_request_aimed_at_the_forwarder_itself_is_refused(
    live: LiveSystem, town: Town
) -> None:
    forwarder = live.client.contracts["forwarder"]
    registry = live.client.contracts["registry"]
    body = forward(live, town.outsider, registry.functions.createCommunity(b"\x07" * 32))
    body["to"] = forwarder.address  # a request that would make the forwarder call itself
    refused(post(live, "/v1/forward", body), 422, "UnknownTarget")


def _service(provider: LocalAccount, recipient: str, minutes: int, nonce: int,
             note: bytes = b"\x09" * 32) -> ServiceRecord:  # fmt: skip
    return ServiceRecord(provider.address, recipient, minutes, category_code("CARE"), note, nonce)


def _service_body(live: LiveSystem, community: int, rec: ServiceRecord, provider: LocalAccount,
                  confirmer: LocalAccount) -> dict[str, Any]:  # fmt: skip
    return live.client.service_body(community, rec, provider, confirmer)


@pytest.mark.parametrize("path", ["/v1/services", "/v1/services/pending"])
def test_service_record_with_an_unrecoverable_signature_is_refused_not_a_server_error(
    live: LiveSystem, town: Town, path: str
) -> None:
    provider, recipient = town.residents[2], town.residents[3]
    body = _service_body(live, town.id, _service(provider, recipient.address, 30, 900),
                         provider, recipient)  # fmt: skip
    # r = 1 with a valid-looking low s: no public key recovers from it.
    body["providerSig"] = "0x" + (1).to_bytes(32, "big").hex() + "11" * 32 + "1b"
    headers = {}
    if path.endswith("pending"):
        del body["recipientSig"]
        headers = {"Authorization": f"Bearer {login(live, provider)}"}
    response = httpx.post(live.url + path, json=body, headers=headers, timeout=30)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"BadSignature", "WrongSigner"}


def test_service_record_with_a_high_s_signature_is_refused(live: LiveSystem, town: Town) -> None:
    provider, recipient = town.residents[2], town.residents[3]
    body = _service_body(live, town.id, _service(provider, recipient.address, 30, 901),
                         provider, recipient)  # fmt: skip
    body["recipientSig"] = "0x" + malleate(bytes.fromhex(body["recipientSig"][2:])).hex()
    refused(post(live, "/v1/services", body), 422, "MalformedRecord")


def test_service_record_signed_for_another_community_is_refused(
    live: LiveSystem, town: Town
) -> None:
    provider, recipient = town.residents[2], town.residents[3]
    rec = _service(provider, recipient.address, 30, 902)
    body = _service_body(live, town.id, rec, provider, recipient)
    refused(post(live, "/v1/services", {**body, "communityId": town.id + 1}), 422, "WrongSigner")


# --- replays -----------------------------------------------------------------------------------------


def test_service_record_replayed_or_re_noted_after_landing_is_refused_and_counts_once(
    live: LiveSystem, town: Town
) -> None:
    timebank = live.client.contracts["timebank"]
    provider, recipient = town.residents[4], town.residents[5]
    rec = _service(provider, recipient.address, 45, 1)
    body = _service_body(live, town.id, rec, provider, recipient)
    first = post(live, "/v1/services", body).json()
    assert live.client.wait(first["id"])["status"] == "counted"
    assert post(live, "/v1/services", body).json()["id"] == first["id"]  # same receipt, no second
    renoted = _service(provider, recipient.address, 45, 1, note=b"\x0a" * 32)
    again = _service_body(live, town.id, renoted, provider, recipient)
    refused(post(live, "/v1/services", again), 409, "NonceAlreadyUsed")
    assert timebank.functions.balanceOf(town.id, provider.address).call() == 45
    assert timebank.functions.balanceOf(town.id, recipient.address).call() == -45


def test_a_nonce_whose_record_the_chain_skipped_can_be_signed_again(
    live: LiveSystem, town: Town
) -> None:
    """A record skipped on-chain (here: beyond the limits) leaves its nonce unused, and the
    client's next record takes that nonce (the lowest free one): the relay must take it too."""
    provider, recipient = town.residents[2], town.residents[3]
    # Within what the limits span (so the relay cannot refuse it alone), beyond what these two
    # balances can take.
    too_much = _service(provider, recipient.address, 6_100, 3)
    skipped = post(
        live, "/v1/services", _service_body(live, town.id, too_much, provider, recipient)
    )
    outcome = live.client.wait(skipped.json()["id"])
    assert outcome["status"] == "rejected", outcome
    assert outcome["detail"] in ("AboveCeiling", "BelowFloor"), outcome
    fixed = _service(provider, recipient.address, 30, 3, note=b"\x0b" * 32)
    again = post(live, "/v1/services", _service_body(live, town.id, fixed, provider, recipient))
    assert again.status_code == 202, again.text
    assert live.client.wait(again.json()["id"])["status"] == "counted"


def test_replays_sent_straight_to_the_chain_are_skipped_by_the_contracts(
    live: LiveSystem, town: Town, accounts: list[LocalAccount]
) -> None:
    """The relay is not the only gate: anyone may call castBallots / recordServices."""
    attacker = accounts[5]
    council, timebank = live.client.contracts["council"], live.client.contracts["timebank"]
    voter = town.residents[6]
    landed = ballot(live, voter, town.proposal, 0)
    assert live.client.wait(post(live, "/v1/ballots", landed).json()["id"])["status"] == "counted"
    before = list(council.functions.tallyOf(town.proposal).call())
    signed = sign_ballot(voter, make_ballot(town.proposal, voter.address, 0),
                         live.client.ballot_domain)  # fmt: skip
    r, vs = signed.compact
    high_s = (HALF_N + 1).to_bytes(32, "big")  # above half the order: refused before ecrecover
    off_roll = sign_ballot(town.outsider, make_ballot(town.proposal, town.outsider.address, 0),
                           live.client.ballot_domain)  # fmt: skip
    ballots = [
        (voter.address, 0, r, vs),  # the counted ballot again
        (voter.address, 0, r, high_s),  # a high-s value
        off_roll.call_arg(),  # a valid signature of someone off the roll
        (voter.address, 1, r, vs),  # the signature on another option
    ]
    receipt = send(live.w3, attacker, council.functions.castBallots(town.proposal, ballots))
    assert skip_reasons(live, receipt) == [
        "AlreadyVoted",
        "MalleableSignature",
        "NotOnRoll",
        "BadSignature",
    ]
    assert list(council.functions.tallyOf(town.proposal).call()) == before

    provider, recipient = town.residents[4], town.residents[5]  # the record landed above
    rec = _service(provider, recipient.address, 45, 1)
    sigs = [CompactSignature.from_rsv(bytes.fromhex(service_sig(live, s, town.id, rec)[2:]))
            for s in (provider, recipient)]  # fmt: skip
    record = SignedRecord(rec, *sigs)
    receipt = send(live.w3, attacker,
                   timebank.functions.recordServices(town.id, [record.as_tuple()]))  # fmt: skip
    reasons = [decoder(live).decode(bytes(e["args"]["reason"]))
               for e in timebank.events.ServiceSkipped().process_receipt(receipt)]  # fmt: skip
    assert [r[0] for r in reasons if r is not None] == ["NonceAlreadyUsed"]
    assert timebank.functions.balanceOf(town.id, provider.address).call() == 45


def test_a_reversal_of_a_record_that_never_was_moves_no_minutes(
    live: LiveSystem, town: Town, accounts: list[LocalAccount]
) -> None:
    """A resident and an accomplice sign the "reversal" of a record never made: the resident's
    real nonce, the accomplice as recipient, 200 minutes. Sent straight to the chain, it is
    refused whether the accomplice was never on the roll or is a resident with a proof of the
    real record's batch; no minutes move."""
    bank = TimeBankContract(live.w3, live.client.contracts["timebank"])
    attacker, resident, neighbour = accounts[5], town.residents[3], town.residents[2]
    nonce = bank.free_nonces(town.id, resident.address)[0]
    real = sign_both(resident, neighbour, bank.domain(), town.id,
                     _service(resident, neighbour.address, 15, nonce))  # fmt: skip
    bank.record_service(attacker, town.id, real)
    accomplice = town.residents[7]
    everyone = (resident, neighbour, town.outsider, accomplice)
    before = [bank.balance_of(town.id, a.address) for a in everyone]
    reason = b"\x66" * 32

    def reverse_fake(accomplice: LocalAccount, **proof: Any) -> str:
        fake = _service(resident, accomplice.address, 200, nonce)
        rid = record_id(town.id, fake)
        sigs = [sign_reversal(s, bank.domain(), rid, reason) for s in (resident, accomplice)]
        with pytest.raises(ContractRuleBroken) as info:
            bank.reverse_service(attacker, town.id, fake, reason, *sigs, **proof)
        return info.value.error

    assert reverse_fake(town.outsider) == "NotResident"
    assert reverse_fake(accomplice) == "BatchRootMismatch"
    real_batch = bank.batch_proof(town.id, real.record)
    assert reverse_fake(accomplice, proof=real_batch) == "RecordNotInBatch"
    assert [bank.balance_of(town.id, a.address) for a in everyone] == before


def test_a_skip_naming_a_voter_is_not_their_act_and_they_still_vote(
    live: LiveSystem, town: Town, accounts: list[LocalAccount]
) -> None:
    """Anyone can make Council emit BallotSkipped naming any voter: relay a ballot that names
    them, signed by someone else. The skip is not the voter's act: the voter has not voted, still
    votes (through the API, counted once), and only BallotCast lists them as a voter."""
    attacker, voter = accounts[5], town.coordinator
    council = live.client.contracts["council"]
    parts = typed_data_parts(
        make_ballot(town.proposal, voter.address, 1), live.client.ballot_domain
    )
    framed = (voter.address, 1, *to_compact(sign_typed_data(attacker, *parts)))
    receipt = send(live.w3, attacker, council.functions.castBallots(town.proposal, [framed]))
    assert skip_reasons(live, receipt) == ["BadSignature"]
    (skip,) = council.events.BallotSkipped().process_receipt(receipt)
    assert skip["args"]["voter"] == voter.address
    assert not council.functions.hasVoted(town.proposal, voter.address).call()

    done = live.client.wait(
        post(live, "/v1/ballots", ballot(live, voter, town.proposal, 2)).json()["id"]
    )
    assert done["status"] == "counted"
    assert casts(live, town.proposal).count(voter.address) == 1
    live.client.wait_indexed(done["block"])
    listed = live.client.get(f"/v1/proposals/{town.proposal}/ballots", limit=500)["items"]
    assert [(b["args"]["voter"], b["args"]["option"]) for b in listed
            if b["args"]["voter"] == voter.address] == [(voter.address, 2)]  # fmt: skip


def test_erc2771_sender_spoofing_without_the_forwarder_is_refused(
    live: LiveSystem, town: Town, accounts: list[LocalAccount]
) -> None:
    """Appending the admin's address to calldata only means something when the forwarder
    sends it: from anyone else, the contract takes msg.sender as is."""
    attacker = accounts[6]
    registry = live.client.contracts["registry"]
    call = registry.functions.grantRole(town.id, ROLE["COMMITTEE"], attacker.address)
    data = bytes(HexBytes(call._encode_transaction_data())) + bytes(HexBytes(town.admin.address))
    with pytest.raises((ContractCustomError, ContractLogicError)) as caught:
        live.w3.eth.call({"from": attacker.address, "to": registry.address, "data": data})
    raw = revert_data(caught.value)
    assert raw is not None
    name, args = decoder(live).decode(raw) or ("", ())
    assert (name, args[0], Web3.to_checksum_address(args[1])) == (
        "NotCommunityAdmin",
        town.id,
        attacker.address,
    )


# --- the roll --------------------------------------------------------------------------------------


def test_resident_added_after_the_proposal_opened_cannot_vote_on_it(
    live: LiveSystem, town: Town
) -> None:
    registry = live.client.contracts["registry"]
    (late,) = new_accounts(1)
    live.client.act(
        town.registrar, registry.functions.updateRoll(town.id, [late.address], [], True)
    )
    assert registry.functions.isResident(town.id, late.address).call()
    refused(post(live, "/v1/ballots", ballot(live, late, town.proposal, 0)), 422, "VoterNotOnRoll")


# --- role escalation --------------------------------------------------------------------------------


def test_committee_member_cannot_grant_roles_publish_the_roll_or_take_the_admin_seat(
    live: LiveSystem, town: Town
) -> None:
    registry = live.client.contracts["registry"]
    member = town.committee[1]
    forward_refused(live, member, registry.functions.grantRole(
        town.id, ROLE["REGISTRAR"], member.address), 403, "NotCommunityAdmin")  # fmt: skip
    forward_refused(live, member, registry.functions.transferAdmin(town.id, member.address),
                    403, "NotCommunityAdmin")  # fmt: skip
    forward_refused(live, member, registry.functions.acceptAdmin(town.id), 403, "NotPendingAdmin")
    # Even the admin publishes no roll without the registrar role.
    forward_refused(live, town.admin, registry.functions.updateRoll(
        town.id, [town.outsider.address], [], True), 403, "MissingRole")  # fmt: skip


def test_non_committee_cannot_open_proposals_or_record_income(live: LiveSystem, town: Town) -> None:
    council, fund = live.client.contracts["council"], live.client.contracts["fund"]
    now = live.w3.eth.get_block("latest")["timestamp"]
    params = (town.id, b"\x01" * 32, 0, 3, now, now + 3600, 0, 5000, 0, b"\x00" * 3)
    forward_refused(live, town.residents[0], council.functions.openProposal(params),
                    403, "NotCommittee")  # fmt: skip
    forward_refused(live, town.admin, fund.functions.recordIncome(
        town.id, 1, 100, CNY, b"\x02" * 32), 403, "NotCommitteeMember")  # fmt: skip


def test_non_admin_cannot_change_fund_or_time_bank_settings(live: LiveSystem, town: Town) -> None:
    fund, timebank = live.client.contracts["fund"], live.client.contracts["timebank"]
    chair = town.committee[0]
    forward_refused(live, chair, fund.functions.setApprovalThreshold(town.id, 1), 403,
                    "NotCommunityAdmin")  # fmt: skip
    forward_refused(live, chair, timebank.functions.setLimits(town.id, -(2**63), 2**63 - 1), 403,
                    "NotCommunityAdmin")  # fmt: skip


@pytest.fixture(scope="module")
def payout(live: LiveSystem, town: Town) -> tuple[int, int]:
    """A passed proposal with a 50,000 grant and a pending 20,000 payout requested by the chair:
    (proposal id, request id)."""
    fund, council = live.client.contracts["fund"], live.client.contracts["council"]
    proposal = open_proposal(live, town, closes_in=60, budget=50_000)
    live.client.wait_all([live.client.ballot(r, proposal, 0) for r in town.residents[:6]])
    live.rpc("evm_increaseTime", [120])
    live.rpc("evm_mine")
    chair = town.committee[0]
    live.client.act(chair, council.functions.finalize(proposal))
    live.client.act(chair, fund.functions.openGrant(proposal, 50_000))
    live.client.act(chair, fund.functions.requestPayout(
        proposal, town.outsider.address, 20_000, b"\x03" * 32, b"\x04" * 32))  # fmt: skip
    time.sleep(1.1)  # the relay's view of chain time refreshes once a second
    request_id: int = fund.functions.payoutCount().call()
    return proposal, request_id


def test_payout_cannot_be_self_approved_or_approved_by_outsiders_or_twice(
    live: LiveSystem, town: Town, payout: tuple[int, int]
) -> None:
    fund = live.client.contracts["fund"]
    _, request = payout
    chair, second, _ = town.committee
    forward_refused(live, chair, fund.functions.approvePayout(request), 403, "SelfApproval")
    forward_refused(live, town.outsider, fund.functions.approvePayout(request), 403,
                    "NotCommitteeMember")  # fmt: skip
    forward_refused(live, town.outsider, fund.functions.executePayout(request), 403,
                    "NotCommitteeMember")  # fmt: skip
    forward_refused(live, town.outsider, fund.functions.cancelPayout(request), 403,
                    "NotRequesterOrAdmin")  # fmt: skip
    live.client.act(second, fund.functions.approvePayout(request))
    forward_refused(live, second, fund.functions.approvePayout(request), 409, "AlreadyApproved")


def test_revoked_members_approvals_stop_counting_before_execution(
    live: LiveSystem, town: Town, payout: tuple[int, int]
) -> None:
    fund, registry = live.client.contracts["fund"], live.client.contracts["registry"]
    _, request = payout
    chair, second, third = town.committee
    live.client.act(third, fund.functions.approvePayout(request))  # second approved above
    live.client.act(town.admin, registry.functions.revokeRole(
        town.id, ROLE["COMMITTEE"], second.address))  # fmt: skip
    try:
        forward_refused(live, chair, fund.functions.executePayout(request), 422,
                        "NotEnoughApprovals")  # fmt: skip
        assert fund.functions.fundOf(town.id).call()[5] == 0  # nothing paid
    finally:
        live.client.act(town.admin, registry.functions.grantRole(
            town.id, ROLE["COMMITTEE"], second.address))  # fmt: skip


def test_grant_for_a_rejected_proposal_or_above_its_budget_is_refused(
    live: LiveSystem, town: Town, payout: tuple[int, int]
) -> None:
    fund = live.client.contracts["fund"]
    proposal, _ = payout
    forward_refused(live, town.committee[0], fund.functions.openGrant(town.proposal, 1), 422,
                    "ProposalNotPassed")  # fmt: skip
    forward_refused(live, town.committee[0], fund.functions.openGrant(proposal, 1), 409,
                    "GrantAlreadyOpened")  # fmt: skip


def test_coordinator_cannot_confirm_their_own_service_to_the_community(
    live: LiveSystem, town: Town
) -> None:
    coordinator = town.coordinator
    rec = _service(coordinator, ZERO, 60, 1)
    body = _service_body(live, town.id, rec, coordinator, coordinator)
    refused(post(live, "/v1/services", body), 422, "CoordinatorIsParty")
    # Nor may a resident stand in for a coordinator.
    resident = town.residents[7]
    rec = _service(resident, ZERO, 60, 1)
    body = _service_body(live, town.id, rec, resident, town.residents[8])
    refused(post(live, "/v1/services", body), 403, "NotCoordinator")


# --- integers out of range ---------------------------------------------------------------------------


def test_out_of_range_integers_in_bodies_are_refused_as_invalid(
    live: LiveSystem, town: Town
) -> None:
    good = ballot(live, town.residents[0], town.proposal, 0)
    for field, value in (("proposalId", 2**256), ("proposalId", -1), ("proposalId", 0),
                         ("option", 256), ("option", -1), ("proposalId", 1.5),
                         ("proposalId", "1e3")):  # fmt: skip
        refused(post(live, "/v1/ballots", {**good, field: value}), 422, "InvalidRequest")
    registry = live.client.contracts["registry"]
    fwd = forward(live, town.outsider, registry.functions.createCommunity(b"\x08" * 32))
    for field, value in (("nonce", 2**256), ("value", -1), ("gas", 10_000_001),
                         ("deadline", 2**48)):  # fmt: skip
        refused(post(live, "/v1/forward", {**fwd, field: value}), 422, "InvalidRequest")
    provider, recipient = town.residents[2], town.residents[3]
    svc = _service_body(live, town.id, _service(provider, recipient.address, 30, 950),
                        provider, recipient)  # fmt: skip
    for field, value in (("minutesServed", 2**32), ("minutesServed", 0), ("nonce", 2**256),
                         ("nonce", -1)):  # fmt: skip
        bad = {**svc, "record": {**svc["record"], field: value}}
        refused(post(live, "/v1/services", bad), 422, "InvalidRequest")
    refused(post(live, "/v1/services", {**svc, "communityId": 0}), 422, "InvalidRequest")
    for path in (f"/v1/proposals/{2**256}", "/v1/proposals/-1", f"/v1/grants/{2**300}",
                 f"/v1/communities/{town.id}/services?offset={2**64}"):  # fmt: skip
        refused(httpx.get(live.url + path), 422, "InvalidRequest")


def test_fund_amounts_at_the_2_96_cap_pass_and_above_it_are_refused(
    live: LiveSystem, town: Town
) -> None:
    fund, council = live.client.contracts["fund"], live.client.contracts["council"]
    chair = town.committee[0]
    cap = 2**96 - 1
    forward_refused(live, chair, fund.functions.recordIncome(town.id, 1, cap + 1, CNY, b"\x05" * 32),
                    422, "AmountTooLarge")  # fmt: skip
    forward_refused(live, chair, fund.functions.recordIncome(town.id, 1, 2**256 - 1, CNY,
                    b"\x05" * 32), 422, "AmountTooLarge")  # fmt: skip
    forward_refused(live, chair, fund.functions.recordIncome(town.id, 1, 0, CNY, b"\x05" * 32),
                    422, "ZeroAmount")  # fmt: skip
    before = fund.functions.fundOf(town.id).call()[2]
    live.client.act(chair, fund.functions.recordIncome(town.id, 1, cap, CNY, b"\x05" * 32))
    assert fund.functions.fundOf(town.id).call()[2] == before + cap
    # A budget of 2^128 does not fit the uint128 field: the ABI decoder refuses the call.
    now = live.w3.eth.get_block("latest")["timestamp"]
    honest = council.functions.openProposal(
        (town.id, b"\x01" * 32, 0, 3, now, now + 3600, 0, 5000, 1, CNY)
    )
    selector = bytes(HexBytes(honest._encode_transaction_data()))[:4]
    args = abi_encode(["(uint256,bytes32,uint8,uint8,uint64,uint64,uint16,uint16,uint256,bytes3)"],
                      [(town.id, b"\x01" * 32, 0, 3, now, now + 3600, 0, 5000, 2**128, CNY)])  # fmt: skip
    data = selector + args
    body = resign(live, chair, {**forward(live, chair, honest), "data": "0x" + data.hex()})
    refused(post(live, "/v1/forward", body), 422, "CallReverted")


def test_minutes_no_balance_can_take_are_refused_before_acknowledgement(
    live: LiveSystem, town: Town
) -> None:
    timebank = live.client.contracts["timebank"]
    provider, recipient = town.residents[8], town.residents[9]
    for minutes in (2**32 - 1, 6_601):  # the limits span 6,600 minutes (-600 to 6,000)
        rec = _service(provider, recipient.address, minutes, 1)
        body = _service_body(live, town.id, rec, provider, recipient)
        refused(post(live, "/v1/services", body), 422, "AboveCeiling")
    assert timebank.functions.balanceOf(town.id, provider.address).call() == 0
    assert timebank.functions.balanceOf(town.id, recipient.address).call() == 0


# --- unicode in texts ----------------------------------------------------------------------------------

TRICKS = {
    "rtl override": "pay the contractor\u202e0001 NYC\u202c in full",
    "zero width": "vote\u200byes\u200d\u2060\ufeff",
    "homoglyph": "p\u0430yp\u0430l community fund",  # Cyrillic a
    "nfc": unicodedata.normalize("NFC", "caf\u00e9 cr\u00e8me"),
    "nfd": unicodedata.normalize("NFD", "caf\u00e9 cr\u00e8me"),
    "nul and controls": "a\x00b\x07c\x1b[31mred",
    "astral": "\U0001f3e1\U0001f333 \U00020000 \U0001d54f",
}


def test_unicode_texts_are_stored_and_hashed_exactly_never_normalized(
    live: LiveSystem, town: Town
) -> None:
    alphabet = ["a", "\u00e9", "e\u0301", "\u4e2d", "\U0001f600", "\u202e", "\u200b", "\u0430",
                "\u05d0", "\x00", "\U0010fffd"]  # fmt: skip
    big = "".join(alphabet[i % len(alphabet)] for i in range(10_000))[:10_000]
    texts = {**TRICKS, "10k mixed": big}
    hashes = {}
    for name, text in texts.items():
        out = live.client.post("/v1/texts", {"text": text})
        expected = "0x" + Web3.keccak(text.encode("utf-8")).hex()
        assert out["hash"] == expected, name
        stored = live.client.get(f"/v1/texts/{out['hash']}")["text"]
        assert stored == text and len(stored) == len(text), name
        hashes[name] = out["hash"]
    assert hashes["nfc"] != hashes["nfd"]  # two spellings, two texts
    assert len(big) == 10_000
    # A proposal committing to the NFD spelling serves exactly that spelling, hash-checked.
    council = live.client.contracts["council"]
    now = live.w3.eth.get_block("latest")["timestamp"]
    params = (town.id, bytes.fromhex(hashes["nfd"][2:]), 0, 3, now - 1, now + 3600, 0, 5000, 0,
              b"\x00" * 3)  # fmt: skip
    live.client.act(town.committee[0], council.functions.openProposal(params))
    view = live.client.get(f"/v1/proposals/{council.functions.proposalCount().call()}")
    assert view["text"] == TRICKS["nfd"] and view["text"] != TRICKS["nfc"]
    assert view["textMatches"] is True


def test_text_with_a_lone_surrogate_is_refused_not_a_server_error(live: LiveSystem) -> None:
    raw = b'{"text": "half a pair: \\ud800 here"}'
    response = httpx.post(live.url + "/v1/texts", content=raw,
                          headers={"content-type": "application/json"})  # fmt: skip
    refused(response, 422, "InvalidRequest")
    assert healthy(live)


# --- oversized and pathological bodies ---------------------------------------------------------------


def test_oversized_body_is_refused_even_when_sent_chunked_without_a_length(
    live: LiveSystem,
) -> None:
    payload = json.dumps({"text": "x" * 400_000}).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(payload), 16_384):
            yield payload[i : i + 16_384]

    response = httpx.post(live.url + "/v1/texts", content=chunks(),
                          headers={"content-type": "application/json"}, timeout=30)  # fmt: skip
    assert "content-length" not in response.request.headers
    refused(response, 413, "BodyTooLarge")
    refused(httpx.post(live.url + "/v1/texts", json={"text": "y" * 100_001}), 422, "InvalidRequest")
    assert healthy(live)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than any parser's recursion
        b'{"proposalId": ' + b"9" * 5_000 + b"}",  # more digits than Python parses
        b'{"proposalId": NaN, "voter": "0x", "option": Infinity, "signature": "0x"}',
        b'{"text": "a", "text": "b", "text": "' + "\u202e".encode() * 10 + b'"}',
        b"\xff\xfe\x00{",  # not UTF-8
    ],
    ids=["deep-nesting", "huge-integer", "nan-infinity", "duplicate-keys", "not-utf8"],
)
def test_pathological_json_is_refused_with_a_4xx_and_the_server_stays_up(
    live: LiveSystem, raw: bytes
) -> None:
    for path in ("/v1/ballots", "/v1/texts"):
        response = httpx.post(live.url + path, content=raw,
                              headers={"content-type": "application/json"}, timeout=30)  # fmt: skip
        if response.status_code == 201:  # duplicate keys: the last one wins, as in JSON parsers
            assert path == "/v1/texts" and response.json()["text"].startswith("\u202e")
            continue
        assert 400 <= response.status_code < 500, response.text
        assert set(response.json()) == {"code", "detail"}
    assert healthy(live)


def test_forward_data_beyond_its_limit_is_refused(live: LiveSystem, town: Town) -> None:
    registry = live.client.contracts["registry"]
    body = forward(live, town.outsider, registry.functions.createCommunity(b"\x09" * 32))
    body["data"] = body["data"] + "00" * 40_000  # 40 kB past the call: over the 32 kB cap
    refused(post(live, "/v1/forward", body), 422, "InvalidRequest")
    body["data"] = "0x" + "zz" * 10
    refused(post(live, "/v1/forward", body), 422, "InvalidRequest")


# --- reorgs -------------------------------------------------------------------------------------------


def _land_ballots(live: LiveSystem, town: Town, proposal: int) -> list[dict[str, Any]]:
    receipts = [live.client.ballot(v, proposal, i % 3) for i, v in enumerate(town.residents[:5])]
    done = live.client.wait_all(receipts)
    assert {d["status"] for d in done} == {"counted"}
    return done


def _wait_relanded(
    live: LiveSystem, done: list[dict[str, Any]], after_block: int
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        now = [live.client.get(f"/v1/receipts/{d['id']}") for d in done]
        if all(r["status"] == "counted" and r["block"] > after_block for r in now):
            return now
        assert time.monotonic() < deadline, now
        time.sleep(0.1)


def _assert_counted_once(live: LiveSystem, town: Town, proposal: int) -> None:
    council = live.client.contracts["council"]
    voters = [v.address for v in town.residents[:5]]
    assert sorted(casts(live, proposal)) == sorted(voters)
    assert list(council.functions.tallyOf(proposal).call()) == [2, 2, 1]
    deadline = time.monotonic() + 30
    while True:  # the index rolls back the dropped blocks and indexes the new ones
        page = live.client.get(f"/v1/proposals/{proposal}/ballots", limit=100)
        if sorted(b["args"]["voter"] for b in page["items"]) == sorted(voters):
            break
        assert time.monotonic() < deadline, page
        time.sleep(0.1)


def test_reorg_dropping_a_landed_batch_is_noticed_and_its_ballots_land_again_exactly_once(
    live: LiveSystem, town: Town, accounts: list[LocalAccount]
) -> None:
    proposal = open_proposal(live, town, closes_in=86_400)
    done = _land_ballots(live, town, proposal)
    first = min(d["block"] for d in done)
    head = live.w3.eth.block_number
    registry = live.client.contracts["registry"]
    other = {"from": accounts[1].address, "to": registry.address, "gas": hex(200_000),
             "data": registry.encode_abi("createCommunity", args=[b"\x0b" * 32])}  # fmt: skip
    # Replace every block from the batch's on with one holding another account's tx.
    live.rpc("anvil_reorg", [head - first + 1, [[other, 0]]])
    assert live.w3.eth.block_number == head
    relanded = _wait_relanded(live, done, head)
    assert {r["txHash"] for r in relanded} == {d["txHash"] for d in done}  # rebroadcast as is
    _assert_counted_once(live, town, proposal)


def test_reorg_that_spends_the_relayers_nonce_requeues_the_ballots_which_land_once(
    live: LiveSystem, town: Town
) -> None:
    proposal = open_proposal(live, town, closes_in=86_400)
    done = _land_ballots(live, town, proposal)
    tx_hash = done[0]["txHash"]
    tx = live.w3.eth.get_transaction(HexBytes(tx_hash))
    head = live.w3.eth.block_number
    # The new branch spends the batch's nonce on another tx of the relayer's key, so the
    # recorded raw tx can never be mined again: its ballots must go into a new batch.
    relayer = Account.from_key(live.env["COMMONS_RELAYER_KEY"])
    spend = relayer.sign_transaction({"to": relayer.address, "value": 0, "gas": 21_000,
                                      "nonce": tx["nonce"], "chainId": live.client.chain_id,
                                      "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})  # fmt: skip
    live.rpc("anvil_reorg", [head - tx["blockNumber"] + 1,
                             [["0x" + bytes(spend.raw_transaction).hex(), 0]]])  # fmt: skip
    relanded = _wait_relanded(live, done, head)
    assert tx_hash not in {r["txHash"] for r in relanded}
    _assert_counted_once(live, town, proposal)


# --- schemathesis ----------------------------------------------------------------------------------


def test_schemathesis_finds_no_server_error_and_no_undocumented_status(
    live: LiveSystem, town: Town
) -> None:
    """Every operation of the OpenAPI schema, fuzzed (short run; `make hostile-api` is long),
    after the server's own limits are probed over raw sockets (`limits` in hostile_api.py)."""
    tool = ROOT / ".venv-lint" / "bin" / "schemathesis"
    if not tool.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: `make lint-tools` must run before the tests")
        pytest.skip("no lint tool venv: run `make lint-tools`")
    examples = os.environ.get("COMMONS_TEST_HOSTILE_EXAMPLES", "8")
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "lint" / "hostile_api.py"), "--url", live.url,
         "--token", login(live, town.registrar), "--examples", examples],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    tail = out.stdout[-6000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert "hostile-api: exit 0" in out.stdout, tail
    assert "limits: ok" in out.stdout, tail  # 431, 400, 415, 408 probed; statuses documented
    assert healthy(live)


def test_every_attack_left_the_server_log_free_of_unhandled_errors(live: LiveSystem) -> None:
    log = live.log_path.read_text()
    assert "unhandled error" not in log and "Traceback" not in log, log[-4000:]
