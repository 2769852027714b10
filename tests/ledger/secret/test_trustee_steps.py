"""A trustee's steps computed by ledger.secret.trustee against the contract: a dealer who sent a
bad share is complained against, answers in clear, and the accuser takes the answered share;
the key is then made from every dealer, and the steps' partials and tally decrypt the vote."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.admin import AdminCall
from ledger.deploy import Deployment
from ledger.protocol.generated import Roles
from ledger.secret import trustee as steps
from ledger.secret.trustee import TrusteeRefused, VoteOnChain
from ledger.secret.trustee_file import TrusteeState
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
)
from tests.contracts.conftest import Clock, signer_keys


def _send(
    secret: SecretBallotContract, system: Deployment, who: LocalAccount, call: AdminCall
) -> None:
    secret.send(who, call.bound(system))


def test_a_bad_share_is_complained_against_answered_and_the_vote_decrypts(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> None:
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    community = registry.create_community(admin, Web3.keccak(text="trustee steps"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, accounts[1].address)
    voters = signer_keys(3, "trustee-steps")
    registry.update_roll(admin, community, [v.address for v in voters])
    secret, clock = SecretBallotContract(w3, system.secret), Clock(w3)
    people = accounts[5:8]
    params = SecretVoteParams(community, tuple(p.address for p in people), 2, clock.now())
    vote_id = secret.open_vote(accounts[1], params)

    def vote() -> VoteOnChain:
        return VoteOnChain.read(w3, system, vote_id)

    states: list[TrusteeState] = []
    for person in people:
        state, call = steps.new_trustee(vote(), person.address)
        _send(secret, system, person, call)
        states.append(state)
    with pytest.raises(TrusteeRefused, match="not a trustee"):
        steps.new_trustee(vote(), accounts[9].address)
    clock.advance(KEYS)
    for person, state in zip(people, states, strict=True):
        call = steps.deal(vote(), state)
        if state.number == 3:  # trustee 1's share from dealer 3 is off by one
            commitments, shares = call.args[1], list(call.args[2])
            shares[0] += 1
            call = AdminCall(call.contract, call.function, (vote_id, commitments, shares),
                             call.what, call.signer, call.event)  # fmt: skip
        _send(secret, system, person, call)
    clock.advance(DEALS - KEYS)
    good, complaints = steps.check_deals(vote(), states[0])
    assert good == [2] and [c.args for c in complaints] == [(vote_id, 3)]
    _send(secret, system, people[0], complaints[0])
    for state in states[1:]:
        assert steps.check_deals(vote(), state)[1] == []
    clock.advance(COMPLAINTS - DEALS)
    (answer,) = steps.answers(vote(), states[2])
    _send(secret, system, people[2], answer)
    assert steps.answers(vote(), states[2]) == []
    clock.advance(ANSWERS - COMPLAINTS)
    _send(secret, system, people[0], steps.close_keys(vote()))
    assert vote().qualified() == [1, 2, 3]

    for voter, choice in zip(voters, (0, 2, 2), strict=True):
        words = secret.ballot_words(vote_id, voter.address, choice)
        secret.cast(accounts[9], vote_id, [secret.sign(voter, vote_id, words)])
    clock.advance(VOTING)
    with pytest.raises(TrusteeRefused, match="not in decryption"):
        steps.partial_decryption(vote(), states[0])
    clock.advance(CHALLENGES)
    for person, state in ((people[0], states[0]), (people[2], states[2])):
        _send(secret, system, person, steps.partial_decryption(vote(), state))
    assert 3 in states[0].received  # the answered share, taken from the chain
    counts = steps.tally(vote())
    assert counts == [1, 0, 2]
    _send(secret, system, people[1], steps.finalize(vote(), counts))
    assert list(vote().view.tally) == [1, 0, 2]
