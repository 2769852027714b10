"""The page's Admin view, every act, in Debian's Chromium against the real API and chain
(web/tests/admin_acts.mjs): the currency, roles granted and revoked, the payout threshold, the
time-bank limits, the admin role offered, withdrawn, offered again and accepted by the heir in
the page; each stated before it is signed in the browser, and checked here against the chain.
Screenshots in test-artifacts/admin-page/."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from web3 import Web3

from ledger.protocol.generated import Roles
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem

ZERO = "0x" + "00" * 20


@needs_browser
def test_every_admin_act_is_stated_signed_in_the_page_and_recorded_on_chain(
    served: LiveSystem,
) -> None:
    live = served
    admin, heir = Account.create(), Account.create()
    member, second, coordinator = (Account.create().address for _ in range(3))
    registry = live.client.contracts["registry"].functions
    live.client.act(admin, registry.createCommunity(Web3.keccak(text="admin page")))
    community: int = registry.communityCount().call()
    assert community == 1, "the page shows the first community"

    def keys(_: dict[str, Any]) -> dict[str, str]:
        return {"admin": "0x" + bytes(admin.key).hex(), "heir": "0x" + bytes(heir.key).hex(),
                "member": member, "second": second, "coordinator": coordinator}  # fmt: skip

    result = run_story("admin_acts.mjs", live.url, ARTIFACTS_ROOT / "admin-page", {"keys": keys})

    said = result["said"]
    assert "committee's size (2)" in said["tooMany"] and "0 or less" in said["badLimits"]
    assert said["cancel"].startswith("Withdraw the pending offer of community 1")
    fund = live.client.contracts["fund"].functions.fundOf(community).call()
    assert (fund.currency, fund.approvalThreshold) == (b"CNY", 2)
    limits = live.client.contracts["timebank"].functions.limitsOf(community).call()
    assert list(limits) == [-120, 240]
    assert registry.hasRole(community, Roles.COMMITTEE, member).call()
    assert registry.hasRole(community, Roles.COMMITTEE, second).call()
    assert not registry.hasRole(community, Roles.COORDINATOR, coordinator).call()
    assert registry.communityAdmin(community).call() == heir.address
    assert registry.pendingAdmin(community).call() == ZERO
    # Every act was the signer's own: the relayer paid, neither key holds any ether.
    assert live.w3.eth.get_balance(admin.address) == live.w3.eth.get_balance(heir.address) == 0
