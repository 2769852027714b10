"""Registry: the AUDITOR role and the report keys auditors register (sha256 of the raw Ed25519
public key), so a signed audit report can be traced to the auditor who registered its key."""

from __future__ import annotations

import hashlib

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import Roles
from tests.contract_wrappers.registry import RegistryContract

ZERO = "0x" + "00" * 20


def _refused(error: str) -> pytest.RaisesExc[ContractRuleBroken]:
    return pytest.raises(ContractRuleBroken, match=rf"^{error}\(")


def _fp(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


@pytest.fixture
def community(registry_client: RegistryContract, accounts: list[LocalAccount]) -> int:
    """A community administered by accounts[0] with accounts[1] as its AUDITOR."""
    cid = int(registry_client.create_community(accounts[0], b"\x05" * 32))
    registry_client.grant_role(accounts[0], cid, Roles.AUDITOR, accounts[1].address)
    return cid


def test_auditor_role_is_granted_and_revoked_by_the_admin_like_the_others(
    registry_client: RegistryContract, system: Deployment, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x05" * 32)
    assert system.registry.functions.AUDITOR().call() == Web3.keccak(text="AUDITOR")
    with _refused("NotCommunityAdmin"):
        registry_client.grant_role(accounts[1], cid, Roles.AUDITOR, accounts[1].address)
    registry_client.grant_role(accounts[0], cid, Roles.AUDITOR, accounts[2].address)
    assert registry_client.has_role(cid, Roles.AUDITOR, accounts[2].address)
    registry_client.revoke_role(accounts[0], cid, Roles.AUDITOR, accounts[2].address)
    assert not registry_client.has_role(cid, Roles.AUDITOR, accounts[2].address)


def test_auditor_registers_its_key_with_an_event_naming_it(
    registry_client: RegistryContract,
    system: Deployment,
    accounts: list[LocalAccount],
    community: int,
) -> None:
    receipt = registry_client.register_auditor_key(accounts[1], community, _fp("k1"))
    (event,) = system.registry.events.AuditorKeyRegistered().process_receipt(receipt)
    assert dict(event["args"]) == {
        "communityId": community,
        "auditor": accounts[1].address,
        "keyFingerprint": _fp("k1"),
    }
    assert registry_client.auditor_key(_fp("k1")) == (
        community,
        accounts[1].address,
        receipt["blockNumber"],
        0,
    )
    assert registry_client.auditor_key(_fp("never")) == (0, ZERO, 0, 0)


def test_register_key_refused_without_the_auditor_role(
    registry_client: RegistryContract, accounts: list[LocalAccount], community: int
) -> None:
    with _refused("MissingRole") as info:
        registry_client.register_auditor_key(accounts[2], community, _fp("k2"))
    assert info.value.args_[1] == Roles.AUDITOR
    # Not even the admin: it grants AUDITOR, it is not one.
    with _refused("MissingRole"):
        registry_client.register_auditor_key(accounts[0], community, _fp("k2"))
    # An auditor of one community is none of another.
    with _refused("UnknownCommunity"):
        registry_client.register_auditor_key(accounts[1], community + 1, _fp("k2"))


def test_register_key_refused_for_zero_or_an_already_registered_fingerprint(
    registry_client: RegistryContract, accounts: list[LocalAccount], community: int
) -> None:
    with _refused("ZeroKeyFingerprint"):
        registry_client.register_auditor_key(accounts[1], community, bytes(32))
    registry_client.register_auditor_key(accounts[1], community, _fp("k3"))
    registry_client.grant_role(accounts[0], community, Roles.AUDITOR, accounts[2].address)
    with _refused("AuditorKeyAlreadyRegistered") as info:
        registry_client.register_auditor_key(accounts[2], community, _fp("k3"))
    assert Web3.to_checksum_address(info.value.args_[1]) == accounts[1].address


def test_auditor_or_admin_revokes_a_key_once_and_it_stays_revoked(
    registry_client: RegistryContract,
    system: Deployment,
    accounts: list[LocalAccount],
    community: int,
) -> None:
    registry_client.register_auditor_key(accounts[1], community, _fp("k4"))
    registry_client.register_auditor_key(accounts[1], community, _fp("k5"))
    with _refused("NotKeyAuditorOrAdmin"):
        registry_client.revoke_auditor_key(accounts[2], _fp("k4"))
    by_auditor = registry_client.revoke_auditor_key(accounts[1], _fp("k4"))
    (event,) = system.registry.events.AuditorKeyRevoked().process_receipt(by_auditor)
    assert dict(event["args"]) == {
        "communityId": community,
        "auditor": accounts[1].address,
        "keyFingerprint": _fp("k4"),
        "sender": accounts[1].address,
    }
    assert registry_client.auditor_key(_fp("k4"))[3] == by_auditor["blockNumber"]
    with _refused("AuditorKeyAlreadyRevoked"):
        registry_client.revoke_auditor_key(accounts[0], _fp("k4"))
    with _refused("AuditorKeyAlreadyRegistered"):
        registry_client.register_auditor_key(accounts[1], community, _fp("k4"))
    registry_client.revoke_role(accounts[0], community, Roles.AUDITOR, accounts[1].address)
    by_admin = registry_client.revoke_auditor_key(accounts[0], _fp("k5"))
    assert registry_client.auditor_key(_fp("k5"))[3] == by_admin["blockNumber"]
    with _refused("UnknownAuditorKey"):
        registry_client.revoke_auditor_key(accounts[0], _fp("never"))
