"""Election proxy ballots through the real API and relay: a resident appoints a proxy for an
election (signed, gasless), the proxy's ballot is acknowledged and counted; every refusal before
the chain names its rule; the same signed ballot twice is one receipt; the resident's own ballot
replaces the proxy's; and a batch whose ballots the two contracts skip carries each skip reason
to its receipt."""

from __future__ import annotations

import time

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.api_client import ApiClientError
from ledger.audit.acks import AckEntry
from ledger.config import Settings
from ledger.protocol.generated import MandateScope, Roles
from ledger.relay.election_ballots import ElectionBallotRelay
from ledger.relay.election_proxy_ballots import ElectionProxyBallotRelay
from ledger.relay.message import Message
from ledger.signing.acks import AckSigner
from ledger.signing.election_ballots import encode_ranking
from ledger.tx import send
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys
from tests.contracts.election_proxies_support import ElectionProxies
from tests.e2e.conftest import LiveSystem, live

__all__ = ["live"]  # the fixture, shared with the end-to-end tests


def refused(call: object) -> tuple[int, str]:
    with pytest.raises(ApiClientError) as caught:
        call()  # type: ignore[operator]
    return caught.value.status, caught.value.code


def test_a_proxy_votes_for_a_resident_in_an_election_and_every_rule_is_kept(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    w3, client = live.w3, live.client
    registry = RegistryContract(w3, live.deployment.registry)
    elections = ElectionsContract(w3, live.deployment.elections)
    admin, committee = accounts[0], accounts[1]
    cid = registry.create_community(admin, Web3.keccak(text="election proxies api"))
    registry.grant_role(admin, cid, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, cid, Roles.COMMITTEE, committee.address)
    resident, proxy, other, own, stranger = signer_keys(5, "election-proxies-api")
    registry.update_roll(admin, cid, [r.address for r in (resident, proxy, other, own)])
    now = int(w3.eth.get_block("latest")["timestamp"])
    eid = elections.open_election(committee, ElectionParams(cid, candidates(3), now, now + 600))
    for who in (resident, own):
        appointed = client.appoint(who, cid, proxy.address, MandateScope.Election, eid)
        assert client.wait(appointed["id"])["status"] == "counted"

    first = client.election_proxy_ballot(proxy, eid, resident.address, encode_ranking([2, 0]))
    assert first["kind"] == "election-proxy-ballot" and first["signer"] == proxy.address
    assert client.wait(first["id"])["status"] == "counted"
    # Stored as any ballot: the ranking's first three nibbles (three candidates).
    held = elections.contract.functions.proxyBallotOf(eid, resident.address).call()
    assert tuple(held) == (proxy.address, encode_ranking([2, 0]) & 0xFFF)
    # The very same signed ballot again: its receipt, not a second landing.
    again = client.election_proxy_ballot(proxy, eid, resident.address, encode_ranking([2, 0]))
    assert again["id"] == first["id"]

    # Refused before the chain, each for the rule it breaks.
    ranking = encode_ranking([1])
    assert refused(lambda: client.election_proxy_ballot(proxy, eid, other.address, ranking)) == (
        409,
        "NoMandate",
    )
    assert refused(lambda: client.election_proxy_ballot(proxy, eid, resident.address, ranking)) == (
        409,
        "AlreadyVotedByProxy",
    )
    assert refused(lambda: client.election_proxy_ballot(stranger, eid, other.address, ranking)) == (
        422,
        "ProxyNotOnRoll",
    )
    assert refused(
        lambda: client.election_proxy_ballot(proxy, eid, own.address, encode_ranking([1, 0, 1]))
    ) == (422, "RepeatedCandidate")
    assert refused(
        lambda: client.election_proxy_ballot(proxy, eid, own.address, encode_ranking([7]))
    ) == (422, "UnknownCandidate")
    signed = elections.sign(own, eid, encode_ranking([0]))
    mine = client.post(
        "/v1/election-ballots",
        {"electionId": eid, "voter": own.address, "choices": encode_ranking([0]),
         "signature": "0x" + signed.signature.hex()},
    )  # fmt: skip
    assert refused(lambda: client.election_proxy_ballot(proxy, eid, own.address, ranking)) == (
        409,
        "VotedThemself",
    )
    assert client.wait(mine["id"])["status"] == "counted"

    # The resident's own ballot after the proxy's replaces it; the proxy's receipt stays counted.
    signed = elections.sign(resident, eid, encode_ranking([1]))
    replaced = client.post(
        "/v1/election-ballots",
        {"electionId": eid, "voter": resident.address, "choices": encode_ranking([1]),
         "signature": "0x" + signed.signature.hex()},
    )  # fmt: skip
    assert client.wait(replaced["id"])["status"] == "counted"
    assert client.wait(first["id"])["status"] == "counted"
    assert elections.contract.functions.proxyBallotCount(eid).call() == 0

    # `commons audit --acks` finds each acknowledged proxy ballot where it landed.
    judged = live.judge_acks(
        lambda i: i["kind"] == "election-proxy-ballot" and i["payload"]["electionId"] == eid
    )
    assert judged.findings == [] and judged.warnings == []
    assert [(e["verdict"], e["outcome"]) for e in judged.entries] == [("landed", "counted")]


def test_skips_by_either_contract_reach_each_ballots_receipt(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    """The contracts are the final judges: a batch the relay would have refused in part is
    landed as is, and each ballot's outcome is read from whichever contract skipped it."""
    w3 = live.w3
    registry = RegistryContract(w3, live.deployment.registry)
    elections = ElectionsContract(w3, live.deployment.elections)
    admin, committee, relayer = accounts[0], accounts[1], accounts[8]
    cid = registry.create_community(admin, Web3.keccak(text="election proxies skips"))
    registry.grant_role(admin, cid, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, cid, Roles.COMMITTEE, committee.address)
    a, b, c, proxy = signer_keys(4, "election-proxies-skips")
    registry.update_roll(admin, cid, [r.address for r in (a, b, c, proxy)])
    now = int(w3.eth.get_block("latest")["timestamp"])
    eid = elections.open_election(committee, ElectionParams(cid, candidates(3), now, now + 600))
    for who in (a, b):  # the proxy's limit: two mandates
        appointed = live.client.appoint(who, cid, proxy.address, MandateScope.Election, eid)
        assert live.client.wait(appointed["id"])["status"] == "counted"
    elections.cast_ballots(admin, eid, [elections.sign(b, eid, encode_ranking([0]))])

    d, settings = live.deployment, Settings()
    online = ElectionBallotRelay(w3, d.elections, d.registry, settings)
    relay = ElectionProxyBallotRelay(w3, d.election_proxies, d.mandates, online, settings)
    eproxies = ElectionProxies(w3, live.deployment.election_proxies, elections.contract, relayer)
    rows = [
        eproxies.arg(eid, a.address, proxy, encode_ranking([1])),
        eproxies.arg(eid, b.address, proxy, encode_ranking([1])),  # voted themself: Elections
        eproxies.arg(eid, c.address, proxy, encode_ranking([1])),  # no mandate: ElectionProxies
    ]
    receipt = send(w3, relayer, eproxies.contract.functions.castElectionProxyBallots(eid, rows))
    payloads = [{"voter": who.address} for who in (a, b, c)]
    assert [(o.status, o.detail) for o in relay.outcomes(receipt, payloads)] == [
        ("counted", None),
        ("rejected", "VotedThemself"),
        ("rejected", "NoMandate"),
    ]

    # Had the relay acknowledged them, `commons audit --acks` would find each where it landed
    # (an acknowledgement by any key proves what it says when nobody names the relayer).
    signer = AckSigner(bytes(relayer.key), int(w3.eth.chain_id), live.deployment.forwarder.address)
    entries = []
    for who, row in zip((a, b, c), rows, strict=True):
        payload = {"electionId": eid, "voter": who.address, "proxy": proxy.address,
                   "choices": row[2]}  # fmt: skip
        digest = relay.signed_digest(Message(relay.name, str(eid), payload, proxy.address))
        ack = signer.sign(digest, int(time.time()), int(receipt["blockNumber"]))
        entries.append(AckEntry(ack, None, relay.name, payload))
    judged = live.judge(entries)
    assert judged.findings == [] and judged.warnings == []
    assert [(e["verdict"], e["outcome"]) for e in judged.entries] == [
        ("landed", "counted"),
        ("landed", "skipped"),
        ("landed", "skipped"),
    ]
    # A payload that is not the message acknowledged proves nothing landed.
    forged = AckEntry(entries[2].ack, None, relay.name, {**entries[2].payload, "choices": 0})
    assert [e["verdict"] for e in live.judge([forged]).entries] == ["pending"]
