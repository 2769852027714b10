"""The election proxy audit on the session chain: an election mixing own, proxy and replaced
proxy ballots (and proxy ballots skipped for no mandate and after the resident's own) audits
clean, its recount reading each voter's one ballot, a paper box resident's proxy ballot skipped
as such; a mandate made by a storage write instead of the resident's signed appointment is named
for the proxy ballot it let through."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.chain import ChainWalker
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.hashing import keccak
from ledger.node import AnvilProcess, rpc
from ledger.protocol.generated import Roles
from ledger.signing.election_ballots import encode_ranking
from tests.audit.conftest import audit_data_dir, audit_deployment
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys
from tests.contracts.election_proxies_support import ElectionProxies
from tests.contracts.mandates_support import Proxies

MANDATES_SLOT = 2  # Mandates._mandates: communityId => resident => Mandate (after EIP712's two)


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-election-proxies"), build_cache)


@pytest.fixture(scope="module")
def ward(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> tuple[int, list[LocalAccount]]:
    """A community with six residents who only sign."""
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    community = registry.create_community(admin, Web3.keccak(text="election proxy audit"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, accounts[1].address)
    residents = signer_keys(6, "election-proxy-audit")
    registry.update_roll(admin, community, [r.address for r in residents])
    return community, residents


def _open(
    w3: Web3, elections: ElectionsContract, committee: LocalAccount, community: int, wait: int = 0
) -> int:
    now = int(w3.eth.get_block("latest")["timestamp"])
    return elections.open_election(
        committee, ElectionParams(community, candidates(3), now + wait, now + wait + 600)
    )


def test_an_election_with_proxy_ballots_audits_clean_and_recounts_each_voters_one_ballot(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    ward: tuple[int, list[LocalAccount]],
) -> None:
    community, (a, b, c, d, e, proxy) = ward
    relayer = accounts[9]
    elections = ElectionsContract(w3, system.elections)
    mandates = Proxies(w3, system.mandates, system.council, relayer)
    eproxies = ElectionProxies(w3, system.election_proxies, system.elections, relayer)
    for resident in (a, b):
        assert mandates.appoint_one(community, resident, proxy.address) == "appointed"
    assert mandates.appoint_one(community, d, e.address) == "appointed"
    eid = _open(w3, elections, accounts[1], community, wait=60)
    PaperBoxesContract(w3, system.poll_office, system.elections).declare(
        accounts[1], eid, "A", [d.address]
    )
    rpc(w3, "evm_increaseTime", [60])
    rpc(w3, "evm_mine")
    # d votes on paper only: their proxy's ballot is skipped as a paper box resident's.
    assert eproxies.cast_one(eid, d.address, e, encode_ranking([2])) == "AssignedToPaperBox"
    elections.cast_ballots(relayer, eid, [elections.sign(c, eid, encode_ranking([1, 2]))])
    elections.cast_ballots(relayer, eid, [elections.sign(b, eid, encode_ranking([2]))])
    args = [
        eproxies.arg(eid, a.address, proxy, encode_ranking([0])),
        eproxies.arg(eid, b.address, proxy, encode_ranking([0])),  # b voted: skipped
        eproxies.arg(eid, d.address, proxy, encode_ranking([0])),  # not d's proxy: skipped
    ]
    assert eproxies.outcomes(eproxies.cast(eid, args)) == ["NoMandate", "cast", "VotedThemself"]
    ballots = [elections.sign(v, eid, encode_ranking([1])) for v in (a, e)]
    elections.cast_ballots(relayer, eid, ballots)  # a's own replaces the proxy's
    elections.cast_ballots(relayer, eid, [elections.sign(proxy, eid, encode_ranking([0]))])
    rpc(w3, "evm_increaseTime", [601])
    rpc(w3, "evm_mine")
    assert elections.count(relayer, eid).winners == (1,)
    result = audit_deployment(anvil, system, settings, audit_dir)
    assert result.findings == []
    row = next(r for r in result.report["elections"] if r["id"] == eid)
    assert (row["ballots"], row["by_proxy"]) == (5, 0)
    assert row["winners"] == [1]
    # A node that cannot trace (or has pruned the state to): ElectionProxies' call into Elections
    # comes without calldata, and its events are judged within the batch the audit judged.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ChainWalker, "_split_frames", lambda *_: False)
        untraced = audit_deployment(anvil, system, settings, audit_dir)
    assert untraced.findings == []
    assert next(r for r in untraced.report["elections"] if r["id"] == eid) == row


def test_a_mandate_written_into_storage_is_named_for_the_proxy_ballot_it_let_through(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    ward: tuple[int, list[LocalAccount]],
) -> None:
    community, residents = ward
    voter, proxy = residents[3], residents[4]
    relayer = accounts[9]
    elections = ElectionsContract(w3, system.elections)
    eproxies = ElectionProxies(w3, system.election_proxies, system.elections, relayer)
    by_community = keccak(community.to_bytes(32, "big") + MANDATES_SLOT.to_bytes(32, "big"))
    slot = keccak(bytes(12) + bytes.fromhex(voter.address[2:]) + by_community)
    forged = int(proxy.address, 16)  # AllVotes (scope 0, vote 0)
    address = system.mandates.address
    rpc(
        w3,
        "anvil_setStorageAt",
        [address, "0x" + slot.hex(), "0x" + forged.to_bytes(32, "big").hex()],
    )
    try:
        eid = _open(w3, elections, accounts[1], community)
        assert eproxies.cast_one(eid, voter.address, proxy, encode_ranking([2])) == "cast"
    finally:
        rpc(w3, "anvil_setStorageAt", [address, "0x" + slot.hex(), "0x" + bytes(32).hex()])
    result = audit_deployment(anvil, system, settings, audit_dir)
    found = [f for f in result.findings if f.rule == "elections.proxy"]
    assert found, [(f.rule, f.detail, f.expected, f.found) for f in result.findings][:8]
    assert f"election {eid}" in found[0].detail, found
    assert "NoMandate" in str(found[0].expected)
