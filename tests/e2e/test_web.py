"""The web page end to end: Debian's Chromium (headless, driven by Playwright) against the real
API server, the real contracts and a real anvil. A resident creates a key in the browser and
votes, committee members open, publish and pay out a proposal, and the page shows the trail —
every step checked again here against the chain itself, not only against what the page says.

The browser half is web/tests/story.mjs; it asks this test (one JSON line on its stdout, one
answer on its stdin) for what only the chain's operator can do: put the new resident on the
roll, let voting time pass, stop the API. Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.report import generate_key, load_key, load_public_key, raw_public_key, sign
from ledger.audit.signers import fingerprint
from ledger.protocol.generated import Roles
from tests.contract_wrappers.registry import RegistryContract
from tests.e2e.browser import (
    ARTIFACTS_ROOT,
    needs_browser,
    needs_node,
    node_tests,
    run_story,
)
from tests.e2e.conftest import LiveSystem

KEYSTORE_PASSWORD = "chair's keystore password"
ARTIFACTS = ARTIFACTS_ROOT / "web"


@needs_node
def test_page_units_pass_under_node() -> None:
    """Money parsing, EIP-712 type strings, i18n parity, the audit signature check (web/tests/unit.test.mjs)."""
    node_tests("unit.test.mjs")


# The page's views, as the story names them in its axe-core figures and screenshots.
PAGE_VIEWS = ("proposals", "proposal", "receipts", "timebank", "committee", "fund", "audit", "keys")

AUDITOR_INDEX = 7  # a funded development account the story does not otherwise use


def _unregistered_report(live: LiveSystem, tmp_path: Path) -> Path:
    """A signed report in the API's report directory, by a fresh key; the key's path."""
    key = tmp_path / "report-key.pem"
    generate_key(key)
    head = live.w3.eth.block_number
    report = {
        "chain": {"chain_id": live.client.chain_id, "from_block": 0, "to_block": head},
        "findings": [],
        "generated_at": int(time.time()),
        "ok": True,
    }
    folder = live.data_dir / "var" / "audit" / "reports" / "by-hand"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(sign(report, load_key(key))))
    return key


def _keystore(account: LocalAccount, path: Path) -> Path:
    # A light scrypt cost keeps the browser's decryption quick; the format is the standard one.
    path.write_text(json.dumps(Account.encrypt(account.key, KEYSTORE_PASSWORD, iterations=2**14)))
    return path


@needs_browser
def test_resident_votes_committee_publishes_and_pays_out_in_the_browser(
    served: LiveSystem, seeded: dict[str, Any], tmp_path: Path, accounts: list[LocalAccount]
) -> None:
    live = served
    keys: dict[str, LocalAccount] = seeded["keys"]
    community: int = seeded["community"]
    chair, treasurer, secretary = keys["chair"], keys["treasurer"], keys["secretary"]
    c = live.client.contracts
    seed = {
        "community": community,
        "contractor": keys["contractor"].address,
        "chair": {
            "address": chair.address,
            "keystore": str(_keystore(chair, tmp_path / "chair-keystore.json")),
            "password": KEYSTORE_PASSWORD,
            "key": "0x" + bytes(chair.key).hex(),  # only so the story can search requests for it
        },
        "treasurer": {"address": treasurer.address, "key": "0x" + bytes(treasurer.key).hex()},
        "secretary": {"address": secretary.address, "key": "0x" + bytes(secretary.key).hex()},
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))

    def add_to_roll(need: dict[str, Any]) -> None:
        registry = c["registry"].functions
        done = live.client.act(
            keys["registrar"], registry.updateRoll(community, [need["address"]], [], True)
        )
        live.client.wait_indexed(done["block"])

    def close_voting(need: dict[str, Any]) -> None:
        closes = live.client.get(f"/v1/proposals/{need['proposal']}")["closesAt"]
        now = live.w3.eth.get_block("latest")["timestamp"]
        live.rpc("evm_increaseTime", [max(1, closes - now + 2)])
        live.rpc("evm_mine")
        assert live.client.get(f"/v1/proposals/{need['proposal']}")["state"] == "Closed"

    def stop_api(_: dict[str, Any]) -> None:
        live.stop_api()

    # A report on the server signed with a key nobody registered: the page must warn, until the
    # community's auditor registers that key.
    report_key = _unregistered_report(live, tmp_path)
    auditor = accounts[AUDITOR_INDEX]

    def register_report_key(_: dict[str, Any]) -> None:
        registry = c["registry"].functions
        live.client.act(
            keys["admin"], registry.grantRole(community, Roles.AUDITOR, auditor.address)
        )
        fp = fingerprint(raw_public_key(load_public_key(report_key)))
        RegistryContract(live.w3, c["registry"]).register_auditor_key(auditor, community, fp)

    try:
        result = run_story(
            "story.mjs",
            live.url,
            ARTIFACTS,
            {
                "roll": add_to_roll,
                "close-voting": close_voting,
                "stop-api": stop_api,
                "register-report-key": register_report_key,
            },
            seed=tmp_path / "seed.json",
        )
    finally:
        if live.proc is None or live.proc.poll() is not None:
            live.start_api()  # leave the module's system as it was found

    assert len(result["a11y"]) >= 10, "axe-core checked the main views"
    assert len(result["screenshots"]) >= 15
    assert all((ARTIFACTS / name).stat().st_size > 10_000 for name in result["screenshots"])
    print(f"screenshots and story.json (axe figures by view) in {ARTIFACTS}")

    # Every view, in both languages, at phone and desktop size: checked by axe-core, and
    # photographed at phone size.
    for view in PAGE_VIEWS:
        for lang in ("zh", "en"):
            for size in ("phone", "desktop"):
                assert f"{view}-{lang}-{size}" in result["a11y"], f"axe-core checked {view}"
            assert any(name.endswith(f"-phone-{view}-{lang}.png") for name in result["screenshots"])
    steps = {s["name"] for s in result["steps"]}
    assert {
        "key-mistakes-said-plainly",
        "refusal-after-unlock-is-said",
        "keyboard-alone",
        "every-view-both-languages-phone-and-desktop",
        "large-text-persists",
    } <= steps

    # The audit view: the browser checks the signature itself, and names a signer only once its
    # key is registered by an auditor on-chain.
    (audit,) = [s for s in result["steps"] if s["name"] == "audit-report"]
    assert audit["audit"] == "shown"
    assert audit["before"]["browser"] == "true" and audit["before"]["registered"] == "false"
    assert "not signed by a registered auditor" in audit["before"]["text"].lower() or (
        "并非由已登记的审计员签名" in audit["before"]["text"]
    )
    assert audit["after"]["browser"] == "true"
    assert audit["after"]["auditor"] == auditor.address

    # What the page claims, re-read from the chain.
    resident = Web3.to_checksum_address(result["resident"])
    proposal, request = result["proposal"], result["request"]
    council, fund, timebank = c["council"].functions, c["fund"].functions, c["timebank"].functions
    assert council.hasVoted(proposal, resident).call()
    view = council.getProposal(proposal).call()
    assert view.outcome == 1, "the proposal was finalized as Passed"
    assert view.execution in (1, 2) and view.milestoneCount == 1, (
        "one execution milestone was recorded"
    )
    payout = fund.payoutOf(request).call()
    assert payout.recipient == keys["contractor"].address and payout.amount == 60_000
    assert payout.status == 2, "the payout was executed"
    assert set(payout.approvers) == {chair.address, secretary.address}
    assert payout.requester == treasurer.address
    assert timebank.balanceOf(community, resident).call() == 30
