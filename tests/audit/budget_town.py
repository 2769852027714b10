"""A participatory budgeting round played on the session chain for the audit, API and page tests:
a community with a fund, projects submitted by residents, signed ballots relayed in one batch,
then the selection with its grants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.deploy import Deployment
from ledger.node import rpc
from ledger.protocol.generated import BudgetRule, Roles, SourceKind
from tests.contract_wrappers.budget import BudgetContract, RoundParams
from tests.contract_wrappers.fund import FundContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys


@dataclass(frozen=True)
class Town:
    community: int
    admin: LocalAccount
    committee: LocalAccount
    proposers: tuple[LocalAccount, ...]
    voters: tuple[LocalAccount, ...]


def budget_town(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], name: str, voters: int, income: int
) -> Town:
    """A community whose roll is 3 funded proposers and `voters` keyless-gas voters, with a fund
    in CNY holding `income`."""
    registry = RegistryContract(w3, system.registry)
    admin, committee = accounts[0], accounts[1]
    community = registry.create_community(admin, Web3.keccak(text=name))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    residents = signer_keys(voters, name)
    proposers = tuple(accounts[2:5])
    roll = [a.address for a in (*proposers, *residents)]
    registry.update_roll(admin, community, roll)
    fund = FundContract(w3, system.fund)
    fund.set_currency(admin, community, "CNY")
    fund.record_income(committee, community, SourceKind.Donation, income, "CNY", b"\x01" * 32)
    return Town(community, admin, committee, proposers, tuple(residents))


class Round:
    """One round of `town` through the contract's test client: open now, submissions for 60 s,
    voting for 600 s after that."""

    def __init__(
        self,
        w3: Web3,
        system: Deployment,
        town: Town,
        budget: int,
        rule: BudgetRule = BudgetRule.Knapsack,
        limits: tuple[int, int] = (1, 8),
    ) -> None:
        self.w3, self.town = w3, town
        self.client = BudgetContract(w3, system.budget, system.fund)
        self.contract = self.client.contract
        now = int(w3.eth.get_block("latest")["timestamp"])
        params = RoundParams(
            town.community, now - 1, now + 60, now + 60, now + 660, budget=budget, rule=rule,
            min_projects=limits[0], max_projects=limits[1],
        )  # fmt: skip
        self.id = self.client.open_round(town.committee, params)

    def submit(self, costs: Sequence[int]) -> None:
        for i, cost in enumerate(costs):
            proposer = self.town.proposers[i % len(self.town.proposers)]
            self.client.submit(proposer, self.id, cost, f"round {self.id} project {i}".encode())

    def mark_ineligible(self, index: int) -> None:
        self.client.mark_ineligible(self.town.committee, self.id, index)

    def advance(self, seconds: int) -> None:
        """Mine a block `seconds` after the newest: explicit, since a snapshot revert may have
        set the chain's clock back (an offset from evm_increaseTime would not say from what)."""
        latest = int(self.w3.eth.get_block("latest")["timestamp"])
        rpc(self.w3, "evm_mine", [latest + seconds])

    def sign(self, voter: LocalAccount, projects: int) -> tuple[str, int, bytes, bytes]:
        return self.client.sign(voter, self.id, projects)

    def cast(self, relayer: LocalAccount, ballots: Sequence[tuple[str, int, bytes, bytes]]) -> int:
        """How many of `ballots` were counted."""
        return len(self.client.cast(relayer, self.id, ballots).cast)

    def select(self, sender: LocalAccount) -> int:
        """The bitmap of selected projects."""
        return self.client.select(sender, self.id).selected
