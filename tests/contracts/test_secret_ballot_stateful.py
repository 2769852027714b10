"""Stateful property: over random steps of a 2-of-3 secret vote (keys, deals, complaints, honest
and wrong answers, closing the key generation, ballots and replays, partial decryptions,
finalize) taken in any phase, and time moving phase by phase, the chain agrees with a small
Python model of the vote's state machine on every refusal, every skip, the qualified trustees,
the ballot count (hidden before the close) and who voted."""

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
from ledger.protocol.generated import Roles, SecretSkipReason, SecretVoteState
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    ANSWERS,
    CHALLENGES,
    COMPLAINTS,
    DEALS,
    KEYS,
    VOTING,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.contracts.conftest import signer_keys

VOTERS = 4
State = SecretVoteState
Skip = SecretSkipReason
# Where each window's middle lies, from the opening: time moves from one to the next.
MIDDLES = (
    (KEYS + DEALS) // 2,
    (DEALS + COMPLAINTS) // 2,
    (COMPLAINTS + ANSWERS) // 2,
    ANSWERS + VOTING // 2,
    ANSWERS + VOTING + CHALLENGES // 2,
    ANSWERS + VOTING + CHALLENGES + 300,
)


@dataclass
class ModelVote:
    start: int
    keys: set[int] = field(default_factory=set)
    dealt: set[int] = field(default_factory=set)
    complaints: set[tuple[int, int]] = field(default_factory=set)  # (dealer, accuser)
    answered: set[tuple[int, int]] = field(default_factory=set)
    bad: set[int] = field(default_factory=set)
    key: str = "pending"  # fixed, failed
    qualified: list[int] = field(default_factory=list)
    voted: set[int] = field(default_factory=set)
    published: set[int] = field(default_factory=set)
    finalized: bool = False

    def state(self, now: int) -> State:
        if self.finalized:
            return State.Finalized
        if self.key == "failed":
            return State.KeyFailed
        t = now - self.start
        if self.key == "pending":
            for bound, state in (
                (KEYS, State.Keys),
                (DEALS, State.Dealing),
                (COMPLAINTS, State.Complaints),
                (ANSWERS, State.Answers),
            ):
                if t < bound:
                    return state
            return State.KeyPending
        if t < ANSWERS + VOTING:
            return State.Open
        if t < ANSWERS + VOTING + CHALLENGES:
            return State.Challenges
        return State.Decryption

    def qualify(self) -> list[int]:
        return [
            k
            for k in (1, 2, 3)
            if k in self.keys
            and k in self.dealt
            and k not in self.bad
            and all(c in self.answered for c in self.complaints if c[0] == k)
        ]


