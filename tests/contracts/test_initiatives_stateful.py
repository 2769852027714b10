"""Stateful property: over random rules, roll changes, submissions, relayed co-signature batches
(good and bad), and time, the chain agrees with a small Python model of the initiative state
machine (Collecting → Promoted at the threshold, or → Expired at the window's end) on every
refusal, every skip reason, every count and every promotion."""

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
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.protocol.generated import CoSignatureSkipReason, InitiativeRules, InitiativeState, Roles
from ledger.signing.eip712 import to_compact
from tests.contract_wrappers.initiatives import InitiativesContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys

PEOPLE = 6  # residents come and go among these
WINDOW = 600
Skip = CoSignatureSkipReason


@dataclass
class ModelInitiative:
    iid: int
    electorate: frozenset[int]
    needed: int
    closes_at: int
    signed: set[int] = field(default_factory=set)
    promoted: bool = False

    def state(self, now: int) -> InitiativeState:
        if self.promoted:
            return InitiativeState.Promoted
        return InitiativeState.Collecting if now < self.closes_at else InitiativeState.Expired


def _machine(
    w3: Web3,
    registry: RegistryContract,
    initiatives: InitiativesContract,
    accounts: list[LocalAccount],
) -> type[RuleBasedStateMachine]:
    people = signer_keys(PEOPLE, "initiatives-stateful")
    admin, relayer = accounts[0], accounts[9]
    authors = accounts[1:4]  # funded residents who submit; always on the roll

    class InitiativesMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")
            self.on_roll: set[int] = set()
            self.joins = dict.fromkeys(range(PEOPLE), 0)
            self.threshold_bps = 0
            self.items: list[ModelInitiative] = []

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        def now(self) -> int:
            return int(w3.eth.get_block("latest")["timestamp"])

        @initialize()
        def community(self) -> None:
            self.cid = registry.create_community(admin, b"\x78" * 32)
            registry.grant_role(admin, self.cid, Roles.REGISTRAR, admin.address)
            initial = [a.address for a in authors] + [p.address for p in people[:3]]
            registry.update_roll(admin, self.cid, initial)
            self.on_roll = {0, 1, 2}
            for person in self.on_roll:
                self.joins[person] = 1

        def roll_size(self) -> int:
            return len(authors) + len(self.on_roll)

        @rule(bps=st.sampled_from([1, 2500, 3334, 5000, 10_000]))
        def set_rules(self, bps: int) -> None:
            rules = InitiativeRules(bps, WINDOW, 3600, 0, 5000)
            initiatives.set_rules(admin, self.cid, rules)
            self.threshold_bps = bps

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

        @rule(author=st.integers(0, len(authors) - 1))
        def submit(self, author: int) -> None:
            if self.threshold_bps == 0:
                with pytest.raises(ContractRuleBroken, match=r"^InitiativesNotEnabled\("):
                    initiatives.submit(authors[author], self.cid)
                return
            iid = initiatives.submit(authors[author], self.cid)
            needed = max(1, -(-self.threshold_bps * self.roll_size() // 10_000))
            closes_at = self.now() + WINDOW
            self.items.append(ModelInitiative(iid, frozenset(self.on_roll), needed, closes_at))

        @precondition(lambda self: bool(self.items))
        @rule(
            data=st.data(),
            batch=st.lists(
                st.tuples(st.integers(0, PEOPLE - 1), st.sampled_from(["good", "forged"])),
                min_size=1,
                max_size=5,
            ),
        )
        def co_sign(self, data: st.DataObject, batch: list[tuple[int, str]]) -> None:
            item = data.draw(st.sampled_from(self.items))
            args = []
            for person, kind in batch:
                signed = initiatives.sign(people[person], item.iid)
                if kind == "forged":  # another resident's signature naming this one
                    other = initiatives.sign(people[(person + 1) % PEOPLE], item.iid)
                    args.append((signed.signer, *to_compact(other.signature)))
                else:
                    args.append(signed.call_arg())
            result = initiatives.co_sign(relayer, item.iid, args)
            # The batch's block is one second past the last: judge at its timestamp.
            stamp = int(w3.eth.get_block(result.receipt["blockNumber"])["timestamp"])
            collecting = item.state(stamp) == InitiativeState.Collecting
            expected_skips = []
            expected_counted = []
            for person, kind in batch:
                address = people[person].address
                if not collecting:
                    expected_skips.append((address, Skip.InitiativeNotCollecting))
                elif kind == "forged":
                    expected_skips.append((address, Skip.BadSignature))
                elif person not in item.electorate:
                    expected_skips.append((address, Skip.NotOnRoll))
                elif person in item.signed:
                    expected_skips.append((address, Skip.AlreadyCoSigned))
                else:
                    item.signed.add(person)
                    expected_counted.append(address)
            assert result.skipped == tuple(expected_skips)
            assert result.cosigned == tuple(expected_counted)
            reaches = collecting and expected_counted and len(item.signed) >= item.needed
            assert (result.promoted_to is not None) == bool(reaches)
            if reaches:
                item.promoted = True

        @rule(seconds=st.sampled_from([60, WINDOW // 2, WINDOW]))
        def advance(self, seconds: int) -> None:
            rpc(w3, "evm_increaseTime", [seconds])
            rpc(w3, "evm_mine")

        @invariant()
        def chain_agrees(self) -> None:
            now = self.now()
            for item in self.items:
                view = initiatives.get(item.iid)
                assert view.coSignatures == len(item.signed)
                assert view.needed == item.needed
                assert view.state == item.state(now)
                assert (view.proposalId != 0) == item.promoted

    return InitiativesMachine


@pytest.mark.slow
def test_chain_agrees_with_the_initiative_model_over_random_histories(
    w3: Web3, system: Deployment, registry_client: RegistryContract, accounts: list[LocalAccount]
) -> None:
    machine = _machine(w3, registry_client, InitiativesContract(w3, system.initiatives), accounts)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
