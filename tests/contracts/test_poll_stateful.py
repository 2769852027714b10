"""Stateful property: an election whose residents vote through every channel in any order
(online ballots signed by themselves, in-person ballots signed by poll officers, a paper box's
totals signed by officers, officers granted and revoked in between, mixed batches with repeats)
agrees with a small Python model on every skip and refusal reason, on who voted, and in the end
on every round and winner of the count."""

from __future__ import annotations

from dataclasses import dataclass

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

from ledger.audit.election_rules import count_ranked
from ledger.deploy import Deployment
from ledger.node import rpc
from ledger.protocol.generated import ElectionSkipReason, PaperBoxSkipReason, PollSkipReason, Roles
from ledger.signing.election_ballots import encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.paper_boxes import PaperBoxesContract
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys

RESIDENTS = 6  # index RESIDENTS is a stranger on no roll
CANDIDATES = 3
OFFICERS = 3  # accounts 6..8; 6 and 7 start as officers, 8 is never granted until a rule does
BOX = (4, 5)  # residents assigned to the election's paper box

rankings = st.lists(st.integers(0, CANDIDATES - 1), min_size=1, max_size=CANDIDATES, unique=True)
ballots = st.tuples(
    st.booleans(), st.integers(0, RESIDENTS), st.integers(0, OFFICERS - 1), rankings
)
box_entries = st.lists(st.tuples(rankings, st.integers(1, 2)), min_size=1, max_size=2)


@dataclass(frozen=True)
class Expected:
    refused: tuple[tuple[str, PollSkipReason], ...]
    cast: tuple[tuple[str, int], ...]
    skipped: tuple[tuple[str, ElectionSkipReason], ...]


