"""The secret-ballot audit on the session chain: a 2-of-3 vote with a complaint answered, an
invalid ballot challenged and voided, partials and a finalized tally audits clean (every share
answer, key, ballot, proof, batch, partial and the tally checked again off-chain); an invalid
ballot nobody challenged is named, and so is an aggregate changed in storage before the
decryption (the tally then decrypts a vote nobody cast), and a trustee's verification key
changed in storage (its partials prove on-chain against the forged key, not the real one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.model import AuditResult, Finding
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.node import AnvilProcess, rpc
from ledger.protocol.generated import Roles
from ledger.secret.group import G, Point
from tests.audit.conftest import audit_data_dir, audit_deployment
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    CHALLENGES,
    VOTING,
    Batch,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.contracts.conftest import Clock, signer_keys

CHOICES = [0, 1, 1, 2, 1]


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-secret"), build_cache)


@pytest.fixture(scope="module")
def town(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> tuple[int, list[LocalAccount]]:
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    community = registry.create_community(admin, Web3.keccak(text="secret audit"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, accounts[1].address)
    voters = signer_keys(len(CHOICES) + 1, "secret-audit")
    registry.update_roll(admin, community, [v.address for v in voters])
    return community, voters


def _vote(
    w3: Web3,
    secret: SecretBallotContract,
    accounts: list[LocalAccount],
    town: tuple[int, list[LocalAccount]],
) -> tuple[int, list[Trustee], Batch]:
    """Opens a 2-of-3 vote (dealer 2 sends trustee 1 a bad share and answers the complaint),
    casts the honest ballots and, by the last voter, one copied from the first voter's
    (counted, its proofs fail); returns (vote, trustees, the batch) with ballots closed."""
    community, voters = town
    clock = Clock(w3)
    trustees = [Trustee(k, accounts[4 + k], 2) for k in (1, 2, 3)]
    params = SecretVoteParams(community, tuple(t.account.address for t in trustees), 2, clock.now())
    vid = secret.open_vote(accounts[1], params)
    secret.run_key_generation(vid, trustees, clock, corrupt={2: [1]})
    honest = [
        secret.sign(v, vid, secret.ballot_words(vid, v.address, c))
        for v, c in zip(voters, CHOICES, strict=False)
    ]
    copied = secret.sign(voters[-1], vid, honest[0].ballot.words)
    batch = secret.cast(accounts[9], vid, [*honest, copied])
    assert len(batch.cast) == len(CHOICES) + 1
    clock.advance(VOTING)
    return vid, trustees, batch


def _copied_words(batch: Batch) -> list[int]:
    return list(batch.ballots[-1][1])


def _decrypt(
    w3: Web3,
    secret: SecretBallotContract,
    accounts: list[LocalAccount],
    vid: int,
    trustees: list[Trustee],
) -> list[int]:
    Clock(w3).advance(CHALLENGES)
    for t in trustees:
        secret.publish(vid, t)
    tally = secret.tally(vid, trustees[:2])
    secret.finalize(accounts[9], vid, tally)
    return tally


def _secret_findings(result: AuditResult) -> list[Finding]:
    return [f for f in result.findings if f.rule.startswith("secret.")]


def test_a_secret_vote_with_a_voided_ballot_audits_clean(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: tuple[int, list[LocalAccount]],
) -> None:
    secret = SecretBallotContract(w3, system.secret)
    vid, trustees, batch = _vote(w3, secret, accounts, town)
    copier = town[1][-1]
    secret.challenge(accounts[9], vid, batch, copier.address, _copied_words(batch))
    tally = _decrypt(w3, secret, accounts, vid, trustees)
    assert tally == [1, 3, 1]
    result = audit_deployment(anvil, system, settings, audit_dir)
    assert result.findings == []
    (row,) = [r for r in result.report["secret_votes"] if r["id"] == vid]
    assert row["ballots"] == len(CHOICES) and row["voided"] == 1
    assert row["invalid_not_voided"] == 0 and row["tally"] == tally
    assert row["qualified"] == [1, 2, 3] and row["key"] == "fixed"


def test_an_invalid_ballot_nobody_challenged_is_named(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: tuple[int, list[LocalAccount]],
) -> None:
    secret = SecretBallotContract(w3, system.secret)
    vid, trustees, _ = _vote(w3, secret, accounts, town)
    # The copy stays counted: the chain's tally includes it.
    assert _decrypt(w3, secret, accounts, vid, trustees) == [2, 3, 1]
    found = _secret_findings(audit_deployment(anvil, system, settings, audit_dir))
    assert [f.rule for f in found] == ["secret.proof"], found
    assert town[1][-1].address[2:].lower() in found[0].detail


def _aggregate_slot(w3: Web3, address: str, vid: int, first_word: int) -> int:
    """The slot of the vote's aggregate (SA_0.x first) among the contract's first mappings."""
    for base in range(16):
        slot = int.from_bytes(
            Web3.keccak(vid.to_bytes(32, "big") + base.to_bytes(32, "big")), "big"
        )
        if int.from_bytes(w3.eth.get_storage_at(address, slot), "big") == first_word:
            return slot
    raise AssertionError("no aggregate found")


def test_an_aggregate_changed_in_storage_is_named_by_the_tally(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: tuple[int, list[LocalAccount]],
) -> None:
    secret = SecretBallotContract(w3, system.secret)
    vid, trustees, batch = _vote(w3, secret, accounts, town)
    secret.challenge(accounts[9], vid, batch, town[1][-1].address, _copied_words(batch))
    aggregate = list(secret.vote(vid).aggregate)
    address = system.secret.address
    slot = _aggregate_slot(w3, address, vid, aggregate[0])
    # One vote moved from option 1 to option 0: SB_0 + g, SB_1 - g.
    moved = [
        *(Point.from_words(*aggregate[2:4]) + G).words(),
        *(Point.from_words(*aggregate[6:8]) - G).words(),
    ]
    for offset, word in zip((2, 3, 6, 7), moved, strict=True):
        value = "0x" + word.to_bytes(32, "big").hex()
        rpc(w3, "anvil_setStorageAt", [address, hex(slot + offset), value])
    assert _decrypt(w3, secret, accounts, vid, trustees) == [2, 2, 1]
    found = _secret_findings(audit_deployment(anvil, system, settings, audit_dir))
    assert {f.rule for f in found} == {"secret.tally"}, found
    assert any(f"option {j}" in f.detail for f in found for j in (0, 1))


def _verification_key_slot(w3: Web3, address: str, vid: int, k: int, x: int) -> int:
    """The slot of trustee k's verification key (x first) in the contract's trustee records."""
    for base in range(16):
        outer = Web3.keccak(vid.to_bytes(32, "big") + base.to_bytes(32, "big"))
        record = int.from_bytes(Web3.keccak(k.to_bytes(32, "big") + outer), "big")
        if int.from_bytes(w3.eth.get_storage_at(address, record + 2), "big") == x:
            return record + 2
    raise AssertionError("no verification key found")


def test_a_verification_key_changed_in_storage_is_named_by_its_partials(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
    town: tuple[int, list[LocalAccount]],
) -> None:
    from ledger.secret.group import random_scalar
    from ledger.secret.tally import decrypt_partial

    secret = SecretBallotContract(w3, system.secret)
    vid, trustees, batch = _vote(w3, secret, accounts, town)
    secret.challenge(accounts[9], vid, batch, town[1][-1].address, _copied_words(batch))
    # Trustee 3's key is swapped for one whose secret the operator knows: its partials then
    # prove on-chain, and decrypt nothing.
    forged = random_scalar()
    address = system.secret.address
    real = secret.contract.events.KeyGenerated().get_logs(from_block=0)
    keys = next(e for e in real if e["args"]["voteId"] == vid)["args"]["verificationKeys"]
    slot = _verification_key_slot(w3, address, vid, 3, int(keys[4]))
    for offset, word in enumerate((forged * G).words()):
        value = "0x" + word.to_bytes(32, "big").hex()
        rpc(w3, "anvil_setStorageAt", [address, hex(slot + offset), value])
    Clock(w3).advance(CHALLENGES)
    context = secret.context(vid)
    sums = secret.aggregate(vid)
    words = [
        w for j, s in enumerate(sums) for w in decrypt_partial(context, 3, j, forged, s.a).words()
    ]
    secret.publish(vid, trustees[0])
    secret.publish(vid, trustees[1])
    secret.publish(vid, trustees[2], words)  # proven on-chain against the forged key
    secret.finalize(accounts[9], vid, secret.tally(vid, [trustees[0], trustees[1]]))
    found = _secret_findings(audit_deployment(anvil, system, settings, audit_dir))
    assert {f.rule for f in found} == {"secret.partial"}, found
    assert all("trustee 3" in f.detail for f in found)
