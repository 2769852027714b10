"""Finding each other by name in the browser (web/tests/names.mjs), against the real API, the
real contracts and a real anvil, at phone size in Chinese: two demo residents set display names,
one logs a service for the other found by name and by a scanned QR code, the other confirms it.
The minutes are read back here from the contract itself. Screenshots in test-artifacts/web-names/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from tests.e2e.browser import (
    ARTIFACTS_ROOT,
    needs_browser,
    needs_node,
    node_tests,
    run_story,
)
from tests.e2e.conftest import LiveSystem

ARTIFACTS = ARTIFACTS_ROOT / "web-names"


@needs_node
def test_qr_codes_are_read_as_eip681_or_plain_addresses_under_node() -> None:
    node_tests("names.unit.test.mjs")


def _who(account: LocalAccount) -> dict[str, str]:
    return {"address": account.address, "key": "0x" + bytes(account.key).hex()}


@needs_browser
def test_residents_find_each_other_by_name_and_qr_code_and_record_a_service(
    served: LiveSystem, seeded: dict[str, Any], tmp_path: Path
) -> None:
    keys: dict[str, LocalAccount] = seeded["keys"]
    community: int = seeded["community"]
    giver, neighbour = keys["resident3"], keys["resident4"]
    seed = {"community": community, "giver": _who(giver), "neighbour": _who(neighbour)}
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    timebank = served.client.contracts["timebank"].functions
    before = [timebank.balanceOf(community, a.address).call() for a in (giver, neighbour)]

    result = run_story("names.mjs", served.url, ARTIFACTS, {}, seed=tmp_path / "seed.json")

    steps = {s["name"] for s in result["steps"]}
    assert {
        "two-residents-set-their-names",
        "service-logged-for-a-neighbour-found-by-name",
        "the-neighbour-confirms-it",
        "a-neighbour-found-by-scanning-their-qr-code",
        "locked-keys-show-no-names",
    } <= steps
    after = [timebank.balanceOf(community, a.address).call() for a in (giver, neighbour)]
    assert after == [before[0] + 30, before[1] - 30], "the confirmed service moved 30 minutes"
    for view in ("keys-names", "timebank-search"):
        for lang in ("zh", "en"):
            assert f"{view}-{lang}" in result["a11y"], f"axe-core checked {view} in {lang}"
    assert all((ARTIFACTS / name).stat().st_size > 5_000 for name in result["screenshots"])
    print(f"screenshots and story.json in {ARTIFACTS}")
