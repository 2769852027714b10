"""Stateful property: over random roll changes, relayed rating batches (good, forged, out of
range) and time, the chain agrees with a small Python model of a completed proposal's ratings on
every skip reason, the opening snapshot, the count and the score sum."""

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
from ledger.node import rpc
from ledger.protocol.generated import RatingSkipReason, Roles
from ledger.signing.eip712 import to_compact
from tests.contract_wrappers.council import YES, CouncilContract, ProposalParams
from tests.contract_wrappers.ratings import RatingsContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys

PEOPLE = 5
PERIOD = 30 * 24 * 3600
Skip = RatingSkipReason


@dataclass
class ModelRatings:
    opened: bool = False
    electorate: frozenset[int] = frozenset()
    closes_at: int = 0
    scores: dict[int, int] = field(default_factory=dict)


def _machine(
    w3: Web3,
    registry: RegistryContract,
    council: CouncilContract,
    ratings: RatingsContract,
    accounts: list[LocalAccount],
) -> type[RuleBasedStateMachine]:
    people = signer_keys(PEOPLE, "ratings-stateful")
    admin, committee, voter, relayer = accounts[0], accounts[1], accounts[2], accounts[9]

    class RatingsMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")
            self.on_roll: set[int] = set()
            self.joins = dict.fromkeys(range(PEOPLE), 0)
            self.model = ModelRatings()

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        def now(self) -> int:
            return int(w3.eth.get_block("latest")["timestamp"])

        @initialize()
        def completed_proposal(self) -> None:
            cid = registry.create_community(admin, b"\x79" * 32)
            registry.grant_role(admin, cid, Roles.REGISTRAR, admin.address)
            registry.grant_role(admin, cid, Roles.COMMITTEE, committee.address)
            registry.update_roll(admin, cid, [voter.address, *(p.address for p in people[:3])])
            self.cid, self.on_roll = cid, {0, 1, 2}
            for person in self.on_roll:
                self.joins[person] = 1
            now = self.now()
            self.pid = council.open_proposal(
                committee, ProposalParams(cid, b"\x45" * 32, now, now + 60)
            )
            council.cast_vote(voter, self.pid, YES)
            rpc(w3, "evm_increaseTime", [61])
            rpc(w3, "evm_mine")
            council.finalize(admin, self.pid)
            council.record_milestone(committee, self.pid, b"\x46" * 32, completed=True)

        @rule(person=st.integers(0, PEOPLE - 1))
        def toggle_membership(self, person: int) -> None:
            address = people[person].address
            if person in self.on_roll:
                registry.update_roll(admin, self.cid, [], [address])
                self.on_roll.discard(person)
            elif self.joins[person] < 3:  # the Registry keeps three membership intervals
                self.joins[person] += 1
                registry.update_roll(admin, self.cid, [address], [])
                self.on_roll.add(person)

        @rule(
            batch=st.lists(
                st.tuples(
                    st.integers(0, PEOPLE - 1),
                    st.integers(0, 6),
                    st.sampled_from(["good", "forged"]),
                ),
                min_size=1,
                max_size=5,
            )
        )
        def rate(self, batch: list[tuple[int, int, str]]) -> None:
            args = []
            for person, score, kind in batch:
                signed = ratings.sign(people[person], self.pid, score)
                if kind == "forged":  # another resident's signature naming this one
                    other = ratings.sign(people[(person + 1) % PEOPLE], self.pid, score)
                    args.append((signed.rater, score, bytes(32), *to_compact(other.signature)))
                else:
                    args.append(signed.call_arg())
            result = ratings.rate(relayer, self.pid, args)
            stamp = int(w3.eth.get_block(result.receipt["blockNumber"])["timestamp"])
            m = self.model
            if not m.opened:
                assert result.opened
                m.opened = True
                m.electorate = frozenset(self.on_roll)
                m.closes_at = stamp + PERIOD
            else:
                assert not result.opened
            expected_rated, expected_skipped = [], []
            for person, score, kind in batch:
                address = people[person].address
                if stamp >= m.closes_at:
                    expected_skipped.append((address, Skip.RatingsClosed))
                elif not 1 <= score <= 5:
                    expected_skipped.append((address, Skip.InvalidScore))
                elif kind == "forged":
                    expected_skipped.append((address, Skip.BadSignature))
                elif person not in m.electorate:
                    expected_skipped.append((address, Skip.NotOnRoll))
                elif person in m.scores:
                    expected_skipped.append((address, Skip.AlreadyRated))
                else:
                    m.scores[person] = score
                    expected_rated.append((address, score))
            assert result.rated == tuple(expected_rated)
            assert result.skipped == tuple(expected_skipped)

        @rule(days=st.sampled_from([1, 10, 30]))
        def advance(self, days: int) -> None:
            rpc(w3, "evm_increaseTime", [days * 86_400])
            rpc(w3, "evm_mine")

        @invariant()
        def chain_agrees(self) -> None:
            summary = ratings.summary(self.pid)
            scores = self.model.scores.values()
            assert (summary.count, summary.scoreSum) == (len(scores), sum(scores))
            expected_average = sum(scores) * 100 // len(scores) if scores else 0
            assert summary.average == expected_average
            for person in range(PEOPLE):
                rated = ratings.has_rated(self.pid, people[person].address)
                assert rated == (person in self.model.scores)

    return RatingsMachine


@pytest.mark.slow
def test_chain_agrees_with_the_ratings_model_over_random_histories(
    w3: Web3,
    system: Deployment,
    registry_client: RegistryContract,
    council_client: CouncilContract,
    accounts: list[LocalAccount],
) -> None:
    ratings = RatingsContract(w3, system.ratings)
    machine = _machine(w3, registry_client, council_client, ratings, accounts)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
