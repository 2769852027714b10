"""Stateful property: over random rounds (rule, limits, budget, what the fund holds), project
submissions, ineligibility marks, relayed ballot batches (good, forged, off the roll, replayed,
every bitmap fault), selections and time, the chain agrees with a small Python model of the
round's state machine (Pending → Submission → Review → Voting → Closed → Selected) on every
refusal, every skip reason, every tally, every selection step and every grant."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.protocol.generated import BudgetRoundState, BudgetRule, BudgetSkipReason
from tests.contract_wrappers.budget import BudgetContract, RoundParams, bitmap
from tests.contracts.test_budget import make_ward, reference_selection

R = BudgetSkipReason
# Time moves a window at a time and calls land seconds after a move, so never near a boundary.
STEP = 500
WINDOW = STEP
MAX_INDEX = 7  # ballots name projects 0..7; rounds get a few, so some bits are unknown


@dataclass
class ModelRound:
    rid: int
    opens_at: int
    budget: int
    rule: BudgetRule
    min_projects: int
    max_projects: int
    costs: list[int] = field(default_factory=list)
    ineligible: int = 0
    voted: set[int] = field(default_factory=set)
    votes: list[int] = field(default_factory=list)
    selected: bool = False

    @property
    def voting_opens_at(self) -> int:
        return self.opens_at + 2 * WINDOW  # a review window of WINDOW between

    @property
    def voting_closes_at(self) -> int:
        return self.voting_opens_at + WINDOW

    def state(self, now: int) -> BudgetRoundState:
        if self.selected:
            return BudgetRoundState.Selected
        bounds = (
            self.opens_at,
            self.opens_at + WINDOW,
            self.voting_opens_at,
            self.voting_closes_at,
        )
        return BudgetRoundState(sum(now >= b for b in bounds))

    def fault(self, chosen: int) -> R | None:
        """The bitmap's first fault, in the interface's order."""
        if chosen >> len(self.costs):
            return R.UnknownProject
        if chosen & self.ineligible:
            return R.IneligibleProject
        count = bin(chosen).count("1")
        if count < self.min_projects:
            return R.TooFewProjects
        if count > self.max_projects:
            return R.TooManyProjects
        total = sum(c for i, c in enumerate(self.costs) if chosen >> i & 1)
        if self.rule == BudgetRule.Knapsack and total > self.budget:
            return R.OverBudget
        return None


def _machine(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> type[RuleBasedStateMachine]:
    budget = BudgetContract(w3, system.budget, system.fund)
    fund = system.fund.functions

    class BudgetMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        def next_stamp(self) -> int:
            return int(w3.eth.get_block("latest")["timestamp"]) + 1

        @initialize(
            income=st.sampled_from([300, 1_000, 5_000]),
            round_budget=st.sampled_from([500, 1_000]),
            rule_=st.sampled_from(list(BudgetRule)),
            limits=st.sampled_from([(1, 2), (1, 3), (2, 3), (1, 8)]),
            first=st.lists(st.sampled_from([50, 200, 450, 500]), min_size=2, max_size=6),
        )
        def open_round(
            self,
            income: int,
            round_budget: int,
            rule_: BudgetRule,
            limits: tuple[int, int],
            first: list[int],
        ) -> None:
            self.ward = make_ward(w3, system, accounts, income=income)
            self.income = income
            opens_at = int(w3.eth.get_block("latest")["timestamp"])
            params = RoundParams(
                self.ward.id,
                opens_at,
                opens_at + WINDOW,
                opens_at + 2 * WINDOW,
                opens_at + 3 * WINDOW,
                budget=round_budget,
                rule=rule_,
                min_projects=limits[0],
                max_projects=limits[1],
            )
            rid = budget.open_round(self.ward.committee[0], params)
            self.round = ModelRound(rid, opens_at, round_budget, rule_, *limits)
            self.people = [*self.ward.signers[:6], self.ward.outsider]
            for k, cost in enumerate(first):  # a few projects to start from
                self.submit_one(k % 3, cost)

        @rule(
            costs=st.lists(
                st.tuples(st.integers(0, 2), st.sampled_from([0, 50, 200, 450, 500, 1_001])),
                min_size=1,
                max_size=4,
            )
        )
        def submit(self, costs: list[tuple[int, int]]) -> None:
            for proposer, cost in costs:
                self.submit_one(proposer, cost)

        def submit_one(self, proposer: int, cost: int) -> None:
            m = self.round
            now = self.next_stamp()
            expected = None
            if not m.opens_at <= now < m.opens_at + WINDOW:
                expected = "SubmissionNotOpen"
            elif cost == 0 or cost > m.budget:
                expected = "InvalidProjectCost"
            try:
                index = budget.submit(self.ward.proposers[proposer], m.rid, cost)
            except ContractRuleBroken as refused:
                assert refused.error == expected
                return
            assert expected is None and index == len(m.costs)
            m.costs.append(cost)
            m.votes.append(0)

        @rule(index=st.integers(0, MAX_INDEX))
        def mark_ineligible(self, index: int) -> None:
            m = self.round
            now = self.next_stamp()
            expected = None
            if now >= m.voting_opens_at:
                expected = "EligibilityFrozen"
            elif index >= len(m.costs):
                expected = "UnknownBudgetProject"
            elif m.ineligible >> index & 1:
                expected = "ProjectAlreadyIneligible"
            try:
                budget.mark_ineligible(self.ward.committee[1], m.rid, index)
            except ContractRuleBroken as refused:
                assert refused.error == expected
                return
            assert expected is None
            m.ineligible |= 1 << index

        @rule(data=st.data(), size=st.integers(1, 6))
        def cast(self, data: st.DataObject, size: int) -> None:
            m = self.round
            # Mostly projects that exist (one index past the last, to find UnknownProject).
            indexes = st.integers(0, min(len(m.costs), MAX_INDEX))
            batch = [
                (
                    data.draw(st.integers(0, 6)),  # 6 is the outsider, on no roll
                    data.draw(st.sets(indexes, min_size=1, max_size=4)),
                    data.draw(st.sampled_from([False, False, False, True])),  # forged
                )
                for _ in range(size)
            ]
            self.cast_batch(batch)

        @rule(data=st.data())
        def vote_valid(self, data: st.DataObject) -> None:
            """A resident who has not voted chooses eligible projects the ballot rules allow."""
            m = self.round
            waiting = [p for p in range(6) if p not in m.voted]
            eligible = [i for i in range(len(m.costs)) if not m.ineligible >> i & 1]
            if not waiting or len(eligible) < m.min_projects:
                return
            person = data.draw(st.sampled_from(waiting))
            chosen = data.draw(st.sets(st.sampled_from(eligible), min_size=m.min_projects))
            chosen = set(sorted(chosen)[: m.max_projects])
            self.cast_batch([(person, chosen, False)])

        def cast_batch(self, batch: list[tuple[int, set[int], bool]]) -> None:
            m = self.round
            ballots = []
            for person, chosen, forged in batch:
                # Forged: another resident's signature naming this one.
                signer = self.people[(person + 1) % 6] if forged else self.people[person]
                address = self.people[person].address
                ballots.append(budget.sign(signer, m.rid, bitmap(*chosen), voter_address=address))
            result = budget.cast(self.ward.admin, m.rid, ballots)
            receipt_block = w3.eth.get_block("latest")
            stamp = int(receipt_block["timestamp"])
            open_ = m.voting_opens_at <= stamp < m.voting_closes_at
            cast, skipped = [], []
            for person, chosen, forged in batch:
                address = self.people[person].address
                reason = None
                if not open_:
                    reason = R.VotingNotOpen
                elif forged:
                    reason = R.BadSignature
                elif person == 6:
                    reason = R.NotOnRoll
                elif person in m.voted:
                    reason = R.AlreadyVoted
                else:
                    reason = m.fault(bitmap(*chosen))
                if reason is None:
                    m.voted.add(person)
                    for i in chosen:
                        m.votes[i] += 1
                    cast.append((address, bitmap(*chosen)))
                else:
                    skipped.append((address, reason))
            assert result.cast == tuple(cast)
            assert result.skipped == tuple(skipped)

        @rule()
        def select(self) -> None:
            m = self.round
            now = self.next_stamp()
            expected = None
            if m.selected:
                expected = "RoundAlreadySelected"
            elif now < m.voting_closes_at:
                expected = "RoundVotingNotClosed"
            try:
                walk = budget.select(self.ward.outsider, m.rid)
            except ContractRuleBroken as refused:
                assert refused.error == expected
                return
            assert expected is None
            selection_budget = min(m.budget, self.income)
            steps = reference_selection(m.votes, m.costs, m.ineligible, selection_budget)
            assert list(walk.steps) == steps
            taken = [(i, cost) for i, _, cost, _, ok in steps if ok]
            ids = [budget.contract.functions.grantIdOf(m.rid, i).call() for i, _ in taken]
            assert walk.grants == tuple(zip(ids, (c for _, c in taken), strict=True))
            assert walk.spent == sum(c for _, c in taken)
            m.selected = True

        @rule()
        def advance(self) -> None:
            rpc(w3, "evm_increaseTime", [STEP])
            rpc(w3, "evm_mine")

        @invariant()
        def chain_agrees(self) -> None:
            if not hasattr(self, "round"):
                return
            m = self.round
            view = budget.round(m.rid)
            assert view.state == m.state(int(w3.eth.get_block("latest")["timestamp"]))
            assert view.projectCount == len(m.costs)
            assert view.ineligible == m.ineligible
            assert view.ballotCount == len(m.voted)
            assert budget.votes(m.rid) == m.votes
            totals = fund.fundOf(self.ward.id).call()
            assert totals.available + totals.reserved == self.income
            assert totals.reserved == view.spent

    return BudgetMachine


@pytest.mark.slow
def test_chain_agrees_with_the_round_model_over_random_histories(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> None:
    run_state_machine_as_test(
        _machine(w3, system, accounts),
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
