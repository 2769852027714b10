"""Initiatives through the real API, relay and chain: a resident submits one (text stored, hash
on-chain), residents co-sign it in relayed batches until the threshold opens the council
proposal; each rule the contract would skip a co-signature for is answered before
acknowledgement with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.api_client import ApiClientError
from ledger.config import Settings
from ledger.protocol.generated import InitiativeRules
from ledger.signing.cosignatures import CoSignatureDomain, sign_cosignature
from tests.contract_wrappers.initiatives import InitiativesContract
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem, new_accounts
from tests.e2e.conftest import live as _live  # noqa: F401  (the live system, as a fixture)

REGISTRAR = Web3.keccak(text="REGISTRAR")
# A quarter of 8 residents: two co-signatures promote an initiative.
RULES = InitiativeRules(
    thresholdBps=2500, signingPeriod=86_400, votingPeriod=3600, quorumBps=0, passBps=5000
)
SHORT = RULES._replace(signingPeriod=120)


@dataclass
class Community:
    id: int
    admin: LocalAccount
    residents: list[LocalAccount]


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> LiveSystem:
    system: LiveSystem = request.getfixturevalue("_live")
    return system


def _community(live: LiveSystem, rules: InitiativeRules, salt: str) -> Community:
    (admin,) = new_accounts(1)
    client = live.client
    registry = client.contracts["registry"]
    client.act(admin, registry.functions.createCommunity(Web3.keccak(text=salt)))
    community: int = registry.functions.communityCount().call()
    client.act(admin, registry.functions.grantRole(community, REGISTRAR, admin.address))
    residents = signer_keys(8, salt)
    client.act(
        admin, registry.functions.updateRoll(community, [r.address for r in residents], [], True)
    )
    client.act(admin, client.contracts["initiatives"].functions.setRules(community, tuple(rules)))
    return Community(community, admin, residents)


@pytest.fixture(scope="module")
def hall(live: LiveSystem) -> Iterator[Community]:
    yield _community(live, RULES, "initiatives-hall")


def _submitted(live: LiveSystem, author: LocalAccount, community: int, text: str) -> int:
    done = live.client.wait(live.client.initiative(author, community, text)["id"])
    assert done["status"] == "counted", done
    live.client.wait_indexed(done["block"])
    page = live.client.get("/v1/initiatives", community=community)
    return int(page["items"][0]["id"])


def _cosignature(live: LiveSystem, signer: LocalAccount, initiative: int) -> dict[str, object]:
    domain = CoSignatureDomain(live.client.chain_id, live.deployment.initiatives.address)
    signed = sign_cosignature(signer, initiative, domain)
    return {
        "initiativeId": initiative,
        "signer": signer.address,
        "signature": "0x" + signed.signature.hex(),
    }


def test_an_initiative_reaching_its_threshold_becomes_a_council_proposal(
    live: LiveSystem, hall: Community
) -> None:
    text = "Benches along the canal path, two per block."
    initiative = _submitted(live, hall.residents[0], hall.id, text)
    listed = live.client.get(f"/v1/initiatives/{initiative}")
    assert (listed["text"], listed["textMatches"], listed["state"]) == (text, True, "open")
    assert (listed["needed"], listed["coSignatures"], listed["proposalId"]) == (2, 0, None)

    receipts = [live.client.cosign(r, initiative) for r in hall.residents[1:3]]
    done = live.client.wait_all(receipts)
    assert [d["status"] for d in done] == ["counted", "counted"]
    promoted = live.client.get(f"/v1/initiatives/{initiative}", signer=hall.residents[1].address)
    assert (promoted["state"], promoted["coSignatures"], promoted["cosigned"]) == (
        "promoted",
        2,
        True,
    )
    # The batch that opened the proposal stayed within the bound the relay packs batches by.
    settings = Settings()
    for tx in {d["txHash"] for d in done}:
        items = sum(d["txHash"] == tx for d in done)
        bound = settings.relay_batch_base_gas + settings.relay_promotion_gas
        used = int(live.w3.eth.get_transaction_receipt(tx)["gasUsed"])
        print(f"co-signature batch of {items}: {used} gas")
        assert used < bound + settings.relay_cosignature_gas * items, (used, items)
    proposal = live.client.get(f"/v1/proposals/{promoted['proposalId']}")
    assert (proposal["text"], proposal["state"]) == (text, "Open")
    assert proposal["proposer"] == live.deployment.initiatives.address

    late = httpx.post(
        f"{live.url}/v1/cosignatures", json=_cosignature(live, hall.residents[3], initiative)
    )
    assert (late.status_code, late.json()["code"]) == (409, "InitiativeNotCollecting")


def test_the_same_cosignature_twice_gets_one_receipt_and_counts_once(
    live: LiveSystem, hall: Community
) -> None:
    initiative = _submitted(live, hall.residents[4], hall.id, "A shared tool shed by the garden.")
    body = _cosignature(live, hall.residents[5], initiative)
    first = httpx.post(f"{live.url}/v1/cosignatures", json=body).json()
    again = httpx.post(f"{live.url}/v1/cosignatures", json=body).json()
    assert first["id"] == again["id"]
    assert live.client.wait(first["id"])["status"] == "counted"
    resent = httpx.post(f"{live.url}/v1/cosignatures", json=body)
    assert (resent.status_code, resent.json()["id"]) == (202, first["id"])
    assert live.client.get(f"/v1/initiatives/{initiative}")["coSignatures"] == 1


def test_a_cosignature_counted_by_another_path_is_refused_as_already_cosigned(
    live: LiveSystem, hall: Community, accounts: list[LocalAccount]
) -> None:
    initiative = _submitted(live, hall.residents[6], hall.id, "Night lights on the stairwells.")
    contract = InitiativesContract(live.w3, live.deployment.initiatives)
    direct = contract.co_sign(
        accounts[3], initiative, [contract.sign(hall.residents[7], initiative)]
    )
    assert direct.cosigned == (hall.residents[7].address,)
    # The same signature, relayed by someone else first: the relay finds it counted on-chain.
    refused = httpx.post(
        f"{live.url}/v1/cosignatures", json=_cosignature(live, hall.residents[7], initiative)
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "AlreadyCoSigned")
    assert live.client.get(f"/v1/initiatives/{initiative}")["coSignatures"] == 1


def test_cosignatures_from_outside_the_roll_or_signed_by_another_are_refused(
    live: LiveSystem, hall: Community
) -> None:
    initiative = _submitted(live, hall.residents[1], hall.id, "Repaint the playground fence.")
    (outsider,) = new_accounts(1)
    stranger = httpx.post(
        f"{live.url}/v1/cosignatures", json=_cosignature(live, outsider, initiative)
    )
    assert (stranger.status_code, stranger.json()["code"]) == (422, "NotOnRoll")
    forged = {**_cosignature(live, outsider, initiative), "signer": hall.residents[2].address}
    wrong = httpx.post(f"{live.url}/v1/cosignatures", json=forged)
    assert (wrong.status_code, wrong.json()["code"]) == (422, "BadSignature")
    unknown = httpx.post(
        f"{live.url}/v1/cosignatures", json=_cosignature(live, hall.residents[2], 10**6)
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "UnknownInitiative")
    missing = httpx.get(f"{live.url}/v1/initiatives/{10**6}")
    assert (missing.status_code, missing.json()["code"]) == (404, "UnknownInitiative")


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0x1234"},
        {"initiativeId": "1"},
        {"initiativeId": 0},
        {"extra": 1},
    ],
)
def test_malformed_cosignatures_are_invalid_requests(
    live: LiveSystem, hall: Community, change: dict[str, object]
) -> None:
    body = {**_cosignature(live, hall.residents[0], 1), **change}
    answer = httpx.post(f"{live.url}/v1/cosignatures", json=body)
    assert (answer.status_code, answer.json()["code"]) == (422, "InvalidRequest")


def test_a_submission_from_outside_the_roll_or_of_another_text_is_refused(
    live: LiveSystem, hall: Community
) -> None:
    (outsider,) = new_accounts(1)
    with pytest.raises(ApiClientError) as stranger:
        live.client.initiative(outsider, hall.id, "Not from here.")
    assert (stranger.value.status, stranger.value.code) == (422, "AuthorNotOnRoll")
    call = live.deployment.initiatives.functions.submit(
        hall.id, Web3.keccak(text="one text"), 0, b"\x00\x00\x00"
    )
    with pytest.raises(ApiClientError) as mismatch:
        live.client.forward(
            hall.residents[0],
            call,
            wrap=lambda request: ("/v1/initiatives", {"text": "another", "request": request}),
        )
    assert (mismatch.value.status, mismatch.value.code) == (422, "TextMismatch")
    other = live.deployment.council.functions.finalize(1)
    with pytest.raises(ApiClientError) as not_submit:
        live.client.forward(
            hall.residents[0],
            other,
            wrap=lambda request: ("/v1/initiatives", {"text": "x", "request": request}),
        )
    assert (not_submit.value.status, not_submit.value.code) == (422, "NotASubmission")


def test_an_expired_initiative_stays_listed_and_refuses_cosignatures(live: LiveSystem) -> None:
    short = _community(live, SHORT, "initiatives-short")
    initiative = _submitted(live, short.residents[0], short.id, "Plant two cherry trees.")
    live.rpc("evm_increaseTime", [SHORT.signingPeriod + 1])
    live.rpc("evm_mine")
    late = httpx.post(
        f"{live.url}/v1/cosignatures", json=_cosignature(live, short.residents[1], initiative)
    )
    assert (late.status_code, late.json()["code"]) == (409, "InitiativeNotCollecting")
    (listed,) = live.client.get("/v1/initiatives", community=short.id)["items"]
    assert (listed["id"], listed["state"], listed["coSignatures"]) == (initiative, "expired", 0)


def test_cosignatures_acknowledged_before_a_kill_9_land_once_after_the_restart(
    live: LiveSystem, hall: Community
) -> None:
    """Durable before acknowledged: the outbox holds them across the API's death."""
    initiative = _submitted(live, hall.residents[2], hall.id, "Recycling bins by each gate.")
    live.stop_api()
    # A relay that waits an hour for a fuller batch: what is acknowledged stays queued.
    live.start_api(relay_interval_s="3600", relay_max_wait_s="3600")
    try:
        acks = [
            httpx.post(f"{live.url}/v1/cosignatures", json=_cosignature(live, r, initiative))
            for r in hall.residents[3:5]
        ]
        assert [(a.status_code, a.json()["status"]) for a in acks] == [(202, "queued")] * 2
        live.stop_api(kill=True)
    finally:
        live.start_api()
    done = [live.client.wait(a.json()["id"]) for a in acks]
    assert [d["status"] for d in done] == ["counted", "counted"]
    shown = live.client.get(f"/v1/initiatives/{initiative}")
    assert (shown["state"], shown["coSignatures"]) == ("promoted", 2)
