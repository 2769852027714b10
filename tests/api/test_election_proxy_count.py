"""GET /v1/elections/{id} counts the ballots cast by proxy: a counted proxy ballot is one, and
once the resident's own ballot replaced it, it is an online ballot again."""

from __future__ import annotations

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.protocol.generated import Roles
from ledger.signing.election_ballots import encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys
from tests.contracts.election_proxies_support import ElectionProxies
from tests.contracts.mandates_support import Proxies
from tests.e2e.conftest import LiveSystem, live

__all__ = ["live"]  # the fixture, shared with the end-to-end tests


def test_an_election_shows_its_ballots_by_proxy_until_the_resident_votes(
    live: LiveSystem, accounts: list[LocalAccount]
) -> None:
    w3, deployment = live.w3, live.deployment
    registry = RegistryContract(w3, deployment.registry)
    elections = ElectionsContract(w3, deployment.elections)
    relayer = accounts[8]
    mandates = Proxies(w3, deployment.mandates, deployment.council, relayer)
    eproxies = ElectionProxies(w3, deployment.election_proxies, deployment.elections, relayer)
    admin, committee = accounts[0], accounts[1]
    community = registry.create_community(admin, Web3.keccak(text="election proxy api"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    resident, proxy = signer_keys(2, "election-proxy-api")
    registry.update_roll(admin, community, [resident.address, proxy.address])
    assert mandates.appoint_one(community, resident, proxy.address) == "appointed"
    now = int(w3.eth.get_block("latest")["timestamp"])
    eid = elections.open_election(
        committee, ElectionParams(community, candidates(3), now, now + 600)
    )

    def counts() -> tuple[int, int, int]:
        e = httpx.get(f"{live.url}/v1/elections/{eid}").raise_for_status().json()
        return e["ballotCount"], e["onlineCount"], e["proxyCount"]

    assert eproxies.cast_one(eid, resident.address, proxy, encode_ranking([1])) == "cast"
    assert counts() == (1, 0, 1)
    own = elections.sign(resident, eid, encode_ranking([2, 0]))
    assert len(elections.cast_ballots(relayer, eid, [own]).cast) == 1
    assert counts() == (1, 1, 0)
