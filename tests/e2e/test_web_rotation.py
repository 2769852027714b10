"""A lost phone in the browser (web/tests/rotation.mjs, phone, Chinese): a resident with a
time-bank balance makes a new key, the registrar replaces the old key with it on the Roll tab, the
new key shows the same balance, and the old key's record is refused in plain words. Here: the
community the story starts from, and the chain's side afterwards (the rotation recorded, the
balance moved, the sum still zero, the audit's view of it). Screenshots in
test-artifacts/web-rotation/."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger.protocol.generated import Roles
from ledger.signing.services import ServiceRecord, category_code, sign_both, timebank_domain
from ledger.tx import send
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-rotation"
MINUTES = 45


def _community(live: LiveSystem, relayer: LocalAccount) -> dict[str, object]:
    """A community whose admin is its registrar, with residents `old` and `neighbour`; `old`
    served `neighbour` for MINUTES minutes (both signed, sent as a plain transaction)."""
    admin, old, neighbour = new_accounts(3)
    registry, bank = live.client.contracts["registry"], live.client.contracts["timebank"]
    live.client.act(admin, registry.functions.createCommunity(b"\x02" * 32))
    cid = int(registry.functions.communityCount().call())
    live.client.act(admin, registry.functions.grantRole(cid, Roles.REGISTRAR, admin.address))
    roll = [old.address, neighbour.address]
    live.client.act(admin, registry.functions.updateRoll(cid, roll, [], True))
    # `old` is also a poll officer: the replacement leaves that role with the old key, and says so.
    live.client.act(admin, registry.functions.grantRole(cid, Roles.POLL_OFFICER, old.address))
    record = ServiceRecord(
        old.address, neighbour.address, MINUTES, category_code("CARE"), b"\x33" * 32, 1
    )
    domain = timebank_domain(live.client.chain_id, bank.address)
    item = sign_both(old, neighbour, domain, cid, record)
    done = send(live.w3, relayer, bank.functions.recordService(cid, item.as_tuple()))
    live.client.wait_indexed(int(done["blockNumber"]))
    return {
        "community": cid,
        "minutes": MINUTES,
        "old": {"key": old.key.hex(), "address": old.address},
        "registrar": {"key": admin.key.hex(), "address": admin.address},
        "neighbour": neighbour.address,
    }


@needs_browser
def test_a_lost_phone_keeps_its_balance_and_the_old_key_is_refused_in_the_page(
    served: LiveSystem, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    live = served
    seed = _community(live, accounts[0])
    assert seed["community"] == 1, "the page opens on community 1"
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))

    result = run_story("rotation.mjs", live.url, ARTIFACTS, {}, seed=seed_file)

    cid, old = int(seed["community"]), str(seed["old"]["address"])  # type: ignore[index]
    new = result["state"]["fresh"]
    registry, bank = live.client.contracts["registry"], live.client.contracts["timebank"]
    assert registry.functions.newKeyOf(cid, old).call() == new
    assert not registry.functions.isResident(cid, old).call()
    assert registry.functions.isResident(cid, new).call()
    assert bank.functions.balanceOf(cid, new).call() == MINUTES
    assert bank.functions.balanceOf(cid, old).call() == 0
    assert bank.functions.isRetired(cid, old).call()
    # Gasless for the registrar: the relayer paid both calls.
    registrar = str(seed["registrar"]["address"])  # type: ignore[index]
    assert live.w3.eth.get_balance(registrar) == 0
    history = live.client.get(f"/v1/communities/{cid}/members/{new}/history")
    assert history["keys"] == [new, old] and history["carriedOver"][0]["minutes"] == MINUTES
    shots = {name.split("-", 1)[1] for name in result["screenshots"]}
    assert {"balance-old-key.png", "rotation-done.png", "balance-new-key.png"} <= shots
