"""Council proxy ballots: counted only with a live mandate for this proposal, every rule both ways;
the resident's own ballot overrides a proxy ballot (before or after, direct or relayed); results
count ballots by proxy; and a stateful model mixing own and proxy ballots whose tally the chain
always matches."""

from __future__ import annotations

from collections.abc import Callable

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
from web3.logs import DISCARD

from ledger.deploy import Deployment
from ledger.node import rpc
from ledger.protocol.generated import MandateScope
from ledger.tx import send
from tests.contract_wrappers.council import CouncilContract
from tests.contracts.conftest import Clock, Hall
from tests.contracts.mandates_support import Proxies

YES, NO, ABSTAIN = 0, 1, 2
OpenProposal = Callable[..., int]


@pytest.fixture
def proxies(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> Proxies:
    return Proxies(w3, system.mandates, system.council, accounts[8])


def test_proxy_ballot_counts_for_the_resident(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, resident.address, proxy, NO) == "cast"
    assert proxies.tally(pid) == [0, 1, 0]
    assert proxies.by_proxy(pid) == 1
    assert proxies.council.functions.hasVoted(pid, resident.address).call()
    record = proxies.council.functions.proxyBallotOf(pid, resident.address).call()
    assert tuple(record) == (proxy.address, NO, False)


def test_proxy_ballot_without_a_mandate_is_skipped(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, hall.signers[0].address, hall.signers[1], YES) == "NoMandate"
    assert proxies.tally(pid) == [0, 0, 0]


def test_mandate_for_one_proposal_is_not_usable_on_another(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    first, second = open_hall_proposal(), open_hall_proposal()
    proxies.appoint_one(
        hall.id, resident, proxy.address, scope=MandateScope.Proposal, vote_id=first
    )
    assert proxies.cast_one(second, resident.address, proxy, YES) == "NoMandate"
    assert proxies.cast_one(first, resident.address, proxy, YES) == "cast"


def test_mandate_for_an_election_is_not_usable_on_a_proposal(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    pid = open_hall_proposal()
    proxies.appoint_one(hall.id, resident, proxy.address, scope=MandateScope.Election, vote_id=pid)
    assert proxies.cast_one(pid, resident.address, proxy, YES) == "NoMandate"


def test_revoked_proxy_ballot_is_skipped(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    proxies.revoke_one(hall.id, resident)
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, resident.address, proxy, YES) == "NoMandate"


def test_mandate_does_not_pass_on_to_the_proxys_proxy(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy, proxys_proxy = hall.signers[0], hall.signers[1], hall.signers[2]
    proxies.appoint_one(hall.id, resident, proxy.address)
    proxies.appoint_one(hall.id, proxy, proxys_proxy.address)
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, resident.address, proxys_proxy, YES) == "NoMandate"
    # ...while the proxy's own proxy may vote for the proxy.
    assert proxies.cast_one(pid, proxy.address, proxys_proxy, YES) == "cast"


def test_proxy_ballot_signed_by_someone_else_is_skipped(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    arg = proxies.proxy_ballot_arg(pid, resident.address, proxy, YES, signer=hall.signers[2])
    assert proxies.proxy_outcomes(proxies.cast(pid, [arg])) == ["BadSignature"]


def test_proxy_ballot_for_a_resident_not_on_the_snapshot_is_skipped(
    proxies: Proxies,
    hall: Hall,
    open_hall_proposal: OpenProposal,
) -> None:
    # The stranger holds no mandate, but the roll is checked first.
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, hall.stranger.address, hall.signers[1], YES) == "NotOnRoll"


def test_proxy_leaving_the_roll_before_the_proposal_cannot_vote(
    w3: Web3, system: Deployment, proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    send(w3, hall.admin, system.registry.functions.updateRoll(hall.id, [], [proxy.address], True))
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, resident.address, proxy, YES) == "ProxyNotOnRoll"


def test_proxy_ballot_after_the_residents_own_is_skipped(
    w3: Web3,
    council_client: CouncilContract,
    proxies: Proxies,
    hall: Hall,
    open_hall_proposal: OpenProposal,
) -> None:
    resident, proxy = hall.voters[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    send(w3, resident, proxies.council.functions.castVote(pid, YES))
    assert proxies.cast_one(pid, resident.address, proxy, NO) == "VotedThemself"
    assert proxies.tally(pid) == [1, 0, 0]
    assert proxies.by_proxy(pid) == 0


def test_second_proxy_ballot_for_the_same_resident_is_skipped(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    proxies.cast_one(pid, resident.address, proxy, YES)
    assert proxies.cast_one(pid, resident.address, proxy, NO) == "AlreadyVotedByProxy"
    assert proxies.tally(pid) == [1, 0, 0]


def test_residents_direct_vote_overrides_the_proxy_ballot(
    w3: Web3, proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.voters[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    proxies.cast_one(pid, resident.address, proxy, NO)
    receipt = send(w3, resident, proxies.council.functions.castVote(pid, YES))
    (overridden,) = proxies.council.events.ProxyBallotOverridden().process_receipt(
        receipt, errors=DISCARD
    )
    assert (overridden["args"]["proxy"], overridden["args"]["proxyOption"]) == (proxy.address, NO)
    assert proxies.tally(pid) == [1, 0, 0]
    assert proxies.by_proxy(pid) == 0
    record = proxies.council.functions.proxyBallotOf(pid, resident.address).call()
    assert tuple(record) == (proxy.address, NO, True)


def test_residents_relayed_ballot_overrides_the_proxy_ballot_once(
    council_client: CouncilContract,
    proxies: Proxies,
    hall: Hall,
    open_hall_proposal: OpenProposal,
) -> None:
    resident, proxy, other = hall.signers[0], hall.signers[1], hall.signers[2]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    proxies.cast_one(pid, resident.address, proxy, NO)
    own = council_client.sign_ballot(resident, pid, ABSTAIN)
    result = council_client.cast_ballots(
        proxies.relayer, pid, [own, council_client.sign_ballot(other, pid, YES), own]
    )
    assert [(c.voter, c.option) for c in result.cast] == [
        (resident.address, ABSTAIN),
        (other.address, YES),
    ]
    assert [s.voter for s in result.skipped] == [resident.address]  # the replay: AlreadyVoted
    assert proxies.tally(pid) == [1, 0, 1]
    assert proxies.by_proxy(pid) == 0
    assert proxies.cast_one(pid, resident.address, proxy, NO) == "VotedThemself"


def test_proxy_over_the_limit_on_one_proposal_is_skipped(
    w3: Web3, proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    proxy = hall.signers[0]
    a, b, c = hall.signers[1], hall.signers[2], hall.signers[3]
    proxies.appoint_one(hall.id, a, proxy.address)
    proxies.appoint_one(hall.id, b, proxy.address)
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, a.address, proxy, YES) == "cast"
    # a takes the mandate back and c gives one: the proxy holds two again, but has used one here.
    proxies.revoke_one(hall.id, a)
    proxies.appoint_one(hall.id, c, proxy.address)
    assert proxies.cast_one(pid, b.address, proxy, YES) == "cast"
    assert proxies.cast_one(pid, c.address, proxy, YES) == "ProxyOverLimit"
    assert proxies.by_proxy(pid) == 2


def test_lowered_limit_applies_at_the_ballot(
    w3: Web3, proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    proxy = hall.signers[0]
    for resident in hall.signers[1:3]:
        proxies.appoint_one(hall.id, resident, proxy.address)
    send(w3, hall.admin, proxies.mandates.functions.setProxyLimit(hall.id, 1))
    pid = open_hall_proposal()
    args = [proxies.proxy_ballot_arg(pid, r.address, proxy, YES) for r in hall.signers[1:3]]
    assert proxies.proxy_outcomes(proxies.cast(pid, args)) == ["cast", "ProxyOverLimit"]


def test_proxy_ballots_after_closing_are_skipped(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    clock.advance(3601)
    assert proxies.cast_one(pid, resident.address, proxy, YES) == "ProposalNotOpen"


def test_invalid_option_proxy_ballot_is_skipped(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    assert proxies.cast_one(pid, resident.address, proxy, 3) == "InvalidOption"


def test_results_count_ballots_by_proxy_at_finalization(
    w3: Web3, proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> None:
    proxy = hall.voters[0]
    for resident in hall.signers[0:2]:
        proxies.appoint_one(hall.id, resident, proxy.address)
    pid = open_hall_proposal()
    args = [proxies.proxy_ballot_arg(pid, r.address, proxy, YES) for r in hall.signers[0:2]]
    proxies.cast(pid, args)
    send(w3, proxy, proxies.council.functions.castVote(pid, NO))
    clock.advance(3601)
    send(w3, hall.admin, proxies.council.functions.finalize(pid))
    view = proxies.council.functions.getProposal(pid).call()
    assert list(view.tally) == [2, 1, 0]
    assert proxies.by_proxy(pid) == 2


# ---------------------------------------------------------------- stateful model


class ProxyVoting(RuleBasedStateMachine):
    """Residents vote themselves (direct or relayed) or through proxies, in any order; the model
    keeps who counts how, and the chain's tally and proxy count must always equal it."""

    w3: Web3
    system: Deployment
    hall: Hall
    relayer: LocalAccount
    open_proposal: OpenProposal

    def __init__(self) -> None:
        super().__init__()
        self.snapshot = rpc(self.w3, "evm_snapshot")

    def teardown(self) -> None:
        rpc(self.w3, "evm_revert", [self.snapshot])

    @initialize()
    def start(self) -> None:
        self.proxies = Proxies(self.w3, self.system.mandates, self.system.council, self.relayer)
        self.council = CouncilContract(self.w3, self.system.council)
        self.residents = list(self.hall.signers)
        self.pid = self.open_proposal()
        self.mandate: dict[str, str] = {}  # resident -> proxy
        self.own: dict[str, int] = {}
        self.by_proxy: dict[str, tuple[str, int]] = {}
        self.used: dict[str, int] = {}  # proxy -> proxy ballots counted here

    @rule(r=st.integers(0, 4), p=st.integers(0, 4))
    def appoint(self, r: int, p: int) -> None:
        resident, proxy = self.residents[r], self.residents[p]
        outcome = self.proxies.appoint_one(self.hall.id, resident, proxy.address)
        held = sum(
            1 for k, v in self.mandate.items() if v == proxy.address and k != resident.address
        )
        expected = "SelfProxy" if r == p else ("ProxyOverLimit" if held >= 2 else "appointed")
        assert outcome == expected
        if expected == "appointed":
            self.mandate[resident.address] = proxy.address

    @rule(r=st.integers(0, 4))
    def revoke(self, r: int) -> None:
        resident = self.residents[r]
        outcome = self.proxies.revoke_one(self.hall.id, resident)
        assert outcome == ("revoked" if resident.address in self.mandate else "NoMandate")
        self.mandate.pop(resident.address, None)

    @rule(r=st.integers(0, 4), p=st.integers(0, 4), option=st.integers(0, 2))
    def proxy_votes(self, r: int, p: int, option: int) -> None:
        voter, proxy = self.residents[r].address, self.residents[p]
        outcome = self.proxies.cast_one(self.pid, voter, proxy, option)
        if self.mandate.get(voter) != proxy.address:
            expected = "NoMandate"
        elif voter in self.own:
            expected = "VotedThemself"
        elif voter in self.by_proxy:
            expected = "AlreadyVotedByProxy"
        elif self.used.get(proxy.address, 0) >= 2:
            expected = "ProxyOverLimit"
        else:
            expected = "cast"
            self.by_proxy[voter] = (proxy.address, option)
            self.used[proxy.address] = self.used.get(proxy.address, 0) + 1
        assert outcome == expected

    @rule(r=st.integers(0, 4), option=st.integers(0, 2))
    def resident_votes(self, r: int, option: int) -> None:
        resident = self.residents[r]
        result = self.council.cast_ballots(
            self.relayer, self.pid, [self.council.sign_ballot(resident, self.pid, option)]
        )
        if resident.address in self.own:
            assert not result.cast
            return
        assert [c.option for c in result.cast] == [option]
        self.own[resident.address] = option
        self.by_proxy.pop(resident.address, None)

    @invariant()
    def tally_matches_the_model(self) -> None:
        if not hasattr(self, "pid"):
            return
        expected = [0, 0, 0]
        for option in self.own.values():
            expected[option] += 1
        for _, option in self.by_proxy.values():
            expected[option] += 1
        assert self.proxies.tally(self.pid) == expected
        assert self.proxies.by_proxy(self.pid) == len(self.by_proxy)


@pytest.mark.slow
def test_tally_always_equals_the_model_of_own_and_proxy_ballots(
    w3: Web3,
    system: Deployment,
    hall: Hall,
    accounts: list[LocalAccount],
    open_hall_proposal: OpenProposal,
) -> None:
    machine = type(
        "ProxyVotingHere",
        (ProxyVoting,),
        {
            "w3": w3,
            "system": system,
            "hall": hall,
            "relayer": accounts[8],
            "open_proposal": staticmethod(open_hall_proposal),
        },
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )


def test_batches_stay_within_the_relays_gas_bounds(
    proxies: Proxies, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    """The relay packs batches by base + n * bound (ledger/relay/mandates.py): measured here."""
    from ledger.config import Settings
    from ledger.relay.mandates import MANDATE_GAS, PROXY_BALLOT_GAS

    base = Settings().relay_batch_base_gas
    s = hall.signers
    proxies.appoint_one(hall.id, s[0], s[1].address)
    replacing = proxies.appoint(proxies.mandate_arg(hall.id, s[0], s[3].address))
    three = proxies.appoint(
        proxies.mandate_arg(hall.id, s[1], s[3].address),
        proxies.mandate_arg(hall.id, s[2], s[4].address),
        proxies.mandate_arg(hall.id, s[4], s[2].address),
    )
    assert replacing["gasUsed"] <= base + MANDATE_GAS
    assert three["gasUsed"] <= base + 3 * MANDATE_GAS
    first, second = open_hall_proposal(), open_hall_proposal()
    one = proxies.cast(first, [proxies.proxy_ballot_arg(first, s[0].address, s[3], YES)])
    pairs = [(s[0], s[3]), (s[1], s[3]), (s[2], s[4])]
    batch = proxies.cast(
        second, [proxies.proxy_ballot_arg(second, v.address, p, NO) for v, p in pairs]
    )
    assert proxies.proxy_outcomes(batch) == ["cast"] * 3
    assert one["gasUsed"] <= base + PROXY_BALLOT_GAS
    assert batch["gasUsed"] <= base + 3 * PROXY_BALLOT_GAS
    print(
        f"gas: replacing appointment {replacing['gasUsed']}, three {three['gasUsed']}; "
        f"one proxy ballot {one['gasUsed']}, three {batch['gasUsed']}"
    )
