"""A resident appoints and revokes a proxy in the browser (web/tests/proxies.mjs, phone,
Chinese). Here: the community the story starts from, and the chain's side afterwards (the
appointment and the revocation landed, signed by the resident, gasless). Screenshots in
test-artifacts/web-proxies/."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.protocol.generated import Roles
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-proxies"


@needs_browser
def test_a_resident_appoints_and_revokes_a_proxy_in_the_page(
    served: LiveSystem, tmp_path: Path
) -> None:
    live = served
    admin, resident, proxy = new_accounts(3)
    registry = live.client.contracts["registry"]
    live.client.act(admin, registry.functions.createCommunity(b"\x05" * 32))
    cid = int(registry.functions.communityCount().call())
    assert cid == 1, "the page opens on community 1"
    live.client.act(admin, registry.functions.grantRole(cid, Roles.REGISTRAR, admin.address))
    live.client.act(
        admin, registry.functions.updateRoll(cid, [resident.address, proxy.address], [], True)
    )
    seed = {
        "community": cid,
        "resident": {"key": resident.key.hex(), "address": resident.address},
        "proxy": proxy.address,
    }
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))

    result = run_story("proxies.mjs", live.url, ARTIFACTS, {}, seed=seed_file)

    mandates = live.client.contracts["mandates"].functions
    assert mandates.mandateOf(cid, resident.address).call()[0] == "0x" + "00" * 20
    assert mandates.nonceOf(resident.address).call() == 2  # appointed, then revoked
    assert live.w3.eth.get_balance(resident.address) == 0  # gasless
    shots = {name.split("-", 1)[1] for name in result["screenshots"]}
    assert {"proxy-none.png", "proxy-appointed.png", "proxy-revoked.png"} <= shots