def _machine(
    w3: Web3,
    registry: RegistryContract,
    secret: SecretBallotContract,
    accounts: list[LocalAccount],
) -> type[RuleBasedStateMachine]:
    voters = signer_keys(VOTERS, "secret-stateful")
    admin, committee, relayer = accounts[0], accounts[1], accounts[9]

    class SecretVoteMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        def now(self) -> int:
            return int(w3.eth.get_block("latest")["timestamp"])

        def expect(self, call: object, refusal: str | None) -> None:
            """Runs the call: it must succeed if `refusal` is None, else be refused with it."""
            if refusal is None:
                call()  # type: ignore[operator]
                return
            with pytest.raises(ContractRuleBroken) as broken:
                call()  # type: ignore[operator]
            assert broken.value.error == refusal

        @initialize()
        def opened(self) -> None:
            cid = registry.create_community(admin, b"\x5a" * 32)
            registry.grant_role(admin, cid, Roles.REGISTRAR, admin.address)
            registry.grant_role(admin, cid, Roles.COMMITTEE, committee.address)
            registry.update_roll(admin, cid, [v.address for v in voters])
            self.trustees = [Trustee(k, accounts[4 + k], 2) for k in (1, 2, 3)]
            start = self.now()
            params = SecretVoteParams(
                cid, tuple(t.account.address for t in self.trustees), 2, start
            )
            self.vid = secret.open_vote(committee, params)
            self.model = ModelVote(start)
            self.phase = 0

        def state(self) -> State:
            return self.model.state(self.now())

        @rule(diligent=st.sets(st.integers(1, 3)))
        def next_phase(self, diligent: set[int]) -> None:
            """The `diligent` trustees take the phase's own step if they have not (while ballots
            are open, voter k votes for option k - 1), then time moves to the middle of the next
            window (closing the key generation on the way)."""
            m, state = self.model, self.state()
            for k in sorted(diligent):
                if state == State.Keys and k not in m.keys:
                    self.register(k)
                elif state == State.Dealing and k in m.keys and k not in m.dealt:
                    self.deal(k)
                elif state == State.Open:
                    self.cast(k, k - 1)
                elif state == State.Decryption and k in m.qualified and k not in m.published:
                    self.publish(k)
            if self.phase < len(MIDDLES):
                target = m.start + MIDDLES[self.phase]
                self.phase += 1
                if target > self.now():
                    rpc(w3, "evm_increaseTime", [target - self.now()])
                    rpc(w3, "evm_mine")
            if self.state() == State.KeyPending:
                self.close()

        def register(self, k: int) -> None:
            m, t = self.model, self.trustees[k - 1]
            refusal = None
            if self.state() != State.Keys:
                refusal = "WrongPhase"
            elif k in m.keys:
                refusal = "AlreadyDone"
            self.expect(lambda: secret.register_key(self.vid, t), refusal)
            if refusal is None:
                m.keys.add(k)

        def deal(self, k: int) -> None:
            m, t = self.model, self.trustees[k - 1]
            refusal = None
            if self.state() != State.Dealing:
                refusal = "WrongPhase"
            elif k not in m.keys:
                refusal = "NoCommunicationKey"
            elif k in m.dealt:
                refusal = "AlreadyDone"
            keys = {j: self.trustees[j - 1].key for j in m.keys}
            self.expect(lambda: secret.deal(self.vid, t, keys, 3), refusal)
            if refusal is None:
                m.dealt.add(k)

        def complain(self, accuser: int, dealer: int) -> None:
            m = self.model
            refusal = None
            if self.state() != State.Complaints:
                refusal = "WrongPhase"
            elif dealer == accuser or dealer not in m.dealt:
                refusal = "InvalidComplaint"
            elif (dealer, accuser) in m.complaints:
                refusal = "AlreadyDone"
            call = secret.contract.functions.complain(self.vid, dealer)
            sender = self.trustees[accuser - 1].account
            self.expect(lambda: secret.send(sender, call), refusal)
            if refusal is None:
                m.complaints.add((dealer, accuser))

        def answer(self, dealer: int, accuser: int, honest: bool) -> None:
            m, t = self.model, self.trustees[dealer - 1]
            refusal = None
            if self.state() != State.Answers:
                refusal = "WrongPhase"
            elif (dealer, accuser) not in m.complaints or (dealer, accuser) in m.answered:
                refusal = "NoComplaint"
            share = t.dealer.share_for(accuser) + (0 if honest else 1)
            call = secret.contract.functions.answer(self.vid, accuser, share)
            self.expect(lambda: secret.send(t.account, call), refusal)
            if refusal is None:
                m.answered.add((dealer, accuser))
                if not honest:
                    m.bad.add(dealer)

        def close(self) -> None:
            m = self.model
            refusal = None if self.state() == State.KeyPending else "WrongPhase"
            call = secret.contract.functions.closeKeyGeneration(self.vid)
            self.expect(lambda: secret.send(relayer, call), refusal)
            if refusal is None:
                m.qualified = m.qualify()
                m.key = "fixed" if len(m.qualified) >= 2 else "failed"
                if m.key == "fixed":
                    assert secret.qualified(self.vid) == m.qualified
                    # The shares each qualified trustee holds (their delivery is not modelled).
                    for t in self.trustees:
                        for i in m.qualified:
                            t.received[i] = self.trustees[i - 1].dealer.share_for(t.number)

        def cast(self, voter: int, choice: int) -> None:
            m, person = self.model, voters[voter]
            if m.key == "fixed":
                words = secret.ballot_words(self.vid, person.address, choice)
            else:
                words = [1, 2] * 12 + [0] * 11  # no key to encrypt under: never counted
                words = words[:23]
            batch = secret.cast(relayer, self.vid, [secret.sign(person, self.vid, words)])
            if self.state() != State.Open:
                assert batch.skipped == ((person.address, Skip.SecretVoteNotOpen),)
            elif voter in m.voted:
                assert batch.skipped == ((person.address, Skip.AlreadyVoted),)
            else:
                assert batch.cast == (person.address,)
                m.voted.add(voter)

        def publish(self, k: int) -> None:
            m, t = self.model, self.trustees[k - 1]
            refusal = None
            if self.state() != State.Decryption:
                refusal = "WrongPhase"
            elif k not in m.qualified:
                refusal = "NotQualified"
            elif k in m.published:
                refusal = "AlreadyDone"
            self.expect(lambda: secret.publish(self.vid, t), refusal)
            if refusal is None:
                m.published.add(k)

        def finalize(self) -> None:
            m = self.model
            refusal = None
            if self.state() != State.Decryption:
                refusal = "WrongPhase"
            elif len(m.published) < 2:
                refusal = "NotEnoughPartials"
            tally = [0, 0, 0]
            if refusal is None:
                first = sorted(m.published)[:2]
                tally = secret.tally(self.vid, [self.trustees[k - 1] for k in first])
                assert sum(tally) == len(m.voted)
            self.expect(lambda: secret.finalize(relayer, self.vid, tally), refusal)
            if refusal is None:
                m.finalized = True

        @rule(
            action=st.sampled_from(
                ["register", "deal", "complain", "answer", "close", "cast", "publish", "finalize"]
            ),
            a=st.integers(1, 3),
            b=st.integers(1, 3),
            flag=st.booleans(),
        )
        def act(self, action: str, a: int, b: int, flag: bool) -> None:
            """One step by anyone, in whatever phase the vote is: refused or taken as the model
            says. Drawn as one rule so that time moves as often as steps are taken."""
            if action in ("register", "deal", "publish"):
                getattr(self, action)(a)
            elif action == "complain":
                self.complain(a, b)
            elif action == "answer":
                self.answer(a, b, flag)
            elif action == "cast":
                self.cast((a + (2 if flag else -1)) % VOTERS, b - 1)
            else:
                getattr(self, action)()

        @invariant()
        def chain_agrees(self) -> None:
            view = secret.vote(self.vid)
            now = self.now()
            assert view.state == self.model.state(now)
            closed = self.model.key == "fixed" and now >= self.model.start + ANSWERS + VOTING
            assert view.ballotCount == (len(self.model.voted) if closed else 0)
            assert (len(view.aggregate) > 0) == closed
            for i, person in enumerate(voters):
                voted = secret.contract.functions.hasVotedSecretly(self.vid, person.address)
                assert voted.call() == (i in self.model.voted)

    return SecretVoteMachine


@pytest.mark.slow
def test_chain_agrees_with_the_secret_vote_model_over_random_histories(
    w3: Web3,
    system: Deployment,
    registry_client: RegistryContract,
    accounts: list[LocalAccount],
) -> None:
    secret = SecretBallotContract(w3, system.secret)
    machine = _machine(w3, registry_client, secret, accounts)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
