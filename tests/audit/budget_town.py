"""A participatory budgeting round played on the session chain for the audit and API tests:
a community with a fund, projects submitted by residents, signed ballots relayed in one batch,
then the selection with its grants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.logs import DISCARD

from ledger.deploy import Deployment
from ledger.node import rpc
from ledger.protocol.generated import BudgetRule, Roles, SourceKind
from ledger.signing.budget_ballots import BudgetBallot, BudgetDomain, sign_budget_ballot
from ledger.tx import ErrorDecoder, send
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
    """One round of `town`: open now, submissions for 60 s, voting for 600 s after that."""

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
        self.contract = w3.eth.contract(
            address=system.budget.address, abi=system.budget.abi, decode_tuples=True
        )
        self.decoder = ErrorDecoder([system.budget.abi])
        now = int(w3.eth.get_block("latest")["timestamp"])
        params = (
            town.community, Web3.keccak(text="round"), budget, b"CNY", int(rule), *limits,
            now - 1, now + 60, now + 60, now + 660,
        )  # fmt: skip
        receipt = self._send(town.committee, self.contract.functions.openBudgetRound(params))
        (opened,) = self.contract.events.BudgetRoundOpened().process_receipt(
            receipt, errors=DISCARD
        )
        self.id = int(opened["args"]["roundId"])

    def _send(self, sender: LocalAccount, call: object) -> dict[str, object]:
        return dict(send(self.w3, sender, call, decoder=self.decoder))

    def submit(self, costs: Sequence[int]) -> None:
        for i, cost in enumerate(costs):
            proposer = self.town.proposers[i % len(self.town.proposers)]
            text = Web3.keccak(text=f"round {self.id} project {i}")
            self._send(proposer, self.contract.functions.submitProject(self.id, text, cost))

    def mark_ineligible(self, index: int) -> None:
        call = self.contract.functions.markIneligible(self.id, index, b"\x02" * 32)
        self._send(self.town.committee, call)

    def advance(self, seconds: int) -> None:
        rpc(self.w3, "evm_increaseTime", [seconds])
        rpc(self.w3, "evm_mine")

    def sign(self, voter: LocalAccount, projects: int) -> tuple[str, int, bytes, bytes]:
        domain = BudgetDomain(int(self.w3.eth.chain_id), to_checksum_address(self.contract.address))
        ballot = BudgetBallot(self.id, to_checksum_address(voter.address), projects)
        return sign_budget_ballot(voter, ballot, domain).call_arg()

    def cast(self, relayer: LocalAccount, ballots: Sequence[tuple[str, int, bytes, bytes]]) -> int:
        receipt = self._send(relayer, self.contract.functions.castBudgetBallots(self.id, ballots))
        return len(self.contract.events.BudgetBallotCast().process_receipt(receipt, errors=DISCARD))

    def select(self, sender: LocalAccount) -> int:
        self._send(sender, self.contract.functions.selectProjects(self.id))
        return int(self.contract.functions.getRound(self.id).call().selected)
