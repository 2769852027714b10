"""The paper-box audit on the session chain: an election with online ballots and a paper box
(one officer's second signature refused, a disputed count, an assigned resident refused online)
audits clean, its recount taking the box's entries as weighted ballots; an officer made by a
storage write instead of the admin's grant is named for the totals it co-signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.hashing import keccak
from ledger.node import AnvilProcess, rpc
from ledger.protocol.generated import ElectionSkipReason, PaperBoxSkipReason, Roles
from ledger.signing.election_ballots import encode_ranking
from tests.audit.conftest import audit_data_dir, audit_deployment
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys

ROLES_SLOT = 2  # Registry._roles: communityId => role => account => bool
OPENS_IN = 300


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-paper"), build_cache)


@pytest.fixture(scope="module")
def ward(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> tuple[int, list[LocalAccount], tuple[LocalAccount, LocalAccount]]:
    """A community with eight residents and two poll officers (accounts 6 and 7)."""
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    community = registry.create_community(admin, Web3.keccak(text="paper audit"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, accounts[1].address)
    for officer in accounts[6:8]:
        registry.grant_role(admin, community, Roles.POLL_OFFICER, officer.address)
    voters = signer_keys(8, "paper-audit")
    registry.update_roll(admin, community, [v.address for v in voters])
    return community, voters, (accounts[6], accounts[7])


def _now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def _pending(
    w3: Web3, elections: ElectionsContract, committee: LocalAccount, community: int
) -> int:
    now = _now(w3)
    params = ElectionParams(community, candidates(3), now + OPENS_IN, now + OPENS_IN + 600)
    return elections.open_election(committee, params)


def _mine_at(w3: Web3, timestamp: int) -> None:
    rpc(w3, "evm_mine", [timestamp])


def test_an_election_with_a_paper_box_audits_clean_and_counts_its_entries(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    ward: tuple[int, list[LocalAccount], tuple[LocalAccount, LocalAccount]],
) -> None:
    elections = ElectionsContract(w3, system.elections)
    boxes = PaperBoxesContract(w3, system.poll_office, system.elections)
    community, voters, (first, second) = ward
    relayer = accounts[9]
    eid = _pending(w3, elections, accounts[1], community)
    opens = int(elections.election(eid).opensAt)
    box = boxes.declare(accounts[1], eid, "A", [v.address for v in voters[4:]])
    _mine_at(w3, opens)
    online = [elections.sign(v, eid, encode_ranking([i % 3])) for i, v in enumerate(voters[:4])]
    assigned = elections.sign(voters[5], eid, encode_ranking([1]))
    batch = elections.cast_ballots(relayer, eid, [*online, assigned])
    assert batch.skipped == ((voters[5].address, ElectionSkipReason.AssignedToPaperBox),)
    wrong = [(encode_ranking([2, 1]), 1), (encode_ranking([1]), 2)]
    right = [(encode_ranking([2, 1]), 2), (encode_ranking([1]), 2)]
    twice = boxes.sign(first, box, wrong)
    boxes.submit(relayer, box, [twice, twice])
    boxes.submit(relayer, box, [boxes.sign(second, box, right)])
    counted = boxes.submit(relayer, box, [boxes.sign(first, box, right)])
    assert counted.counted == 4
    _mine_at(w3, opens + 601)
    assert elections.count(relayer, eid).winners
    result = audit_deployment(anvil, system, settings, audit_dir)
    assert result.findings == []
    row = next(e for e in result.report["elections"] if e["id"] == eid)
    assert (row["ballots"], row["paper"], row["skipped"]) == (8, 4, 1)
    assert row["winners"] == list(elections.election(eid).winners)


def test_an_officer_made_by_a_storage_write_is_named_for_the_totals_it_co_signed(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    ward: tuple[int, list[LocalAccount], tuple[LocalAccount, LocalAccount]],
) -> None:
    elections = ElectionsContract(w3, system.elections)
    boxes = PaperBoxesContract(w3, system.poll_office, system.elections)
    community, voters, (first, _) = ward
    impostor = accounts[8]
    by_community = keccak(community.to_bytes(32, "big") + ROLES_SLOT.to_bytes(32, "big"))
    by_role = keccak(Roles.POLL_OFFICER + by_community)
    slot = "0x" + keccak(bytes(12) + bytes.fromhex(impostor.address[2:]) + by_role).hex()
    address = system.registry.address
    eid = _pending(w3, elections, accounts[1], community)
    box = boxes.declare(accounts[1], eid, "B", [v.address for v in voters[:2]])
    _mine_at(w3, int(elections.election(eid).opensAt))
    entries = [(encode_ranking([0]), 2)]
    boxes.submit(accounts[9], box, [boxes.sign(first, box, entries)])
    rpc(w3, "anvil_setStorageAt", [address, slot, "0x" + (1).to_bytes(32, "big").hex()])
    assert boxes.submit(accounts[9], box, [boxes.sign(impostor, box, entries)]).counted == 2
    rpc(w3, "anvil_setStorageAt", [address, slot, "0x" + bytes(32).hex()])
    found = audit_deployment(anvil, system, settings, audit_dir).findings
    paper = [f for f in found if f.rule == "paper.totals"]
    assert paper and f"box {box}" in paper[0].detail, found
    assert PaperBoxSkipReason.NotPollOfficer.name in str(paper[0].expected)
