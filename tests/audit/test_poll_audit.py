"""The poll audit on the session chain: an election with online and in-person ballots (and
in-person ballots refused for a forged signature, a non-officer, a resident who voted online)
audits clean, its recount including the in-person ballots; an officer made by a storage write
instead of the admin's grant is named for the ballots it vouched for."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.hashing import keccak
from ledger.node import AnvilProcess, rpc
from ledger.protocol.generated import PollSkipReason, Roles
from ledger.signing.election_ballots import encode_ranking
from tests.audit.conftest import audit_data_dir, audit_deployment
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys

RANKINGS = [[0, 1], [1, 2], [2, 0], [0], [1, 0], [2, 1, 0]]
ROLES_SLOT = 2  # Registry._roles: communityId => role => account => bool


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-poll"), build_cache)


@pytest.fixture(scope="module")
def precinct(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> tuple[int, list[LocalAccount], LocalAccount]:
    """A community with six residents and one poll officer (accounts[6])."""
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    community = registry.create_community(admin, Web3.keccak(text="poll audit"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, accounts[1].address)
    registry.grant_role(admin, community, Roles.POLL_OFFICER, accounts[6].address)
    voters = signer_keys(len(RANKINGS), "poll-audit")
    registry.update_roll(admin, community, [v.address for v in voters])
    return community, voters, accounts[6]


def _open(w3: Web3, elections: ElectionsContract, committee: LocalAccount, community: int) -> int:
    now = int(w3.eth.get_block("latest")["timestamp"])
    params = ElectionParams(community, candidates(3), now, now + 600)
    return elections.open_election(committee, params)


def test_an_election_with_in_person_ballots_audits_clean_and_counts_them(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    precinct: tuple[int, list[LocalAccount], LocalAccount],
) -> None:
    elections = ElectionsContract(w3, system.elections)
    office = PollOfficeContract(w3, system.poll_office, system.elections)
    community, voters, officer = precinct
    relayer = accounts[9]
    eid = _open(w3, elections, accounts[1], community)
    choices = [encode_ranking(r) for r in RANKINGS]
    online = [elections.sign(v, eid, c) for v, c in zip(voters[:3], choices[:3], strict=True)]
    elections.cast_ballots(relayer, eid, online)
    in_person = [
        office.sign(officer, eid, v.address, c)
        for v, c in zip(voters[3:], choices[3:], strict=True)
    ]
    # Refused: signed by a resident (no officer); the officer for a resident who voted online.
    not_officer = office.sign(voters[0], eid, voters[5].address, choices[5])
    voted_online = office.sign(officer, eid, voters[0].address, choices[0])
    batch = office.cast(relayer, eid, [*in_person, not_officer, voted_online])
    assert len(batch.cast) == 3
    assert batch.refused == ((voters[5].address, PollSkipReason.NotPollOfficer),)
    rpc(w3, "evm_increaseTime", [601])
    rpc(w3, "evm_mine")
    assert elections.count(relayer, eid).winners
    result = audit_deployment(anvil, system, settings, audit_dir)
    assert result.findings == []
    row = next(e for e in result.report["elections"] if e["id"] == eid)
    assert (row["ballots"], row["in_person"], row["skipped"]) == (6, 3, 1)
    assert row["winners"] == list(elections.election(eid).winners)


def test_an_officer_made_by_a_storage_write_is_named_for_the_ballots_it_vouched_for(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    precinct: tuple[int, list[LocalAccount], LocalAccount],
) -> None:
    elections = ElectionsContract(w3, system.elections)
    office = PollOfficeContract(w3, system.poll_office, system.elections)
    community, voters, _ = precinct
    impostor = accounts[7]
    by_community = keccak(community.to_bytes(32, "big") + ROLES_SLOT.to_bytes(32, "big"))
    by_role = keccak(Roles.POLL_OFFICER + by_community)
    slot = keccak(bytes(12) + bytes.fromhex(impostor.address[2:]) + by_role)
    address = system.registry.address
    rpc(
        w3, "anvil_setStorageAt", [address, "0x" + slot.hex(), "0x" + (1).to_bytes(32, "big").hex()]
    )
    eid = _open(w3, elections, accounts[1], community)
    ballot = office.sign(impostor, eid, voters[0].address, encode_ranking([1]))
    assert len(office.cast(accounts[9], eid, [ballot]).cast) == 1
    rpc(w3, "anvil_setStorageAt", [address, "0x" + slot.hex(), "0x" + bytes(32).hex()])
    found = [f for f in audit_deployment(anvil, system, settings, audit_dir).findings]
    poll = [f for f in found if f.rule == "poll.in_person"]
    assert poll and f"election {eid}" in poll[0].detail, found
    assert "NotPollOfficer" in str(poll[0].expected)
