"""The report's signature: valid as signed, broken by any edit, pinned to a trusted key; the key
file is created private and never overwritten; each rendering carries the findings."""

from __future__ import annotations

import copy
import stat
from pathlib import Path
from typing import Any

import pytest

from ledger.audit.report import (
    ReportError,
    fund_trail_csv,
    generate_key,
    load_key,
    markdown,
    render_html,
    sign,
    verify,
)


def _report() -> dict[str, Any]:
    return {
        "format": "commons-audit-report/1",
        "tool": "test",
        "generated_at": 1,
        "ok": False,
        "chain": {"chain_id": 31337, "from_block": 1, "to_block": 9, "block_hash": "0x01", "state_root": "0x02"},
        "deployment": {"record_hash": "sha256:00", "contracts": {}},
        "summary": {"findings": 1, "warnings": 0, "rules_broken": ["council.tally"], "blocks": 9,
                    "transactions": 3, "transactions_to_us": 3, "forwarded_requests": 1, "calls": 3,
                    "ballots_checked": 5, "signatures_verified": 5, "service_records_checked": 0,
                    "proofs_checked": 4, "proofs_failed": 1},
        "findings": [{"rule": "council.tally", "block": 9, "tx": None, "expected": "[3, 1, 0]",
                      "found": "[3, 6, 0]", "detail": "proposal 3: the contract's tally <is> not the recount"}],
        "warnings": [],
        "proposals": [{"id": 3, "community": 1, "roll_version": 1, "roll_size": 9, "recount_tally": [3, 1, 0],
                       "onchain_tally": [3, 6, 0], "recount_outcome": None, "onchain_outcome": "None",
                       "ballots": {"relayed": 4, "direct": 0, "skipped": 0}}],
        "funds": [], "grants": [], "payouts": [], "timebank": [],
        "bytecode": {"compiler": "0.8.28", "contracts": []},
        "fund_trail": [{"block": 5, "tx": "0xaa", "step": "income", "community": 1, "proposal": None,
                        "request": None, "amount": 800000, "currency": "CNY", "from": "Donation",
                        "to": "fund", "party": "0xbb", "reference": "0xcc"}],
    }  # fmt: skip


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "auditor.pem"
    generate_key(path)
    return path


def test_key_is_created_private_and_never_overwritten(key_file: Path) -> None:
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(ReportError, match="refusing to overwrite"):
        generate_key(key_file)


def test_signed_report_verifies(key_file: Path) -> None:
    document = sign(_report(), load_key(key_file))
    verdict = verify(document, load_key(key_file).public_key())
    assert verdict.valid and verdict.key_id == document["signature"]["key_id"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["proposals"][0]["recount_tally"].__setitem__(1, 6),
        lambda r: r["findings"].clear(),
        lambda r: r.__setitem__("ok", True),
        lambda r: r["fund_trail"][0].__setitem__("amount", 8_000_000),
    ],
    ids=["tally", "finding removed", "verdict", "fund trail"],
)
def test_report_edited_after_signing_fails_verification(key_file: Path, edit: Any) -> None:
    document = sign(_report(), load_key(key_file))
    edited = copy.deepcopy(document)
    edit(edited["report"])
    verdict = verify(edited)
    assert not verdict.valid and "edited after signing" in verdict.reason


def test_signature_by_another_key_is_refused_when_a_key_is_trusted(
    tmp_path: Path, key_file: Path
) -> None:
    other = tmp_path / "other.pem"
    generate_key(other)
    document = sign(_report(), load_key(other))
    assert verify(document).valid
    verdict = verify(document, load_key(key_file).public_key())
    assert not verdict.valid and "not by the trusted key" in verdict.reason


def test_unsigned_report_does_not_verify() -> None:
    verdict = verify(sign(_report(), None))
    assert not verdict.valid and verdict.reason == "the report is not signed"


def test_renderings_carry_the_findings_escaped(key_file: Path) -> None:
    document = sign(_report(), load_key(key_file))
    assert "| council.tally | 9 |" in markdown(document)
    page = render_html(document)
    assert "council.tally" in page and "&lt;is&gt;" in page and "<is>" not in page
    lines = fund_trail_csv(document["report"]).splitlines()
    assert lines[0].startswith("block,tx,step,community,proposal,request,amount,currency")
    assert lines[1].startswith("5,0xaa,income,1,,,800000,CNY,Donation,fund")
