"""Registry: communities, roles (admin only, every change an event) and the versioned roll."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import Roles
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, Hall, signer_keys

ZERO = "0x" + "00" * 20
LIFETIME = 400 * 24 * 3600


def _refused(error: str) -> pytest.RaisesExc[ContractRuleBroken]:
    return pytest.raises(ContractRuleBroken, match=rf"^{error}\(")


def _args(info: pytest.ExceptionInfo[ContractRuleBroken]) -> tuple[object, ...]:
    """The custom error's arguments, addresses checksummed."""
    return tuple(
        Web3.to_checksum_address(a) if isinstance(a, str) and Web3.is_address(a) else a
        for a in info.value.args_
    )


# ---------------------------------------------------------------- communities and roles


def test_create_community_numbers_from_one_and_makes_creator_admin(
    registry_client: RegistryContract, accounts: list[LocalAccount]
) -> None:
    first = registry_client.create_community(accounts[3], b"\x01" * 32)
    second = registry_client.create_community(accounts[4], b"\x02" * 32)
    assert second == first + 1
    assert registry_client.community_admin(first) == accounts[3].address
    assert registry_client.community_admin(second) == accounts[4].address
    assert registry_client.community_admin(second + 1) == ZERO


def test_grant_role_by_admin_is_recorded_with_event(
    registry_client: RegistryContract, system: Deployment, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    receipt = registry_client.grant_role(accounts[0], cid, Roles.COMMITTEE, accounts[1].address)
    (event,) = system.registry.events.RoleGranted().process_receipt(receipt)
    assert event["args"]["communityId"] == cid
    assert event["args"]["role"] == Roles.COMMITTEE
    assert event["args"]["account"] == accounts[1].address
    assert event["args"]["sender"] == accounts[0].address
    assert registry_client.has_role(cid, Roles.COMMITTEE, accounts[1].address)
    assert registry_client.committee_size(cid) == 1


def test_grant_role_refused_when_caller_is_not_admin(
    registry_client: RegistryContract, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    with _refused("NotCommunityAdmin") as info:
        registry_client.grant_role(accounts[1], cid, Roles.COMMITTEE, accounts[1].address)
    assert _args(info) == (cid, accounts[1].address)


def test_grant_role_refused_for_unknown_community_role_or_zero_address(
    registry_client: RegistryContract, accounts: list[LocalAccount], system: Deployment, w3: Web3
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    with _refused("UnknownCommunity"):
        registry_client.grant_role(accounts[0], cid + 1, Roles.COMMITTEE, accounts[1].address)
    from ledger.tx import send

    with _refused("UnknownRole"):
        send(
            w3,
            accounts[0],
            system.registry.functions.grantRole(cid, Web3.keccak(text="KING"), accounts[1].address),
        )
    with _refused("ZeroAddress"):
        registry_client.grant_role(accounts[0], cid, Roles.COMMITTEE, ZERO)


def test_grant_role_refused_when_already_granted_and_revoke_when_not_granted(
    registry_client: RegistryContract, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    registry_client.grant_role(accounts[0], cid, Roles.REGISTRAR, accounts[2].address)
    with _refused("RoleAlreadyGranted"):
        registry_client.grant_role(accounts[0], cid, Roles.REGISTRAR, accounts[2].address)
    with _refused("RoleNotGranted"):
        registry_client.revoke_role(accounts[0], cid, Roles.COORDINATOR, accounts[2].address)


def test_revoke_role_by_admin_removes_it_with_event(
    registry_client: RegistryContract, system: Deployment, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    for member in accounts[1:4]:
        registry_client.grant_role(accounts[0], cid, Roles.COMMITTEE, member.address)
    receipt = registry_client.revoke_role(accounts[0], cid, Roles.COMMITTEE, accounts[2].address)
    (event,) = system.registry.events.RoleRevoked().process_receipt(receipt)
    assert event["args"]["account"] == accounts[2].address
    assert not registry_client.has_role(cid, Roles.COMMITTEE, accounts[2].address)
    assert registry_client.committee_size(cid) == 2
    with _refused("NotCommunityAdmin"):
        registry_client.revoke_role(accounts[1], cid, Roles.COMMITTEE, accounts[3].address)


def test_roles_are_per_community(
    registry_client: RegistryContract, accounts: list[LocalAccount]
) -> None:
    a = registry_client.create_community(accounts[0], b"\x01" * 32)
    b = registry_client.create_community(accounts[0], b"\x02" * 32)
    registry_client.grant_role(accounts[0], a, Roles.COORDINATOR, accounts[1].address)
    assert registry_client.has_role(a, Roles.COORDINATOR, accounts[1].address)
    assert not registry_client.has_role(b, Roles.COORDINATOR, accounts[1].address)


def test_transfer_admin_hands_over_role_management_once_accepted(
    registry_client: RegistryContract, system: Deployment, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    receipt = registry_client.transfer_admin(accounts[0], cid, accounts[5].address)
    (started,) = system.registry.events.AdminTransferStarted().process_receipt(receipt)
    assert (started["args"]["admin"], started["args"]["pendingAdmin"]) == (
        accounts[0].address,
        accounts[5].address,
    )
    receipt = registry_client.accept_admin(accounts[5], cid)
    (event,) = system.registry.events.AdminTransferred().process_receipt(receipt)
    assert (event["args"]["previousAdmin"], event["args"]["newAdmin"]) == (
        accounts[0].address,
        accounts[5].address,
    )
    assert registry_client.pending_admin(cid) == ZERO
    registry_client.grant_role(accounts[5], cid, Roles.COMMITTEE, accounts[1].address)
    with _refused("NotCommunityAdmin"):
        registry_client.grant_role(accounts[0], cid, Roles.COMMITTEE, accounts[2].address)
    with _refused("ZeroAddress"):
        registry_client.transfer_admin(accounts[5], cid, ZERO)


def test_transfer_admin_to_a_mistyped_address_leaves_the_admin_in_place(
    registry_client: RegistryContract, system: Deployment, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    mistyped = "0x000000000000000000000000000000000000dEaD"
    registry_client.transfer_admin(accounts[0], cid, mistyped)
    assert system.registry.functions.communityAdmin(cid).call() == accounts[0].address
    assert registry_client.pending_admin(cid) == Web3.to_checksum_address(mistyped)
    # Still the admin: the offer can be withdrawn and made to the right account.
    registry_client.grant_role(accounts[0], cid, Roles.COMMITTEE, accounts[1].address)
    receipt = registry_client.cancel_admin_transfer(accounts[0], cid)
    (cancelled,) = system.registry.events.AdminTransferCancelled().process_receipt(receipt)
    assert cancelled["args"]["pendingAdmin"] == Web3.to_checksum_address(mistyped)
    assert registry_client.pending_admin(cid) == ZERO


def test_accept_admin_refused_for_anyone_but_the_pending_admin(
    registry_client: RegistryContract, system: Deployment, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    with _refused("NotPendingAdmin"):
        registry_client.accept_admin(accounts[5], cid)  # nobody named yet
    registry_client.transfer_admin(accounts[0], cid, accounts[5].address)
    for stranger in (accounts[0], accounts[6]):
        with _refused("NotPendingAdmin"):
            registry_client.accept_admin(stranger, cid)
    with _refused("NotPendingAdmin"):
        registry_client.accept_admin(accounts[5], cid + 1000)  # no such community
    assert system.registry.functions.communityAdmin(cid).call() == accounts[0].address


def test_admin_replaces_or_cancels_the_pending_admin(
    registry_client: RegistryContract, system: Deployment, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    registry_client.transfer_admin(accounts[0], cid, accounts[5].address)
    registry_client.transfer_admin(accounts[0], cid, accounts[6].address)
    with _refused("NotPendingAdmin"):
        registry_client.accept_admin(accounts[5], cid)  # replaced
    with _refused("NotCommunityAdmin"):
        registry_client.cancel_admin_transfer(accounts[6], cid)  # the pending one is no admin
    registry_client.cancel_admin_transfer(accounts[0], cid)
    with _refused("NotPendingAdmin"):
        registry_client.accept_admin(accounts[6], cid)  # withdrawn
    with _refused("NoPendingAdmin"):
        registry_client.cancel_admin_transfer(accounts[0], cid)
    registry_client.transfer_admin(accounts[0], cid, accounts[6].address)
    registry_client.accept_admin(accounts[6], cid)
    assert system.registry.functions.communityAdmin(cid).call() == accounts[6].address
    with _refused("NotPendingAdmin"):
        registry_client.accept_admin(accounts[6], cid)  # accepted once


# ---------------------------------------------------------------- roll


def test_update_roll_refused_without_registrar_role(
    registry_client: RegistryContract, hall: Hall
) -> None:
    with _refused("MissingRole"):
        registry_client.update_roll(hall.committee, hall.id, [hall.outsider.address])
    with _refused("MissingRole"):
        registry_client.publish_roll(hall.committee, hall.id)


def test_staged_roll_changes_take_effect_only_when_published(
    registry_client: RegistryContract, hall: Hall
) -> None:
    before = registry_client.roll_snapshot(hall.id)
    update = registry_client.update_roll(
        hall.admin,
        hall.id,
        [hall.outsider.address],
        [hall.signers[0].address],
        publish=False,
    )
    assert update.version == before.version + 1 and update.published_size is None
    assert registry_client.roll_snapshot(hall.id) == before
    assert registry_client.pending_roll(hall.id).size == before.size
    assert not registry_client.is_resident(hall.id, hall.outsider.address)
    assert registry_client.is_resident(hall.id, hall.signers[0].address)
    assert registry_client.publish_roll(hall.admin, hall.id) == update.version
    assert registry_client.roll_snapshot(hall.id).version == update.version
    assert registry_client.is_resident(hall.id, hall.outsider.address)
    assert not registry_client.is_resident(hall.id, hall.signers[0].address)


def test_update_roll_refused_when_adding_resident_twice_or_removing_non_resident(
    registry_client: RegistryContract, hall: Hall
) -> None:
    with _refused("AlreadyOnRoll") as info:
        registry_client.update_roll(hall.admin, hall.id, [hall.voters[0].address])
    assert _args(info) == (hall.id, hall.voters[0].address)
    with _refused("NotOnRoll"):
        registry_client.update_roll(hall.admin, hall.id, [], [hall.outsider.address])
    with _refused("AlreadyOnRoll"):  # a duplicate within one batch
        registry_client.update_roll(
            hall.admin, hall.id, [hall.outsider.address, hall.outsider.address]
        )
    with _refused("ZeroAddress"):
        registry_client.update_roll(hall.admin, hall.id, [ZERO])


def test_resident_index_is_stable_across_leaving_and_rejoining(
    registry_client: RegistryContract, hall: Hall
) -> None:
    who = hall.signers[2].address
    index = registry_client.resident_index(hall.id, who)
    assert index == 5  # three voters then signers 0, 1, 2
    registry_client.update_roll(hall.admin, hall.id, [], [who])
    registry_client.update_roll(hall.admin, hall.id, [hall.outsider.address])
    registry_client.update_roll(hall.admin, hall.id, [who])
    assert registry_client.resident_index(hall.id, who) == index
    assert registry_client.resident_index(hall.id, hall.outsider.address) == 8
    assert registry_client.resident_index(hall.id, hall.stranger.address) is None


def test_was_resident_answers_for_every_published_version(
    registry_client: RegistryContract, hall: Hall
) -> None:
    who = hall.outsider.address
    v_joined = registry_client.update_roll(hall.admin, hall.id, [who]).version
    v_left = registry_client.update_roll(hall.admin, hall.id, [], [who]).version
    v_back = registry_client.update_roll(hall.admin, hall.id, [who]).version
    answers = [registry_client.was_resident(hall.id, who, v) for v in range(1, v_back + 1)]
    expected = [v_joined <= v < v_left or v >= v_back for v in range(1, v_back + 1)]
    assert answers == expected
    with _refused("UnknownRollVersion"):
        registry_client.was_resident(hall.id, who, v_back + 1)


def test_join_and_leave_within_one_pending_version_cancel_out(
    registry_client: RegistryContract, hall: Hall
) -> None:
    who = hall.outsider.address
    size = registry_client.roll_snapshot(hall.id).size
    registry_client.update_roll(hall.admin, hall.id, [who], publish=False)
    registry_client.update_roll(hall.admin, hall.id, [], [who], publish=False)
    leaver = hall.signers[0].address
    registry_client.update_roll(hall.admin, hall.id, [], [leaver], publish=False)
    registry_client.update_roll(hall.admin, hall.id, [leaver], publish=True)
    snap = registry_client.roll_snapshot(hall.id)
    assert snap.size == size
    assert not registry_client.was_resident(hall.id, who, snap.version)
    assert all(registry_client.was_resident(hall.id, leaver, v) for v in range(1, snap.version + 1))


def test_fourth_membership_interval_refused_until_oldest_is_past_snapshot_lifetime(
    registry_client: RegistryContract, hall: Hall, clock: Clock
) -> None:
    who = hall.outsider.address
    registry_client.update_roll(hall.admin, hall.id, [who])
    v_first_left = registry_client.update_roll(hall.admin, hall.id, [], [who]).version
    first_left_at = clock.now()
    for _ in range(2):  # second and third intervals
        registry_client.update_roll(hall.admin, hall.id, [who])
        registry_client.update_roll(hall.admin, hall.id, [], [who])
    with _refused("RollHistoryFull") as info:
        registry_client.update_roll(hall.admin, hall.id, [who])
    prunable_at = info.value.args_[2]
    assert first_left_at <= prunable_at - LIFETIME <= first_left_at + 2
    clock.advance(prunable_at - clock.now() + 1)
    v_back = registry_client.update_roll(hall.admin, hall.id, [who]).version
    assert registry_client.is_resident(hall.id, who)
    assert registry_client.was_resident(hall.id, who, v_back)
    with _refused("RollHistoryPruned"):
        registry_client.was_resident(hall.id, who, v_first_left - 1)


def test_publish_roll_in_batches_publishes_once_with_the_last_batch(
    registry_client: RegistryContract, hall: Hall, system: Deployment
) -> None:
    people = [a.address for a in signer_keys(25, "batch")]
    before = registry_client.roll_snapshot(hall.id)
    updates = registry_client.publish_roll_in_batches(hall.admin, hall.id, people, batch_size=10)
    assert [u.published_size is not None for u in updates] == [False, False, True]
    assert {u.version for u in updates} == {before.version + 1}
    assert registry_client.roll_snapshot(hall.id).size == before.size + 25
    assert all(registry_client.is_resident(hall.id, p) for p in people)
    indexes = system.registry.functions.rollIndexesAt(
        hall.id, before.version + 1, [people[0], hall.outsider.address, people[-1]]
    ).call()
    assert indexes == [
        registry_client.resident_index(hall.id, people[0]) + 1,  # type: ignore[operator]
        0,
        registry_client.resident_index(hall.id, people[-1]) + 1,  # type: ignore[operator]
    ]


def test_poll_officer_role_is_granted_and_revoked_by_the_admin_like_the_others(
    registry_client: RegistryContract, accounts: list[LocalAccount]
) -> None:
    cid = registry_client.create_community(accounts[0], b"\x01" * 32)
    officer = accounts[3].address
    receipt = registry_client.grant_role(accounts[0], cid, Roles.POLL_OFFICER, officer)
    assert receipt["status"] == 1
    assert registry_client.has_role(cid, Roles.POLL_OFFICER, officer)
    with _refused("NotCommunityAdmin"):
        registry_client.grant_role(accounts[3], cid, Roles.POLL_OFFICER, accounts[4].address)
    registry_client.revoke_role(accounts[0], cid, Roles.POLL_OFFICER, officer)
    assert not registry_client.has_role(cid, Roles.POLL_OFFICER, officer)
