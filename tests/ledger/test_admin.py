"""ledger.admin against the real contracts: each act is refused in one sentence before it is
signed when the contract would refuse it, a refusal the checks do not foresee is named by the
contract's custom error, and a sent act returns the event the contract emitted."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import admin
from ledger.admin import AdminChain, AdminRefused, DirectSender, RefusedByContract
from ledger.deploy import Deployment
from ledger.protocol.generated import Functions, Roles


@pytest.fixture
def chain(w3: Web3, system: Deployment) -> AdminChain:
    return AdminChain(w3, system)


@pytest.fixture
def community(chain: AdminChain, accounts: list[LocalAccount]) -> int:
    done = admin.execute(
        chain, admin.create_community(Web3.keccak(text="test estate")), DirectSender(accounts[1])
    )
    return int(done.event["communityId"])


def test_create_community_makes_the_signer_its_admin(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    assert chain.admin_of(community) == accounts[1].address


def test_every_act_encodes_the_selector_ledger_protocol_declares(system: Deployment) -> None:
    someone = "0x" + "11" * 20
    calls = [
        admin.create_community(b"\x01" * 32),
        admin.transfer_admin(1, someone),
        admin.accept_admin(1),
        admin.cancel_admin_transfer(1),
        admin.grant_role(1, Roles.REGISTRAR, someone),
        admin.revoke_role(1, Roles.REGISTRAR, someone),
        admin.set_approval_threshold(1, 2),
        admin.set_currency(1, b"EUR"),
        admin.set_limits(1, -60, 60),
        admin.register_auditor_key(1, b"\x02" * 32),
        admin.revoke_auditor_key(b"\x02" * 32),
        admin.update_roll(1, [someone], [], True),
        admin.publish_roll(1),
    ]
    for call in calls:
        assert call.calldata(system)[:4] == call.function.selector
    assert admin.grant_role(1, Roles.AUDITOR, someone).function == Functions.grantRole


def test_grant_by_a_non_admin_is_refused_naming_the_admin(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    call = admin.grant_role(community, Roles.COMMITTEE, accounts[3].address)
    with pytest.raises(AdminRefused) as refused:
        admin.preflight(chain, call, accounts[2].address)
    assert str(refused.value) == (
        f"{accounts[2].address} is not the admin of community {community} "
        f"(it is {accounts[1].address})"
    )


def test_an_unknown_community_is_refused_in_one_sentence(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    call = admin.set_limits(community + 41, -60, 60)
    with pytest.raises(AdminRefused, match=rf"there is no community {community + 41} \("):
        admin.preflight(chain, call, accounts[1].address)


def test_a_refusal_the_checks_do_not_foresee_is_named_by_the_contracts_error(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    call = admin.grant_role(community, Roles.COMMITTEE, accounts[3].address)
    with pytest.raises(RefusedByContract) as broken:
        admin.simulate(chain, call, accounts[2].address)
    assert broken.value.error == "NotCommunityAdmin"
    assert str(broken.value) == (
        f"the contract would refuse grantRole: NotCommunityAdmin(communityId={community}, "
        f"account={accounts[2].address})"
    )


def test_threshold_above_the_committee_is_refused_before_signing(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    with pytest.raises(AdminRefused, match="between 1 and the committee's 0 members"):
        admin.preflight(chain, admin.set_approval_threshold(community, 2), accounts[1].address)


def test_admin_hand_over_takes_the_offer_and_the_acceptance(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    old, new = DirectSender(accounts[1]), DirectSender(accounts[2])
    with pytest.raises(AdminRefused, match="has no admin transfer pending"):
        admin.preflight(chain, admin.accept_admin(community), new.address)
    admin.execute(chain, admin.transfer_admin(community, new.address), old)
    with pytest.raises(AdminRefused, match="is not the pending admin"):
        admin.preflight(chain, admin.accept_admin(community), accounts[3].address)
    done = admin.execute(chain, admin.accept_admin(community), new)
    assert done.event["newAdmin"] == new.address
    assert chain.admin_of(community) == new.address


def test_roles_and_settings_sent_directly_show_in_the_summary(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    sender = DirectSender(accounts[1])
    for member in accounts[2:4]:
        admin.execute(chain, admin.grant_role(community, Roles.COMMITTEE, member.address), sender)
    with pytest.raises(AdminRefused, match="already holds COMMITTEE"):
        admin.preflight(
            chain, admin.grant_role(community, Roles.COMMITTEE, accounts[2].address), sender.address
        )
    admin.execute(chain, admin.set_approval_threshold(community, 2), sender)
    admin.execute(chain, admin.set_currency(community, b"CNY"), sender)
    done = admin.execute(chain, admin.set_limits(community, -600, 6000), sender)
    assert (done.event["floor"], done.event["ceiling"]) == (-600, 6000)
    with pytest.raises(AdminRefused, match="already kept in CNY"):
        admin.preflight(chain, admin.set_currency(community, b"EUR"), sender.address)
    summary = "\n".join(admin.community_summary(chain, community))
    assert "COMMITTEE 2" in summary and "CNY" in summary and "threshold:  2" in summary
    assert "-600..6000 minutes" in summary
    acts = [line.split()[2].split("(")[0] for line in admin.community_history(chain, community)]
    assert acts == [
        "CommunityCreated", "RoleGranted", "RoleGranted", "ApprovalThresholdSet",
        "FundCurrencySet", "LimitsSet",
    ]  # fmt: skip
    history = admin.community_history(chain, community)
    assert f"RoleGranted(role=COMMITTEE, account={accounts[2].address}" in history[1]
    assert "FundCurrencySet(currency=CNY" in history[4]


def test_role_names_and_currency_codes_are_checked_before_anything_is_built() -> None:
    assert admin.role_id("registrar") == Roles.REGISTRAR
    assert admin.role_id("poll_officer") == Roles.POLL_OFFICER
    with pytest.raises(AdminRefused, match="unknown role 'TREASURER'"):
        admin.role_id("TREASURER")
    with pytest.raises(AdminRefused, match="three capital letters"):
        admin.currency_code("cny")


def test_an_auditor_registers_its_key_and_the_admin_revokes_it(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    admin_sender, auditor = DirectSender(accounts[1]), DirectSender(accounts[4])
    key = b"\x07" * 32
    with pytest.raises(AdminRefused, match="does not hold AUDITOR"):
        admin.preflight(chain, admin.register_auditor_key(community, key), auditor.address)
    admin.execute(chain, admin.grant_role(community, Roles.AUDITOR, auditor.address), admin_sender)
    done = admin.execute(chain, admin.register_auditor_key(community, key), auditor)
    assert done.event["auditor"] == auditor.address
    with pytest.raises(AdminRefused, match="is neither the key's auditor"):
        admin.preflight(chain, admin.revoke_auditor_key(key), accounts[5].address)
    admin.execute(chain, admin.revoke_auditor_key(key), admin_sender)
    with pytest.raises(AdminRefused, match="was revoked in block"):
        admin.preflight(chain, admin.revoke_auditor_key(key), admin_sender.address)
    assert admin.community_history(chain, community)[-1].split()[2].startswith("AuditorKeyRevoked(")


def test_a_revoked_role_is_gone_and_revoking_it_again_is_refused(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    sender, member = DirectSender(accounts[1]), accounts[6].address
    admin.execute(chain, admin.grant_role(community, Roles.COORDINATOR, member), sender)
    done = admin.execute(chain, admin.revoke_role(community, Roles.COORDINATOR, member), sender)
    assert done.event["account"] == member
    assert not chain.has_role(community, Roles.COORDINATOR, member)
    with pytest.raises(AdminRefused, match=f"{member} does not hold COORDINATOR"):
        admin.preflight(
            chain, admin.revoke_role(community, Roles.COORDINATOR, member), sender.address
        )


def test_a_withdrawn_admin_offer_cannot_be_accepted(
    chain: AdminChain, accounts: list[LocalAccount], community: int
) -> None:
    sender, offered = DirectSender(accounts[1]), accounts[7].address
    with pytest.raises(AdminRefused, match="has no admin transfer pending"):
        admin.preflight(chain, admin.cancel_admin_transfer(community), sender.address)
    admin.execute(chain, admin.transfer_admin(community, offered), sender)
    admin.execute(chain, admin.cancel_admin_transfer(community), sender)
    with pytest.raises(AdminRefused, match="has no admin transfer pending"):
        admin.preflight(chain, admin.accept_admin(community), offered)
    assert chain.admin_of(community) == sender.address
