"""The secret-ballot relay kind: every reason the contract would skip a ballot, and an invalid
proof the contract would take, refused before acknowledgement; valid ballots batched into one
castSecretBallots and counted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.errors import InvalidMessage
from ledger.protocol.generated import Roles
from ledger.relay.message import Message
from ledger.relay.outbox import Outbox
from ledger.relay.relayer import Relayer
from ledger.relay.secret_ballots import SecretBallotRelay
from ledger.secret.group import P, R
from ledger.tx import ErrorDecoder
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    VOTING,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.contracts.conftest import Clock, signer_keys
from tests.relay_support import settle, stepped


@dataclass(frozen=True)
class Hall:
    id: int
    committee: LocalAccount
    voters: tuple[LocalAccount, ...]
    stranger: LocalAccount


@pytest.fixture
def hall(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> Hall:
    """A community whose committee is accounts[1], with five residents who only sign."""
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    community = registry.create_community(admin, Web3.keccak(text="secret relay"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, accounts[1].address)
    voters = tuple(signer_keys(5, "secret-relay"))
    registry.update_roll(admin, community, [v.address for v in voters])
    return Hall(community, accounts[1], voters, signer_keys(1, "secret-stranger")[0])


@pytest.fixture
def clock(w3: Web3) -> Clock:
    return Clock(w3)


@pytest.fixture
def secret(w3: Web3, system: Deployment) -> SecretBallotContract:
    return SecretBallotContract(w3, system.secret)


@pytest.fixture
def kind(w3: Web3, system: Deployment, settings: Settings) -> SecretBallotRelay:
    return SecretBallotRelay(w3, system.secret, system.registry, settings)


def _open(
    secret: SecretBallotContract, hall: Hall, clock: Clock, accounts: list[LocalAccount]
) -> tuple[int, list[Trustee]]:
    trustees = [Trustee(k, accounts[4 + k], 2) for k in (1, 2, 3)]
    params = SecretVoteParams(hall.id, tuple(t.account.address for t in trustees), 2, clock.now())
    return secret.open_vote(hall.committee, params), trustees


@pytest.fixture
def vote_id(
    secret: SecretBallotContract, hall: Hall, clock: Clock, accounts: list[LocalAccount]
) -> int:
    """A 2-of-3 vote of three options whose key generation went cleanly; ballots are open."""
    vote, trustees = _open(secret, hall, clock, accounts)
    secret.run_key_generation(vote, trustees, clock)
    return vote


def _payload(
    secret: SecretBallotContract, vote: int, voter: LocalAccount, words: list[int]
) -> dict[str, Any]:
    signed = secret.sign(voter, vote, words)
    return {
        "voteId": vote,
        "voter": voter.address,
        "words": [hex(w) for w in words],
        "signature": "0x" + signed.signature.hex(),
    }


def _accepted(kind: SecretBallotRelay, payload: dict[str, Any]) -> Message:
    message = kind.parse(payload)
    kind.check(message)
    return message


def _refusal(kind: SecretBallotRelay, payload: dict[str, Any]) -> str:
    with pytest.raises(InvalidMessage) as refused:
        _accepted(kind, payload)
    return refused.value.code


def test_valid_secret_ballots_are_batched_into_one_transaction_and_counted(
    tmp_path: Path,
    w3: Web3,
    secret: SecretBallotContract,
    kind: SecretBallotRelay,
    vote_id: int,
    hall: Hall,
    accounts: list[LocalAccount],
    settings: Settings,
    artifacts: dict[str, Artifact],
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", settings)
    voters = hall.voters[:4]
    receipts = [
        outbox.submit(
            _accepted(
                kind, _payload(secret, vote_id, v, secret.ballot_words(vote_id, v.address, i % 3))
            )
        ).result(5)
        for i, v in enumerate(voters)
    ]
    decoder = ErrorDecoder(a.abi for a in artifacts.values())
    relayer = Relayer(w3, accounts[9], outbox, [kind], stepped(settings), decoder=decoder)
    assert relayer.step() == 1
    settle(relayer)
    settled = [outbox.get(r.id) for r in receipts]
    assert {s.status for s in settled} == {"counted"}
    assert len({s.tx_hash for s in settled}) == 1
    assert all(
        secret.contract.functions.hasVotedSecretly(vote_id, v.address).call() for v in voters
    )
    outbox.close()


def test_a_second_ballot_of_a_voter_is_refused_but_the_same_one_is_not(
    secret: SecretBallotContract, kind: SecretBallotRelay, vote_id: int, hall: Hall
) -> None:
    voter = hall.voters[0]
    first = _payload(secret, vote_id, voter, secret.ballot_words(vote_id, voter.address, 0))
    _accepted(kind, first)
    _accepted(kind, first)
    second = _payload(secret, vote_id, voter, secret.ballot_words(vote_id, voter.address, 1))
    assert _refusal(kind, second) == "AlreadyVoted"


def test_a_ballot_whose_proof_is_for_another_voter_is_refused_with_the_reason(
    secret: SecretBallotContract, kind: SecretBallotRelay, vote_id: int, hall: Hall
) -> None:
    voter, other = hall.voters[0], hall.voters[1]
    copied = secret.ballot_words(vote_id, other.address, 2)
    assert _refusal(kind, _payload(secret, vote_id, voter, copied)) == "InvalidBallotProof"
    proven = secret.ballot_words(vote_id, voter.address, 2)
    proven[-1] = (proven[-1] + 1) % R
    assert _refusal(kind, _payload(secret, vote_id, voter, proven)) == "InvalidBallotProof"


def test_malformed_ballots_are_refused_before_the_chain(
    secret: SecretBallotContract, kind: SecretBallotRelay, vote_id: int, hall: Hall
) -> None:
    voter = hall.voters[0]
    words = secret.ballot_words(vote_id, voter.address, 1)
    off_curve = [words[0], (words[1] + 1) % P, *words[2:]]
    assert _refusal(kind, _payload(secret, vote_id, voter, off_curve)) == "InvalidBallotPoint"
    beyond_p = [words[0] + P, *words[1:]]
    assert _refusal(kind, _payload(secret, vote_id, voter, beyond_p)) == "InvalidBallotPoint"
    short = words[:-7]  # two options' worth on a vote of three
    assert _refusal(kind, _payload(secret, vote_id, voter, short)) == "MalformedBallot"
    assert _refusal(kind, {"voteId": vote_id, "voter": voter.address}) == "MalformedBallot"
    assert _refusal(kind, {**_payload(secret, vote_id, voter, words), "words": ["0xzz"]}) == (
        "MalformedBallot"
    )


def test_a_ballot_signed_by_someone_else_or_off_the_roll_is_refused(
    secret: SecretBallotContract, kind: SecretBallotRelay, vote_id: int, hall: Hall
) -> None:
    voter = hall.voters[0]
    words = secret.ballot_words(vote_id, voter.address, 0)
    forged = {**_payload(secret, vote_id, hall.voters[1], words), "voter": voter.address}
    assert _refusal(kind, forged) == "BadSignature"
    stranger = hall.stranger
    own = secret.ballot_words(vote_id, stranger.address, 0)
    assert _refusal(kind, _payload(secret, vote_id, stranger, own)) == "VoterNotOnRoll"


def test_a_ballot_outside_the_window_or_before_the_key_is_refused(
    secret: SecretBallotContract,
    kind: SecretBallotRelay,
    hall: Hall,
    clock: Clock,
    accounts: list[LocalAccount],
) -> None:
    vote, trustees = _open(secret, hall, clock, accounts)
    voter = hall.voters[0]
    early = _payload(secret, vote, voter, [1] * 23)
    assert _refusal(kind, early) == "SecretVoteNotOpen"
    assert _refusal(kind, _payload(secret, 10**6, voter, [1] * 23)) == "UnknownSecretVote"
    secret.run_key_generation(vote, trustees, clock)
    words = secret.ballot_words(vote, voter.address, 0)
    clock.advance(VOTING + 1)
    assert _refusal(kind, _payload(secret, vote, voter, words)) == "SecretVoteNotOpen"
