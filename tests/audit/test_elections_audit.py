"""The elections audit on the session chain: ranked and approval elections with skipped
ballots audit clean (every ballot judged again, every count redone and matched round by
round), and a ballot changed in storage before the count is named as a count that is not the
recount of the ballots cast."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.model import AuditResult, Finding
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.node import AnvilProcess, rpc
from ledger.protocol.generated import ElectionKind, Roles
from ledger.signing.election_ballots import encode_approval, encode_ranking
from tests.audit.conftest import audit_data_dir, audit_deployment
from tests.contract_wrappers import ranking_code
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys

RANKINGS = [[0, 1], [1, 2], [2, 0], [0], [1, 0], [2, 1, 0], [0, 2], [1]]
# Three candidates, ranking up to three: how Elections stores these ballots.
CODE_BASE = ranking_code.base(3, 3)


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-elections"), build_cache)


@pytest.fixture(scope="module")
def town(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> tuple[int, list[LocalAccount]]:
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    community = registry.create_community(admin, Web3.keccak(text="elections audit"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, accounts[1].address)
    voters = signer_keys(len(RANKINGS), "elections-audit")
    registry.update_roll(admin, community, [v.address for v in voters])
    return community, voters


def _elect(
    w3: Web3,
    elections: ElectionsContract,
    committee: LocalAccount,
    relayer: LocalAccount,
    community: int,
    voters: list[LocalAccount],
    kind: ElectionKind,
) -> int:
    now = int(w3.eth.get_block("latest")["timestamp"])
    seats = 2 if kind == ElectionKind.Approval else 1
    eid = elections.open_election(
        committee, ElectionParams(community, candidates(3), now, now + 600, seats, kind)
    )
    if kind == ElectionKind.Ranked:
        choices = [encode_ranking(r) for r in RANKINGS]
    else:
        choices = [encode_approval(r) for r in RANKINGS]
    signed = [elections.sign(v, eid, c) for v, c in zip(voters, choices, strict=True)]
    stranger = signer_keys(1, "elections-audit-stranger")[0]
    # Skipped: a replay, a voter off the roll, a malformed ranking.
    extra = [signed[0], elections.sign(stranger, eid, choices[0])]
    bad = elections.sign(voters[0], eid, encode_ranking([0, 5]) if seats == 1 else 0)
    batch = elections.cast_ballots(relayer, eid, [*signed, *extra, bad])
    assert len(batch.cast) == len(RANKINGS) and len(batch.skipped) == 3
    return eid


def _elections_findings(result: AuditResult) -> list[Finding]:
    return [f for f in result.findings if f.rule.startswith("elections.")]


def test_counted_elections_with_skipped_ballots_audit_clean(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: tuple[int, list[LocalAccount]],
) -> None:
    elections = ElectionsContract(w3, system.elections)
    community, voters = town
    ranked = _elect(w3, elections, accounts[1], accounts[9], community, voters, ElectionKind.Ranked)
    approval = _elect(
        w3, elections, accounts[1], accounts[9], community, voters, ElectionKind.Approval
    )
    rpc(w3, "evm_increaseTime", [601])
    rpc(w3, "evm_mine")
    assert elections.count(accounts[9], ranked, step=3).winners
    assert elections.count(accounts[9], approval).winners
    result = audit_deployment(anvil, system, settings, audit_dir)
    assert result.findings == []
    rows = {e["id"]: e for e in result.report["elections"]}
    assert rows[ranked]["ballots"] == rows[approval]["ballots"] == len(RANKINGS)
    assert rows[ranked]["skipped"] == rows[approval]["skipped"] == 3
    assert rows[ranked]["winners"] == list(elections.election(ranked).winners)
    assert rows[approval]["winners"] == list(elections.election(approval).winners)


def test_a_ballot_changed_in_storage_before_the_count_is_named(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: tuple[int, list[LocalAccount]],
) -> None:
    elections = ElectionsContract(w3, system.elections)
    community, voters = town
    eid = _elect(w3, elections, accounts[1], accounts[9], community, voters, ElectionKind.Ranked)
    address = system.elections.address
    first = ranking_code.encode(RANKINGS[0], 3)
    slot = ranking_code.first_ballot_word(w3, address, eid, first, CODE_BASE)
    # Every ballot of the word now ranks candidate 2 alone.
    forged = ranking_code.pack([ranking_code.encode([2], 3)] * len(RANKINGS), CODE_BASE)
    rpc(w3, "anvil_setStorageAt", [address, hex(slot), "0x" + forged.to_bytes(32, "big").hex()])
    rpc(w3, "evm_increaseTime", [601])
    rpc(w3, "evm_mine")
    elections.count(accounts[9], eid)
    found = _elections_findings(audit_deployment(anvil, system, settings, audit_dir))
    assert any(f.rule == "elections.count" and f"election {eid}" in f.detail for f in found), found