def _machine(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> type[RuleBasedStateMachine]:
    registry = RegistryContract(w3, system.registry)
    elections = ElectionsContract(w3, system.elections)
    office = PollOfficeContract(w3, system.poll_office, system.elections)
    boxes = PaperBoxesContract(w3, system.poll_office, system.elections)
    people = signer_keys(RESIDENTS + 1, "poll-stateful")
    officers = accounts[6 : 6 + OFFICERS]
    admin, committee, relayer = accounts[0], accounts[1], accounts[9]

    class PollMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")
            self.voted: dict[int, list[int]] = {}  # resident -> ranking, in the order counted
            self.order: list[int] = []
            self.officer = [True, True, False]
            self.counted = False
            self.box_signers: dict[tuple[tuple[tuple[int, ...], int], ...], int] = {}
            self.paper: list[list[int]] = []  # the box's ballots, once two officers agreed

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        @initialize()
        def election(self) -> None:
            self.cid = registry.create_community(admin, b"\x55" * 32)
            registry.grant_role(admin, self.cid, Roles.REGISTRAR, admin.address)
            registry.grant_role(admin, self.cid, Roles.COMMITTEE, committee.address)
            for k in (0, 1):
                registry.grant_role(admin, self.cid, Roles.POLL_OFFICER, officers[k].address)
            registry.update_roll(admin, self.cid, [p.address for p in people[:RESIDENTS]])
            now = int(w3.eth.get_block("latest")["timestamp"])
            params = ElectionParams(self.cid, candidates(CANDIDATES), now + 60, now + 3600)
            self.eid = elections.open_election(committee, params)
            self.box = boxes.declare(committee, self.eid, "A", [people[w].address for w in BOX])
            rpc(w3, "evm_mine", [now + 60])

        def _judge(self, who: int, seen: set[int]) -> ElectionSkipReason | None:
            if self.counted:
                return ElectionSkipReason.ElectionNotOpen
            if who == RESIDENTS:
                return ElectionSkipReason.NotOnRoll
            if who in BOX:
                return ElectionSkipReason.AssignedToPaperBox
            if who in self.voted or who in seen:
                return ElectionSkipReason.AlreadyVoted
            return None

        def _take(self, who: int, ranking: list[int]) -> None:
            self.voted[who] = ranking
            self.order.append(who)

        @rule(batch=st.lists(ballots, min_size=1, max_size=6))
        def cast_mixed(self, batch: list[tuple[bool, int, int, list[int]]]) -> None:
            """One online batch, then one in-person batch, from the same list of ballots."""
            online = [(who, r) for in_person, who, _, r in batch if not in_person]
            present = [(who, k, r) for in_person, who, k, r in batch if in_person]
            if online:
                seen: set[int] = set()
                cast, skipped = [], []
                signed = []
                for who, r in online:
                    choices = encode_ranking(r)
                    signed.append(elections.sign(people[who], self.eid, choices))
                    reason = self._judge(who, seen)
                    address = people[who].address
                    if reason is None:
                        seen.add(who)
                        cast.append((address, choices))
                    else:
                        skipped.append((address, reason))
                got = elections.cast_ballots(relayer, self.eid, signed)
                assert (got.cast, got.skipped) == (tuple(cast), tuple(skipped))
                for who, r in online:
                    if who in seen and who not in self.voted:
                        self._take(who, r)
            if present:
                self._in_person(present)

        def _in_person(self, present: list[tuple[int, int, list[int]]]) -> None:
            refused, cast, skipped, signed = [], [], [], []
            seen: set[int] = set()
            taken: list[tuple[int, list[int]]] = []
            for who, k, r in present:
                choices = encode_ranking(r)
                address = people[who].address
                signed.append(office.sign(officers[k], self.eid, address, choices))
                if not self.officer[k]:
                    refused.append((address, PollSkipReason.NotPollOfficer))
                    continue
                reason = self._judge(who, seen)
                if reason is None:
                    seen.add(who)
                    cast.append((address, choices))
                    taken.append((who, r))
                else:
                    skipped.append((address, reason))
            got = office.cast(relayer, self.eid, signed)
            assert (got.refused, got.cast, got.skipped) == (
                tuple(refused),
                tuple(cast),
                tuple(skipped),
            )
            for who, r in taken:
                self._take(who, r)

        @rule(k=st.integers(0, OFFICERS - 1), entries=box_entries)
        def sign_box(self, k: int, entries: list[tuple[list[int], int]]) -> None:
            """One officer's totals of the paper box; the second officer's same ones count."""
            key = tuple((tuple(r), n) for r, n in entries)
            officer = officers[k].address
            reason = None
            if self.paper:
                reason = PaperBoxSkipReason.BoxAlreadyCounted
            elif self.counted:
                reason = PaperBoxSkipReason.VotingNotOpen
            elif not self.officer[k]:
                reason = PaperBoxSkipReason.NotPollOfficer
            elif sum(n for _, n in entries) > len(BOX):
                reason = PaperBoxSkipReason.OverAssigned
            elif self.box_signers.get(key) == k:
                reason = PaperBoxSkipReason.SameOfficerTwice
            signed = boxes.sign(officers[k], self.box, [(encode_ranking(r), n) for r, n in entries])
            got = boxes.submit(relayer, self.box, [signed])
            if reason is not None:
                assert (got.refused, got.signed) == (((officer, reason),), ())
                return
            assert (got.refused, got.signed) == ((), (officer,))
            if key not in self.box_signers:
                self.box_signers[key] = k
                assert got.counted is None
                return
            self.paper = [r for r, n in entries for _ in range(n)]
            assert got.counted == len(self.paper)

        @rule(k=st.integers(0, OFFICERS - 1))
        def toggle_officer(self, k: int) -> None:
            if self.officer[k]:
                registry.revoke_role(admin, self.cid, Roles.POLL_OFFICER, officers[k].address)
            else:
                registry.grant_role(admin, self.cid, Roles.POLL_OFFICER, officers[k].address)
            self.officer[k] = not self.officer[k]

        @precondition(lambda self: not self.counted)
        @rule()
        def close_and_count(self) -> None:
            rpc(w3, "evm_increaseTime", [3601])
            rpc(w3, "evm_mine")
            record = elections.count(relayer, self.eid)
            self.counted = True
            stored = [self.voted[who] for who in self.order] + self.paper
            expected = count_ranked(stored, CANDIDATES, 1)
            assert record.winners == tuple(expected.winners)
            assert [list(r["tally"]) for r in record.rounds] == [
                list(r.tally) for r in expected.rounds
            ]

        @invariant()
        def who_voted_is_the_model(self) -> None:
            if not hasattr(self, "eid"):
                return
            chain = elections.contract.functions
            for who in range(RESIDENTS):
                assert chain.hasVoted(self.eid, people[who].address).call() == (who in self.voted)
            assert elections.election(self.eid).ballotCount == len(self.voted) + len(self.paper)

    return PollMachine


@pytest.mark.slow
def test_an_election_with_both_channels_mixed_agrees_with_the_model(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> None:
    run_state_machine_as_test(
        _machine(w3, system, accounts),
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
