"""The participatory budgeting audit on the session chain: a round with skipped ballots, an
ineligible project and a project passed over audits clean (every ballot judged again, the tally,
the selection re-run and the grants); a vote or a selection changed in storage is named; and the
on-chain selection equals the reference selection on generated rounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from ledger.audit.model import AuditResult, Finding
from ledger.budget.ballots import tally
from ledger.budget.selection import select
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.node import AnvilProcess, rpc
from ledger.protocol.generated import BudgetRule
from tests.audit.budget_town import Round, Town, budget_town
from tests.audit.conftest import audit_data_dir, audit_deployment
from tests.contracts.conftest import signer_keys

COSTS = [60, 50, 30, 10, 40]
# Votes 3, 3, 3, 2 and project 4 marked ineligible: the walk takes 2 (30) and 1 (50) on the tie
# (lower cost first), passes over 0 (60 > 20 left) and still takes 3 (10).
BALLOTS = [0b00101, 0b01010, 0b00101, 0b00001, 0b01010, 0b00110]


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-budget"), build_cache)


@pytest.fixture(scope="module")
def town(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> Town:
    return budget_town(w3, system, accounts, "budget audit", voters=len(BALLOTS), income=10_000)


def _budget_findings(result: AuditResult) -> list[Finding]:
    return [f for f in result.findings if f.rule.startswith("budget.")]


def _voted_round(w3: Web3, system: Deployment, town: Town, relayer: LocalAccount) -> Round:
    r = Round(w3, system, town, budget=100)
    r.submit(COSTS)
    r.mark_ineligible(4)
    r.advance(61)
    signed = [r.sign(v, b) for v, b in zip(town.voters, BALLOTS, strict=True)]
    stranger = signer_keys(1, "budget-audit-stranger")[0]
    # Skipped: a replay, a voter off the roll, an ineligible project, over the budget.
    skipped = [
        signed[0],
        r.sign(stranger, 0b1),
        r.sign(town.proposers[0], 0b10000),
        r.sign(town.proposers[1], 0b00011),
    ]
    assert r.cast(relayer, [*signed, *skipped]) == len(BALLOTS)
    return r


def test_a_selected_round_with_skipped_ballots_audits_clean(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: Town,
) -> None:
    r = _voted_round(w3, system, town, accounts[9])
    r.advance(601)
    assert r.select(accounts[9]) == 0b01110
    result = audit_deployment(anvil, system, settings, audit_dir)
    assert result.findings == []
    row = next(row for row in result.report["budget_rounds"] if row["id"] == r.id)
    assert row["ballots"] == len(BALLOTS) and row["skipped"] == 4
    assert row["selected"] == [1, 2, 3] and row["spent"] == 90


def _packed(votes: list[int]) -> int:
    """Eight projects' votes in one word, 32 bits each, project 0 lowest (the contract's tallies)."""
    return sum(v << (32 * i) for i, v in enumerate(votes))


def _votes_word(w3: Web3, address: str, round_id: int, votes: list[int]) -> int:
    """The slot of the round's first tally word (round => word => uint256), found among the
    contract's first storage slots by the votes it must hold."""
    for base in range(16):
        outer = Web3.keccak(round_id.to_bytes(32, "big") + base.to_bytes(32, "big"))
        slot = int.from_bytes(Web3.keccak(bytes(32) + outer), "big")
        if int.from_bytes(w3.eth.get_storage_at(address, slot), "big") == _packed(votes):
            return slot
    raise AssertionError("no tally word found")


def test_a_vote_count_changed_in_storage_before_the_selection_is_named(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: Town,
) -> None:
    r = _voted_round(w3, system, town, accounts[9])
    address = system.budget.address
    # Project 3 has 2 votes; with 9 it walks first and changes the walk and the views.
    slot = _votes_word(w3, address, r.id, [3, 3, 3, 2])
    forged = _packed([3, 3, 3, 9])
    rpc(w3, "anvil_setStorageAt", [address, hex(slot), "0x" + forged.to_bytes(32, "big").hex()])
    assert int(r.contract.functions.getProject(r.id, 3).call().votes) == 9
    r.advance(601)
    r.select(accounts[9])
    found = _budget_findings(audit_deployment(anvil, system, settings, audit_dir))
    rules = {f.rule for f in found if f"round {r.id}" in f.detail}
    assert {"budget.selection", "budget.count"} <= rules, found


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    costs=st.lists(st.integers(1, 40), min_size=2, max_size=7),
    bitmaps=st.lists(st.integers(1, 127), min_size=1, max_size=8),
    budget=st.integers(40, 120),
)
def test_the_on_chain_selection_equals_the_reference_selection(
    w3: Web3,
    system: Deployment,
    accounts: list[LocalAccount],
    town: Town,
    costs: list[int],
    bitmaps: list[int],
    budget: int,
) -> None:
    r = Round(w3, system, town, budget=budget, rule=BudgetRule.KApproval, limits=(1, 8))
    r.submit([min(c, budget) for c in costs])
    r.advance(61)
    ballots = [b & ((1 << len(costs)) - 1) or 1 for b in bitmaps]
    voters = town.voters[: len(ballots)] if len(ballots) <= len(town.voters) else town.voters
    ballots = ballots[: len(voters)]
    assert r.cast(accounts[9], [r.sign(v, b) for v, b in zip(voters, ballots, strict=True)]) == len(
        ballots
    )
    r.advance(601)
    available = int(system.fund.functions.fundOf(town.community).call()[3])
    chosen = r.select(accounts[9])
    votes = tally(ballots, len(costs))
    expected = select(
        min(budget, available), [min(c, budget) for c in costs], votes, [True] * len(costs)
    )
    assert chosen == expected.bitmap
