"""Proxies over a real API on a real chain: a resident appoints a proxy (signed, gasless), sees
who holds their mandate, the proxy sees whose mandates they hold and votes for the resident; the
resident's own ballot overrides; refusals before the chain name the rule; the result counts
ballots by proxy; a revocation ends the mandate."""

from __future__ import annotations

from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.protocol.generated import MandateScope, Roles
from ledger.signing.ballots import BallotDomain, make_ballot, sign_ballot
from ledger.signing.mandates import (
    MandateDomain,
    Revocation,
    make_mandate,
    make_proxy_ballot,
    sign_mandate,
    sign_proxy_ballot,
    sign_revocation,
)
from ledger.tx import send
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem, live

__all__ = ["live"]  # the fixture, shared with the end-to-end tests


def test_appoint_see_vote_by_proxy_override_and_revoke(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    w3, url = live.w3, live.url
    registry = RegistryContract(w3, live.deployment.registry)
    council = CouncilContract(w3, live.deployment.council)
    admin, committee = accounts[0], accounts[1]
    cid = registry.create_community(admin, Web3.keccak(text="proxies api"))
    registry.grant_role(admin, cid, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, cid, Roles.COMMITTEE, committee.address)
    resident, proxy, other, stranger = signer_keys(4, "proxies-api")
    registry.update_roll(admin, cid, [resident.address, proxy.address, other.address])
    chain = int(w3.eth.chain_id)
    mdomain = MandateDomain(chain, live.deployment.mandates.address)
    bdomain = BallotDomain(chain, live.deployment.council.address)

    def mine(resident_: LocalAccount) -> dict[str, Any]:
        return httpx.get(f"{url}/v1/communities/{cid}/mandates/{resident_.address}").json()

    def appoint(who: LocalAccount, to: str, nonce: int | None = None) -> httpx.Response:
        nonce = mine(who)["nonce"] if nonce is None else nonce
        m = make_mandate(cid, who.address, to, MandateScope.AllVotes, 0, nonce)
        signed = sign_mandate(who, m, mdomain)
        body = {"act": "appoint", "communityId": cid, "resident": who.address, "proxy": to,
                "scope": 0, "voteId": 0, "nonce": nonce,
                "signature": "0x" + signed.signature.hex()}  # fmt: skip
        return httpx.post(f"{url}/v1/mandates", json=body)

    assert mine(resident)["proxy"] is None and mine(resident)["limit"] == 2
    accepted = appoint(resident, proxy.address)
    assert accepted.status_code == 202 and accepted.json()["kind"] == "mandate"
    (done,) = live.client.wait_all([accepted.json()])
    assert done["status"] == "counted"
    shown = mine(resident)
    assert (shown["proxy"], shown["scope"], shown["nonce"]) == (proxy.address, "AllVotes", 1)
    held = httpx.get(f"{url}/v1/communities/{cid}/proxies/{proxy.address}").json()
    assert [m["resident"] for m in held["mandates"]] == [resident.address]

    # Refused before the chain, each for the rule it breaks.
    itself = appoint(other, other.address)
    outsider = appoint(other, stranger.address)
    stale = appoint(resident, other.address, nonce=0)
    assert (itself.status_code, itself.json()["code"]) == (422, "SelfProxy")
    assert outsider.json()["code"] == "VoterNotOnRoll"
    assert (stale.status_code, stale.json()["code"]) == (409, "InvalidNonce")
    # The very same signed appointment again: its receipt, not a second landing.
    assert appoint(resident, proxy.address, nonce=0).json()["id"] == accepted.json()["id"]

    now = int(w3.eth.get_block("latest")["timestamp"])
    pid = council.open_proposal(committee, ProposalParams(cid, b"\x55" * 32, now, now + 600))

    def by_proxy(voter: LocalAccount, signer: LocalAccount, option: int) -> httpx.Response:
        b = make_proxy_ballot(pid, voter.address, signer.address, option)
        signed = sign_proxy_ballot(signer, b, bdomain)
        body = {"proposalId": pid, "voter": voter.address, "proxy": signer.address,
                "option": option, "signature": "0x" + signed.signature.hex()}  # fmt: skip
        return httpx.post(f"{url}/v1/proxy-ballots", json=body)

    cast = by_proxy(resident, proxy, 1)
    assert cast.status_code == 202
    (counted,) = live.client.wait_all([cast.json()])
    assert counted["status"] == "counted"
    no_mandate = by_proxy(other, proxy, 1)
    assert (no_mandate.status_code, no_mandate.json()["code"]) == (409, "NoMandate")
    count = httpx.get(f"{url}/v1/proposals/{pid}/proxy-ballots").json()
    assert (count["byProxy"], count["tally"]) == (1, [0, 1, 0])

    own = sign_ballot(resident, make_ballot(pid, resident.address, 0), bdomain)
    council.cast_ballots(admin, pid, [own])
    count = httpx.get(f"{url}/v1/proposals/{pid}/proxy-ballots").json()
    assert (count["byProxy"], count["tally"]) == (0, [1, 0, 0])
    assert httpx.get(f"{url}/v1/proposals/999999/proxy-ballots").status_code == 404

    revocation = Revocation(cid, resident.address, 1)  # type: ignore[arg-type]
    signed = sign_revocation(resident, revocation, mdomain)
    body = {"act": "revoke", "communityId": cid, "resident": resident.address, "nonce": 1,
            "signature": "0x" + signed.signature.hex()}  # fmt: skip
    revoked = httpx.post(f"{url}/v1/mandates", json=body)
    assert revoked.status_code == 202
    assert live.client.wait_all([revoked.json()])[0]["status"] == "counted"
    assert mine(resident)["proxy"] is None
    held = httpx.get(f"{url}/v1/communities/{cid}/proxies/{proxy.address}").json()
    assert held["mandates"] == []
    # `commons audit --acks` finds the appointment, the proxy ballot and the revocation.
    mine = (accepted.json()["id"], cast.json()["id"], revoked.json()["id"])
    judged = live.judge_acks(lambda i: i["id"] in mine)
    assert judged.findings == [] and judged.warnings == []
    outcomes = {(e["kind"], e["verdict"], e["outcome"]) for e in judged.entries}
    assert outcomes == {("mandate", "landed", "counted"), ("proxy-ballot", "landed", "counted")}
    assert len(judged.entries) == 3


def test_a_mandate_whose_proxy_lost_their_phone_shows_the_proxys_new_key(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    """A registrar replaced the proxy's key: the mandate still names the retired key, which can
    cast nothing; the resident is shown the new key to appoint."""
    w3, url = live.w3, live.url
    registry = RegistryContract(w3, live.deployment.registry)
    admin = accounts[0]
    cid = registry.create_community(admin, Web3.keccak(text="proxy rotated"))
    registry.grant_role(admin, cid, Roles.REGISTRAR, admin.address)
    resident, proxy, new_phone = signer_keys(3, "proxy-rotated")
    registry.update_roll(admin, cid, [resident.address, proxy.address])
    mdomain = MandateDomain(int(w3.eth.chain_id), live.deployment.mandates.address)
    m = make_mandate(cid, resident.address, proxy.address, MandateScope.AllVotes, 0, 0)
    body = {"act": "appoint", "communityId": cid, "resident": resident.address,
            "proxy": proxy.address, "scope": 0, "voteId": 0, "nonce": 0,
            "signature": "0x" + sign_mandate(resident, m, mdomain).signature.hex()}  # fmt: skip
    accepted = httpx.post(f"{url}/v1/mandates", json=body)
    assert live.client.wait_all([accepted.json()])[0]["status"] == "counted"

    def shown() -> dict[str, Any]:
        got: dict[str, Any] = httpx.get(
            f"{url}/v1/communities/{cid}/mandates/{resident.address}"
        ).json()
        return got

    assert (shown()["proxy"], shown()["proxyReplacedBy"]) == (proxy.address, None)
    replace = live.deployment.registry.functions.replaceResident(
        cid, proxy.address, new_phone.address
    )
    send(w3, admin, replace)
    assert (shown()["proxy"], shown()["proxyReplacedBy"]) == (proxy.address, new_phone.address)
