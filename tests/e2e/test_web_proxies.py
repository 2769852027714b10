"""A resident appoints and revokes a proxy in the browser (web/tests/proxies.mjs, phone,
Chinese); another, whose proxy lost their phone, is told so and appoints the proxy's new key.
Here: the community the story starts from (the second resident's mandate, and the registrar's
replacement of that proxy's key), and the chain's side afterwards (the appointments and the
revocation landed, signed by the residents, gasless). Screenshots in test-artifacts/web-proxies/."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ledger.protocol.generated import MandateScope, Roles
from ledger.signing.mandates import MandateDomain, make_mandate, sign_mandate
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-proxies"


@needs_browser
def test_a_resident_appoints_and_revokes_a_proxy_in_the_page(
    served: LiveSystem, tmp_path: Path
) -> None:
    live = served
    admin, resident, proxy, other, old_phone, new_phone = new_accounts(6)
    registry = live.client.contracts["registry"]
    live.client.act(admin, registry.functions.createCommunity(b"\x05" * 32))
    cid = int(registry.functions.communityCount().call())
    assert cid == 1, "the page opens on community 1"
    live.client.act(admin, registry.functions.grantRole(cid, Roles.REGISTRAR, admin.address))
    roll = [resident.address, proxy.address, other.address, old_phone.address]
    live.client.act(admin, registry.functions.updateRoll(cid, roll, [], True))
    # `other` appointed the neighbour whose phone, and key, the registrar then replaced.
    mandates = live.client.contracts["mandates"]
    domain = MandateDomain(int(live.w3.eth.chain_id), mandates.address)
    mandate = make_mandate(cid, other.address, old_phone.address, MandateScope.AllVotes, 0, 0)
    body = {"act": "appoint", "communityId": cid, "resident": other.address,
            "proxy": old_phone.address, "scope": 0, "voteId": 0, "nonce": 0,
            "signature": "0x" + sign_mandate(other, mandate, domain).signature.hex()}  # fmt: skip
    accepted = httpx.post(f"{live.url}/v1/mandates", json=body, timeout=30).json()
    assert live.client.wait_all([accepted])[0]["status"] == "counted"
    replace = registry.functions.replaceResident(cid, old_phone.address, new_phone.address)
    live.client.act(admin, replace)
    seed = {
        "community": cid,
        "resident": {"key": resident.key.hex(), "address": resident.address},
        "proxy": proxy.address,
        "other": {"key": other.key.hex(), "address": other.address},
        "oldPhone": old_phone.address,
        "newPhone": new_phone.address,
    }
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))

    result = run_story("proxies.mjs", live.url, ARTIFACTS, {}, seed=seed_file)

    fns = mandates.functions
    assert fns.mandateOf(cid, resident.address).call()[0] == "0x" + "00" * 20
    assert fns.nonceOf(resident.address).call() == 2  # appointed, then revoked
    assert fns.mandateOf(cid, other.address).call()[0] == new_phone.address
    assert live.w3.eth.get_balance(resident.address) == 0  # gasless
    assert live.w3.eth.get_balance(other.address) == 0
    shots = {name.split("-", 1)[1] for name in result["screenshots"]}
    assert {"proxy-none.png", "proxy-appointed.png", "proxy-revoked.png"} <= shots
    assert {"proxy-retired.png", "proxy-new-key.png"} <= shots
