"""CommunityFund against a Python shadow model: random sequences of income, grants, requests,
approvals, executions, cancellations and closures; after every step the fund's totals and every
grant equal the model's, and a refused step names the error the model predicts."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.protocol.generated import GrantState, SourceKind
from tests.contract_wrappers.fund import FundContract
from tests.contracts.conftest import ProposalFactory, Town

BUDGETS = (50_000, 80_000, 30_000)
THRESHOLD = 2
DOC = b"\xd0" * 32


@dataclass
class GrantModel:
    amount: int = 0
    paid: int = 0
    state: GrantState = GrantState.None_


@dataclass
class RequestModel:
    request_id: int
    proposal: int
    amount: int
    requester: int
    approvers: list[int] = field(default_factory=list)
    status: str = "pending"


def test_fund_matches_shadow_model(
    w3: Web3, system: Deployment, town: Town, make_proposal: ProposalFactory
) -> None:
    fund = FundContract(w3, system.fund)
    fund.set_currency(town.admin, town.id, "CNY")
    fund.set_approval_threshold(town.admin, town.id, THRESHOLD)
    proposals = [make_proposal(town, outcome="passed", budget=b) for b in BUDGETS]
    committee = town.committee
    recipient = town.residents[-1].address

    class FundMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")
            self.income = 0
            self.available = 0
            self.paid = 0
            self.grants = [GrantModel() for _ in proposals]
            self.requests: list[RequestModel] = []
            # Every example starts with money, an open grant and a pending request, so that even
            # short runs approve, execute and close real things.
            self.record_income(0, 120_000)
            self.open_grant(0, 40_000)
            self.request(0, 0, 10_000)
            self.approve(0, 1)
            self.approve(0, 2)

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        def expect(self, error: str | None, action: object) -> bool:
            """Run `action`; True if it went through, after checking the refusal otherwise."""
            try:
                action()  # type: ignore[operator]
            except ContractRuleBroken as exc:
                assert exc.error == error, f"model expected {error}, contract said {exc}"
                return False
            assert error is None, f"model expected {error}, contract accepted"
            return True

        @rule(member=st.integers(0, 2), amount=st.integers(1, 40_000))
        def record_income(self, member: int, amount: int) -> None:
            fund.record_income(committee[member], town.id, SourceKind.Donation, amount, "CNY", DOC)
            self.income += amount
            self.available += amount

        @rule(p=st.integers(0, 2), amount=st.integers(1, 90_000))
        def open_grant(self, p: int, amount: int) -> None:
            g = self.grants[p]
            error = None
            if g.state != GrantState.None_:
                error = "GrantAlreadyOpened"
            elif amount > BUDGETS[p]:
                error = "GrantExceedsBudget"
            elif amount > self.available:
                error = "InsufficientFund"
            if self.expect(error, lambda: fund.open_grant(committee[0], proposals[p], amount)):
                g.amount, g.state = amount, GrantState.Open
                self.available -= amount

        @rule(p=st.integers(0, 2), member=st.integers(0, 2), amount=st.integers(1, 25_000))
        def request(self, p: int, member: int, amount: int) -> None:
            g = self.grants[p]
            error = self._grant_error(g) or (
                "InsufficientGrant" if amount > g.amount - g.paid else None
            )
            before = fund.contract.functions.payoutCount().call()
            if self.expect(
                error,
                lambda: fund.request_payout(
                    committee[member], proposals[p], recipient, amount, b"\x01" * 32, DOC
                ),
            ):
                self.requests.append(RequestModel(before + 1, p, amount, member))

        @rule(i=st.integers(0, 50), member=st.integers(0, 2))
        def approve(self, i: int, member: int) -> None:
            if not self.requests:
                return
            r = self.requests[i % len(self.requests)]
            error = (
                self._pending_error(r)
                or self._grant_error(self.grants[r.proposal])
                or ("SelfApproval" if member == r.requester else None)
                or ("AlreadyApproved" if member in r.approvers else None)
            )
            if self.expect(error, lambda: fund.approve_payout(committee[member], r.request_id)):
                r.approvers.append(member)

        @rule(i=st.integers(0, 50), member=st.integers(0, 2))
        def execute(self, i: int, member: int) -> None:
            if not self.requests:
                return
            r = self.requests[i % len(self.requests)]
            g = self.grants[r.proposal]
            error = (
                self._pending_error(r)
                or self._grant_error(g)
                or ("NotEnoughApprovals" if len(r.approvers) < THRESHOLD else None)
                or ("InsufficientGrant" if r.amount > g.amount - g.paid else None)
            )
            if self.expect(error, lambda: fund.execute_payout(committee[member], r.request_id)):
                r.status = "executed"
                g.paid += r.amount
                self.paid += r.amount

        @rule(i=st.integers(0, 50))
        def cancel(self, i: int) -> None:
            # A cancel ends a request for good: drawn rarely, so that requests live to execute.
            if not self.requests or i % 4:
                return
            r = self.requests[i % len(self.requests)]
            error = self._pending_error(r)
            if self.expect(error, lambda: fund.cancel_payout(committee[r.requester], r.request_id)):
                r.status = "cancelled"

        @rule(p=st.integers(0, 2))
        def close_grant(self, p: int) -> None:
            g = self.grants[p]
            if self.expect(
                self._grant_error(g), lambda: fund.close_grant(committee[1], proposals[p])
            ):
                g.state = GrantState.Closed
                self.available += g.amount - g.paid

        @staticmethod
        def _grant_error(g: GrantModel) -> str | None:
            if g.state == GrantState.None_:
                return "GrantNotFound"
            return "GrantIsClosed" if g.state == GrantState.Closed else None

        @staticmethod
        def _pending_error(r: RequestModel) -> str | None:
            return None if r.status == "pending" else "PayoutNotPending"

        @invariant()
        def books_match_model(self) -> None:
            view = fund.fund_of(town.id)
            reserved = sum(g.amount - g.paid for g in self.grants if g.state == GrantState.Open)
            assert (view.total_income, view.available, view.reserved, view.total_paid) == (
                self.income,
                self.available,
                reserved,
                self.paid,
            )
            assert view.total_income == view.available + view.reserved + view.total_paid
            for p, g in zip(proposals, self.grants, strict=True):
                on_chain = fund.grant_of(p)
                assert (on_chain.amount, on_chain.paid, on_chain.state) == (
                    g.amount,
                    g.paid,
                    g.state,
                )
                assert 0 <= on_chain.paid <= on_chain.amount

    run_state_machine_as_test(
        FundMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
