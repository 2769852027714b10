"""Stateful property: an election whose residents vote through every channel in any order
(their own online ballot, an in-person ballot by a poll officer, a proxy's ballot, mandates
revoked in between) agrees with a small Python model on every outcome, on the stored ballots
(a proxy ballot replaced in place by the resident's own), on the ballots cast by proxy, and in
the end on every round and winner of the count."""

from __future__ import annotations

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
from ledger.protocol.generated import ElectionSkipReason, MandateScope, Roles
from ledger.signing.election_ballots import encode_ranking
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import signer_keys
from tests.contracts.election_proxies_support import ElectionProxies
from tests.contracts.mandates_support import Proxies

RESIDENTS = 6
PROXIES = (4, 5)  # residents who hold mandates
CANDIDATES = 3
MASK = (1 << (4 * CANDIDATES)) - 1  # what Elections stores of a ranking

rankings = st.lists(st.integers(0, CANDIDATES - 1), min_size=1, max_size=CANDIDATES, unique=True)
voters = st.integers(0, RESIDENTS - 1)


def _machine(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> type[RuleBasedStateMachine]:
    registry = RegistryContract(w3, system.registry)
    elections = ElectionsContract(w3, system.elections)
    office = PollOfficeContract(w3, system.poll_office, system.elections)
    people = signer_keys(RESIDENTS, "election-proxies-stateful")
    admin, committee, officer, relayer = accounts[0], accounts[1], accounts[6], accounts[9]
    mandates = Proxies(w3, system.mandates, system.council, relayer)
    eproxies = ElectionProxies(w3, system.election_proxies, system.elections, relayer)

    class ChannelsMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")
            self.stored: list[int] = []  # choices, in store order
            self.ranked: list[list[int]] = []  # the same ballots as rankings, for the recount
            self.position: dict[int, int] = {}  # voter -> their ballot's place in `stored`
            self.proxied: dict[int, int] = {}  # voter -> proxy, for a live proxy ballot
            self.mandate: dict[int, int] = {}  # voter -> proxy
            self.used = {p: 0 for p in PROXIES}
            self.counted = False

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        @initialize()
        def election(self) -> None:
            self.cid = registry.create_community(admin, b"\x66" * 32)
            registry.grant_role(admin, self.cid, Roles.REGISTRAR, admin.address)
            registry.grant_role(admin, self.cid, Roles.COMMITTEE, committee.address)
            registry.grant_role(admin, self.cid, Roles.POLL_OFFICER, officer.address)
            registry.update_roll(admin, self.cid, [p.address for p in people])
            now = int(w3.eth.get_block("latest")["timestamp"])
            params = ElectionParams(self.cid, candidates(CANDIDATES), now, now + 3600)
            self.eid = elections.open_election(committee, params)
            # Two for every vote, one for this election only: both scopes reach it.
            plan = [(0, 5, MandateScope.AllVotes, 0), (1, 5, MandateScope.AllVotes, 0)]
            plan.append((2, 4, MandateScope.Election, self.eid))
            for voter, proxy, scope, vote in plan:
                outcome = mandates.appoint_one(
                    self.cid, people[voter], people[proxy].address, scope=scope, vote_id=vote
                )
                assert outcome == "appointed"
                self.mandate[voter] = proxy

        def _store(self, who: int, ranking: list[int]) -> None:
            if who not in self.position:
                self.position[who] = len(self.stored)
                self.stored.append(0)
                self.ranked.append([])
            self.stored[self.position[who]] = encode_ranking(ranking) & MASK
            self.ranked[self.position[who]] = ranking

        def _own(self, who: int, ranking: list[int]) -> bool:
            """The model takes the voter's own ballot; False if it is skipped."""
            if who in self.position and who not in self.proxied:
                return False
            self.proxied.pop(who, None)
            self._store(who, ranking)
            return True

        @precondition(lambda self: not self.counted)
        @rule(who=voters, ranking=rankings, in_person=st.booleans())
        def own_ballot(self, who: int, ranking: list[int], in_person: bool) -> None:
            choices = encode_ranking(ranking)
            address = people[who].address
            if in_person:
                got = office.cast(
                    relayer, self.eid, [office.sign(officer, self.eid, address, choices)]
                )
                cast, skipped = got.cast, got.skipped
            else:
                batch = elections.cast_ballots(
                    relayer, self.eid, [elections.sign(people[who], self.eid, choices)]
                )
                cast, skipped = batch.cast, batch.skipped
            if self._own(who, ranking):
                assert (cast, skipped) == (((address, choices),), ())
            else:
                assert (cast, skipped) == ((), ((address, ElectionSkipReason.AlreadyVoted),))

        @precondition(lambda self: not self.counted)
        @rule(who=voters, proxy=st.sampled_from(PROXIES), ranking=rankings)
        def proxy_ballot(self, who: int, proxy: int, ranking: list[int]) -> None:
            choices = encode_ranking(ranking)
            got = eproxies.cast_one(self.eid, people[who].address, people[proxy], choices)
            if self.mandate.get(who) != proxy:
                expected = "NoMandate"
            elif who in self.position:
                expected = "AlreadyVotedByProxy" if who in self.proxied else "VotedThemself"
            elif self.used[proxy] >= 2:
                expected = "ProxyOverLimit"
            else:
                expected = "cast"
                self._store(who, ranking)
                self.proxied[who] = proxy
                self.used[proxy] += 1
            assert got == expected

        @rule(who=st.sampled_from((0, 1, 2)))
        def revoke(self, who: int) -> None:
            outcome = mandates.revoke_one(self.cid, people[who])
            assert outcome == ("revoked" if who in self.mandate else "NoMandate")
            self.mandate.pop(who, None)

        @precondition(lambda self: not self.counted and self.stored)
        @rule()
        def close_and_count(self) -> None:
            rpc(w3, "evm_increaseTime", [3601])
            rpc(w3, "evm_mine")
            record = elections.count(relayer, self.eid)
            self.counted = True
            expected = count_ranked(self.ranked, CANDIDATES, 1)
            assert record.winners == tuple(expected.winners)
            assert [list(r["tally"]) for r in record.rounds] == [
                list(r.tally) for r in expected.rounds
            ]

        @invariant()
        def the_chain_holds_the_model(self) -> None:
            if not hasattr(self, "eid") or self.counted:
                return
            assert eproxies.stored(self.eid) == self.stored
            assert eproxies.by_proxy(self.eid) == len(self.proxied)
            for who in range(RESIDENTS):
                proxy, _ = eproxies.proxy_ballot_of(self.eid, people[who].address)
                wanted = self.proxied.get(who)
                assert proxy == (people[wanted].address if wanted is not None else "0x" + "0" * 40)

    return ChannelsMachine


@pytest.mark.slow
def test_an_election_with_every_channel_mixed_agrees_with_the_model(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> None:
    run_state_machine_as_test(
        _machine(w3, system, accounts),
        settings=settings(
            max_examples=6,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
