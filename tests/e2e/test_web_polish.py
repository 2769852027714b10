"""Things that must simply work, in a real browser at phone size (web/tests/polish.mjs) against
the real API, contracts and anvil: the audit view verifies a real-shaped signed report itself
(floats such as 2.0 and integers above 2^53 in it), shows its time as a date and an unsigned
report as unsigned, without sideways overflow at 390 px; the Chinese demo proposal and milestone
read in Chinese with the hashes under "details"; a ballot receipt saved from the page as a file
is confirmed by `commons verify-receipt FILE` on the configured node. Screenshots in
test-artifacts/web-polish/."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.audit.report import generate_key, load_key, render_html, sign
from tests.audit.test_report import _report as _base_report
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem

ARTIFACTS = ARTIFACTS_ROOT / "web-polish"
COMMONS = str(Path(sys.executable).parent / "commons")


def _report(live: LiveSystem, key: Path | None, folder: str, generated_at: int) -> None:
    """A report as `commons audit` writes them (timings are floats, some whole), in the API's
    report directory, signed with `key` or unsigned."""
    head = live.w3.eth.block_number
    report = {
        "chain": {"chain_id": live.client.chain_id, "from_block": 0, "to_block": head},
        "findings": [],
        "generated_at": generated_at,
        "ok": True,
        "timings": {"walk_s": 2.0, "checks_s": 0.125, "total_s": 0.0},
        "summary": {"largest": 123_456_789_012_345_678_901},
    }
    where = live.data_dir / "var" / "audit" / "reports" / folder
    where.mkdir(parents=True, exist_ok=True)
    (where / "report.json").write_text(json.dumps(sign(report, load_key(key) if key else None)))


def _wide_report() -> dict[str, Any]:
    """A report whose tables are wider than a phone: long hashes and many columns."""
    report = copy.deepcopy(_base_report())
    report["funds"] = [{"community": 1, "currency": "CNY", "total_income": 920_000,
                        "available": 420_000, "reserved": 300_000, "total_paid": 200_000,
                        "threshold": 2}]  # fmt: skip
    row = {"block": 5, "tx": "0x" + "ab" * 32, "step": "income", "community": 1, "proposal": 1,
           "request": 1, "amount": 920_000, "currency": "CNY", "from": "0x" + "cd" * 20,
           "to": "fund", "party": "0x" + "ef" * 20, "reference": "0x" + "12" * 32}  # fmt: skip
    report["fund_trail"] = [row] * 20
    return report


@needs_browser
def test_audit_receipts_and_chinese_demo_work_for_a_resident_on_a_phone(
    served: LiveSystem, seeded: dict[str, Any], tmp_path: Path
) -> None:
    keys: dict[str, LocalAccount] = seeded["keys"]
    garden = seeded["proposals"]["garden"]
    voter = keys["resident7"]
    counted = served.client.wait(served.client.ballot(voter, garden, 0)["id"])
    assert counted["status"] == "counted"
    key = tmp_path / "auditor.pem"
    generate_key(key)
    generated = int(time.time()) - 3600
    _report(served, key, "polish-signed", generated)
    receipt = {  # as the page keeps it after voting (web/src/receipts.ts)
        "id": counted["id"],
        "proposalId": garden,
        "communityId": seeded["community"],
        "voter": voter.address,
        "option": 0,
        "label": "赞成",
        "digest": counted["detail"],
        "acceptedAt": generated,
        "status": "queued",
    }
    html_report = tmp_path / "report.zh.html"
    html_report.write_text(render_html(sign(_wide_report(), None), "zh"))
    seed = {
        "htmlReport": str(html_report),
        "community": seeded["community"],
        "garden": garden,
        "playground": seeded["proposals"]["playground"],
        "receipt": receipt,
        "generatedAt": generated,
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))

    def unsigned_report(_: dict[str, Any]) -> None:
        _report(served, None, "polish-unsigned", generated + 60)

    result = run_story(
        "polish.mjs",
        served.url,
        ARTIFACTS,
        {"unsigned-report": unsigned_report},
        seed=tmp_path / "seed.json",
    )

    steps = {s["name"]: s for s in result["steps"]}
    audit = steps["audit-verified-in-the-browser-at-phone-size"]
    assert audit["browser"] == "true" and audit["overflow"] <= 0
    assert str(generated) not in audit["generated"] and audit["generated"].strip()
    assert steps["unsigned-report-says-unsigned"]["browser"] == "unsigned"
    assert steps["html-report-in-chinese-fits-a-phone"]["overflow"] <= 0
    demo = steps["chinese-demo-proposal-and-milestone"]
    assert "社区花园" in demo["text"] and "照片" in demo["milestone"]
    assert "0x" not in demo["visible"] and "keccak" not in demo["visible"].lower()

    saved = Path(steps["receipt-saved-as-a-file-and-shown-as-qr"]["file"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMONS_")} | served.env
    verified = subprocess.run(
        [COMMONS, "verify-receipt", str(saved)], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"your ballot on proposal {garden} (option 0) is on-chain and counted" in (
        verified.stdout
    )
