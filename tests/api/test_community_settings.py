"""GET /v1/communities/{id}/settings over a real API on a real chain: the admin's screen reads
role holders (granted and revoked), a pending admin transfer, the fund's currency and threshold
and the time bank's limits as the contracts hold them; an unknown community is 404 and an id
that is no uint256 is 422."""

from __future__ import annotations

from web3 import Web3

from ledger.protocol.generated import Roles
from tests.e2e.conftest import LiveSystem, live, new_accounts

__all__ = ["live"]  # the fixture, shared with the end-to-end tests


def test_settings_answer_what_the_admin_set_and_who_holds_each_role(live: LiveSystem) -> None:
    admin, chair, treasurer, heir = new_accounts(4)
    client = live.client
    registry, fund, timebank = (
        client.contracts[k].functions for k in ("registry", "fund", "timebank")
    )
    client.act(admin, registry.createCommunity(Web3.keccak(text="settings")))
    cid: int = registry.communityCount().call()
    empty = client.get(f"/v1/communities/{cid}/settings")
    assert empty["currency"] == "" and empty["approvalThreshold"] == 0
    assert empty["pendingAdmin"] is None and empty["committeeSize"] == 0
    for account in (chair, treasurer):
        client.act(admin, registry.grantRole(cid, Roles.COMMITTEE, account.address))
    client.act(admin, registry.revokeRole(cid, Roles.COMMITTEE, treasurer.address))
    client.act(admin, registry.grantRole(cid, Roles.AUDITOR, treasurer.address))
    client.act(admin, fund.setCurrency(cid, b"CNY"))
    client.act(admin, fund.setApprovalThreshold(cid, 1))
    client.act(admin, timebank.setLimits(cid, -600, 6000))
    done = client.act(admin, registry.transferAdmin(cid, heir.address))
    client.wait_indexed(done["block"])

    settings = client.get(f"/v1/communities/{cid}/settings")
    assert settings["id"] == cid and settings["admin"] == admin.address
    assert settings["pendingAdmin"] == heir.address
    assert settings["roles"]["COMMITTEE"] == [chair.address]
    assert settings["roles"]["AUDITOR"] == [treasurer.address]
    assert settings["roles"]["REGISTRAR"] == [] and settings["roles"]["COORDINATOR"] == []
    assert settings["committeeSize"] == 1
    assert (settings["currency"], settings["approvalThreshold"]) == ("CNY", 1)
    assert (settings["floorMinutes"], settings["ceilingMinutes"]) == (-600, 6000)


def test_an_unknown_community_is_404_and_a_bad_id_422(live: LiveSystem) -> None:
    unknown = live.client.http.get("/v1/communities/999999/settings")
    assert unknown.status_code == 404 and unknown.json()["code"] == "UnknownCommunity"
    for bad in ("-1", "x", str(2**256)):
        answer = live.client.http.get(f"/v1/communities/{bad}/settings")
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["code"] == "InvalidRequest"
