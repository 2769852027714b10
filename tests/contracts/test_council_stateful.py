"""Stateful property: over random roll changes, publications, proposals, relayed ballot batches
(good and bad), time and finalizations, the chain agrees with a small Python model on every
refusal, every skip reason, every tally and every outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.protocol.generated import BallotKind, Outcome, Roles, SkipReason
from ledger.signing.ballots import make_ballot, sign_ballot, to_compact
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys

PEOPLE = 6  # residents come and go among these; index PEOPLE is a stranger who never joins


@dataclass
class ModelProposal:
    pid: int
    kind: BallotKind
    options: int
    quorum_bps: int
    threshold_bps: int
    electorate: frozenset[int]
    closes_at: int
    votes: dict[int, int] = field(default_factory=dict)
    outcome: Outcome = Outcome.None_

    def tally(self) -> tuple[int, ...]:
        return tuple(list(self.votes.values()).count(o) for o in range(self.options))

    def decide(self) -> Outcome:
        tally = self.tally()
        turnout = sum(tally)
        if turnout * 10_000 < self.quorum_bps * len(self.electorate):
            return Outcome.NoQuorum
        if self.kind is BallotKind.YesNoAbstain:
            yes, no = tally[0], tally[1]
            return (
                Outcome.Passed
                if yes * 10_000 > self.threshold_bps * (yes + no)
                else Outcome.Rejected
            )
        top = max(tally)
        sole = tally.count(top) == 1
        passed = sole and top * 10_000 > self.threshold_bps * turnout
        return Outcome.Passed if passed else Outcome.Rejected


def _machine(
    w3: Web3, registry: RegistryContract, council: CouncilContract, accounts: list[LocalAccount]
) -> type[RuleBasedStateMachine]:
    people = signer_keys(PEOPLE + 1, "stateful")
    admin, committee, relayer = accounts[0], accounts[1], accounts[2]

    class CouncilMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")
            self.published = 0
            # per person, membership intervals newest first: (join version, leave version | None)
            self.intervals: dict[int, list[tuple[int, int | None]]] = {i: [] for i in range(PEOPLE)}
            self.proposals: list[ModelProposal] = []

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        @initialize()
        def community(self) -> None:
            self.cid = registry.create_community(admin, b"\x77" * 32)
            registry.grant_role(admin, self.cid, Roles.REGISTRAR, admin.address)
            registry.grant_role(admin, self.cid, Roles.COMMITTEE, committee.address)
            # Start from a published roll of four, so proposals and ballots happen early.
            registry.update_roll(admin, self.cid, [p.address for p in people[:4]])
            self.published = 1
            for person in range(4):
                self.intervals[person] = [(1, None)]

        # ---------------------------------------------------------------- model of the roll

        def member_at(self, person: int, version: int) -> bool:
            return any(
                j <= version and (left is None or version < left)
                for j, left in self.intervals.get(person, [])
            )

        def electorate(self) -> frozenset[int]:
            return frozenset(p for p in range(PEOPLE) if self.member_at(p, self.published))

        def now(self) -> int:
            return int(w3.eth.get_block("latest")["timestamp"])

        # ---------------------------------------------------------------- rules

        @rule(person=st.integers(0, PEOPLE - 1), join=st.booleans(), publish=st.booleans())
        def change_roll(self, person: int, join: bool, publish: bool) -> None:
            pending = self.published + 1
            ivs = self.intervals[person]
            expected: str | None = None
            if join:
                if ivs and ivs[0][1] is None:
                    expected = "AlreadyOnRoll"
                elif ivs and ivs[0][1] == pending:
                    new = [(ivs[0][0], None), *ivs[1:]]
                elif len(ivs) == 3:
                    expected = "RollHistoryFull"  # never prunable within an example's hours
                else:
                    new = [(pending, None), *ivs]
            elif not ivs or ivs[0][1] is not None:
                expected = "NotOnRoll"
            elif ivs[0][0] == pending:
                new = ivs[1:]
            else:
                new = [(ivs[0][0], pending), *ivs[1:]]
            address = [people[person].address]
            added, removed = (address, []) if join else ([], address)
            if expected is not None:
                with pytest.raises(ContractRuleBroken, match=rf"^{expected}\("):
                    registry.update_roll(admin, self.cid, added, removed, publish=publish)
                return
            registry.update_roll(admin, self.cid, added, removed, publish=publish)
            self.intervals[person] = new
            if publish:
                self.published = pending

        @rule()
        def publish(self) -> None:
            registry.publish_roll(admin, self.cid)
            self.published += 1

        @rule(
            multiple=st.booleans(),
            options=st.integers(2, 4),
            quorum_bps=st.sampled_from([0, 2500, 5000]),
            threshold_bps=st.sampled_from([0, 5000, 6666]),
            minutes=st.integers(5, 20),
        )
        def open_proposal(
            self, multiple: bool, options: int, quorum_bps: int, threshold_bps: int, minutes: int
        ) -> None:
            kind = BallotKind.MultipleChoice if multiple else BallotKind.YesNoAbstain
            options = options if multiple else 3
            threshold_bps = threshold_bps if multiple else max(threshold_bps, 5000)
            now = self.now()
            params = ProposalParams(
                self.cid, b"\x88" * 32, now, now + 60 * minutes, kind, options,
                quorum_bps, threshold_bps,
            )  # fmt: skip
            electorate = self.electorate()
            if not electorate:
                with pytest.raises(ContractRuleBroken, match=r"^EmptyRoll\("):
                    council.open_proposal(committee, params)
                return
            pid = council.open_proposal(committee, params)
            self.proposals.append(
                ModelProposal(
                    pid, kind, options, quorum_bps, threshold_bps, electorate, params.closes_at
                )
            )

        @precondition(lambda self: bool(self.proposals))
        @rule(
            which=st.integers(0, 50),
            ballots=st.lists(
                st.tuples(
                    st.sampled_from(range(PEOPLE + 1)),  # PEOPLE: the stranger
                    st.sampled_from([0, 1, 2, 0, 1, 2, 0, 1, 3, 4]),  # 3, 4 may be out of range
                    st.sampled_from(["good"] * 8 + ["wrong_signer", "other_proposal"]),
                ),
                min_size=1,
                max_size=5,
            ),
        )
        def relay_ballots(self, which: int, ballots: list[tuple[int, int, str]]) -> None:
            proposal = self.proposals[which % len(self.proposals)]
            domain = council.domain
            now_open = self.now() < proposal.closes_at  # the next block is at least a second on
            calls: list[tuple[Any, ...]] = []
            expected_cast: list[tuple[str, int]] = []
            expected_skipped: list[tuple[str, SkipReason]] = []
            voted = dict(proposal.votes)
            for person, option, how in ballots:
                voter = people[person]
                signer = people[(person + 1) % len(people)] if how == "wrong_signer" else voter
                pid = proposal.pid + 1 if how == "other_proposal" else proposal.pid
                ballot = make_ballot(pid, signer.address, option)
                r, vs = to_compact(sign_ballot(signer, ballot, domain).signature)
                calls.append((voter.address, option, r, vs))
                # The block's timestamp is decided when mined; guard the boundary below.
                if not now_open:
                    reason: SkipReason | None = SkipReason.ProposalNotOpen
                elif option >= proposal.options:
                    reason = SkipReason.InvalidOption
                elif how != "good":
                    reason = SkipReason.BadSignature
                elif person not in proposal.electorate:
                    reason = SkipReason.NotOnRoll
                elif person in voted:
                    reason = SkipReason.AlreadyVoted
                else:
                    reason = None
                    voted[person] = option
                    expected_cast.append((voter.address, option))
                if reason is not None:
                    expected_skipped.append((voter.address, reason))
            if abs(proposal.closes_at - self.now()) <= 5:
                return  # too close to the closing second to predict which side the block lands
            from ledger.tx import send

            receipt = send(w3, relayer, council.contract.functions.castBallots(proposal.pid, calls))
            result = council.decode_batch(receipt)
            assert [(c.voter, c.option) for c in result.cast] == expected_cast
            assert [(s.voter, s.reason) for s in result.skipped] == expected_skipped
            proposal.votes = voted

        @rule(seconds=st.sampled_from([30, 120, 300, 600]))
        def advance_time(self, seconds: int) -> None:
            rpc(w3, "evm_increaseTime", [seconds])
            rpc(w3, "evm_mine")

        @precondition(lambda self: bool(self.proposals))
        @rule(which=st.integers(0, 50))
        def finalize(self, which: int) -> None:
            proposal = self.proposals[which % len(self.proposals)]
            if proposal.outcome is not Outcome.None_:
                with pytest.raises(ContractRuleBroken, match=r"^AlreadyFinalized\("):
                    council.finalize(relayer, proposal.pid)
            elif self.now() + 5 < proposal.closes_at:
                with pytest.raises(ContractRuleBroken, match=r"^VotingNotClosed\("):
                    council.finalize(relayer, proposal.pid)
            elif self.now() >= proposal.closes_at:
                outcome = council.finalize(relayer, proposal.pid)
                assert outcome is proposal.decide()
                proposal.outcome = outcome

        # ---------------------------------------------------------------- invariants

        @invariant()
        def tallies_and_outcomes_match_model(self) -> None:
            for proposal in self.proposals:
                info = council.proposal(proposal.pid)
                assert info.tally == proposal.tally()
                assert info.outcome is proposal.outcome
                assert info.roll_size == len(proposal.electorate)

        @invariant()
        def published_roll_matches_model(self) -> None:
            if not hasattr(self, "cid"):
                return
            snap = registry.roll_snapshot(self.cid)
            assert snap.version == self.published
            assert snap.size == len(self.electorate())

    return CouncilMachine


@pytest.mark.slow
def test_chain_agrees_with_model_over_random_histories(
    w3: Web3,
    registry_client: RegistryContract,
    council_client: CouncilContract,
    accounts: list[LocalAccount],
) -> None:
    machine = _machine(w3, registry_client, council_client, accounts)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
