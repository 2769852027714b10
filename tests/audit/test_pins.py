"""Pins: a signed report's (or an anchor's) audited head must stay on the chain. History rewritten under a pin
(a rewind past it, then new blocks) is named; a clean chain gives nothing; a pin whose report's
signature fails counts for nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from commons.cli import app
from ledger.audit.report import sign
from ledger.config import Settings
from ledger.node import ephemeral_node, rpc
from tests.audit.conftest import History, cli_env, findings_of

KEY = Ed25519PrivateKey.generate()


def _pin_report(history: History, directory: Path, *, number: int | None = None) -> Path:
    """A signed report pinning the head (as `commons audit` writes its chain section)."""
    header: Any = history.w3.eth.get_block(number if number is not None else "latest")
    body = {
        "chain": {
            "chain_id": history.w3.eth.chain_id,
            "from_block": 0,
            "to_block": header["number"],
            "block_hash": "0x" + bytes(header["hash"]).hex(),
            "state_root": "0x" + bytes(header["stateRoot"]).hex(),
        },
        "findings": [],
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(json.dumps(sign(body, KEY)))
    return path


def _new_history(history: History, blocks: int) -> None:
    """Blocks that differ from plain `evm_mine` blocks at the same height (later timestamps)."""
    for _ in range(blocks):
        rpc(history.w3, "evm_increaseTime", [600])
        rpc(history.w3, "evm_mine")


def test_pinned_block_rewritten_after_a_rewind_is_named(fresh: History, tmp_path: Path) -> None:
    rewind = fresh.snapshot()
    rpc(fresh.w3, "evm_mine")
    rpc(fresh.w3, "evm_mine")
    pinned_number = fresh.w3.eth.block_number
    report = _pin_report(fresh, tmp_path / "earlier")
    pinned_hash = json.loads(report.read_text())["report"]["chain"]["block_hash"]
    fresh.revert(rewind)
    _new_history(fresh, 4)  # the same height and beyond, another history

    result = fresh.audit(pins=[tmp_path])

    [finding] = findings_of(result, "chain.pin")
    found_hash = "0x" + bytes(fresh.w3.eth.get_block(pinned_number)["hash"]).hex()
    assert finding.block == pinned_number
    assert (finding.expected, finding.found) == (pinned_hash, found_hash)
    assert str(report) in finding.detail
    assert result.report["pins"] == {"checked": 1, "anchors": 0, "broken": 1}


def test_pinned_block_beyond_a_rewound_head_is_named(fresh: History, tmp_path: Path) -> None:
    rewind = fresh.snapshot()
    for _ in range(3):
        rpc(fresh.w3, "evm_mine")
    pinned_number = fresh.w3.eth.block_number
    _pin_report(fresh, tmp_path)
    fresh.revert(rewind)

    result = fresh.audit(pins=[tmp_path / "report.json"])

    [finding] = findings_of(result, "chain.pin")
    assert finding.block == pinned_number
    assert "beyond the head" in finding.detail


def test_clean_chain_with_earlier_pins_gives_no_finding(fresh: History, tmp_path: Path) -> None:
    deployed = int(fresh.record["block"])
    _pin_report(fresh, tmp_path / "a", number=deployed)
    _pin_report(fresh, tmp_path / "b")
    _new_history(fresh, 2)

    result = fresh.audit(pins=[tmp_path])

    assert result.ok, result.findings
    assert result.report["pins"] == {"checked": 2, "anchors": 0, "broken": 0}


def test_pin_whose_signature_fails_is_ignored_with_a_warning(
    fresh: History, tmp_path: Path
) -> None:
    rewind = fresh.snapshot()
    rpc(fresh.w3, "evm_mine")
    report = _pin_report(fresh, tmp_path)
    document = json.loads(report.read_text())
    document["report"]["chain"]["from_block"] = 1  # edited after signing
    report.write_text(json.dumps(document))
    fresh.revert(rewind)
    _new_history(fresh, 3)

    result = fresh.audit(pins=[tmp_path])

    assert findings_of(result, "chain.pin") == []
    assert result.report["pins"]["checked"] == 0
    [warning] = [w for w in result.warnings if w.topic == "chain.pin"]
    assert str(report) in warning.detail and "does not match" in warning.detail


def test_cli_audit_checks_the_pins_of_its_own_earlier_reports(fresh: History) -> None:
    """By default `commons audit` checks the signed reports it wrote in its data dir."""
    runner = CliRunner()
    env = cli_env(fresh)
    rewind = fresh.snapshot()
    rpc(fresh.w3, "evm_mine")
    reports = fresh.settings.data_dir / "audit" / "reports"
    _pin_report(fresh, reports / "earlier")
    try:
        fresh.revert(rewind)
        _new_history(fresh, 2)
        result = runner.invoke(
            app, ["audit", "--fresh", "--quiet", "--out", str(reports.parent / "now")], env=env
        )
    finally:
        (reports / "earlier" / "report.json").unlink()
    assert result.exit_code == 1, result.output
    assert "[chain.pin]" in result.output and "history was rewritten" in result.output


# --------------------------------------------------------------------------- anchors


def test_anchor_is_read_back_from_the_second_network_and_names_a_rewrite(
    fresh: History, settings: Settings, accounts: list[LocalAccount]
) -> None:
    anchors = fresh.settings.data_dir / "audit" / "anchors.json"
    with ephemeral_node(settings) as other:
        env = {**cli_env(fresh), "COMMONS_ANCHOR_KEY": accounts[3].key.hex()}
        rewind = fresh.snapshot()
        rpc(fresh.w3, "evm_mine")
        try:
            made = CliRunner().invoke(app, ["anchor", "--to", other.url], env=env)
            assert made.exit_code == 0, made.output
            [record] = json.loads(anchors.read_text())
            tx: Any = other.w3.eth.get_transaction(record["tx"])
            assert tx["to"] == tx["from"] == accounts[3].address
            assert bytes(tx["input"])[36:68].hex() == record["hash"][2:]

            clean = fresh.audit(anchors=anchors)
            assert clean.ok, clean.findings
            assert clean.report["pins"]["anchors"] == 1

            # The file only says where to look: a hash edited in it changes nothing.
            edited = {**record, "hash": "0x" + "00" * 32}
            anchors.write_text(json.dumps([edited]))
            fresh.revert(rewind)
            _new_history(fresh, 2)
            rewritten = fresh.audit(anchors=anchors)
        finally:
            anchors.unlink(missing_ok=True)

    [finding] = findings_of(rewritten, "chain.pin")
    assert finding.block == record["number"]
    assert finding.expected == record["hash"] and record["tx"] in finding.detail


def test_pinned_block_replaced_by_a_deep_anvil_reorg_is_named(
    fresh: History, tmp_path: Path, accounts: list[LocalAccount]
) -> None:
    for _ in range(4):
        rpc(fresh.w3, "evm_mine")
    pinned_number = fresh.w3.eth.block_number - 2
    _pin_report(fresh, tmp_path, number=pinned_number)
    # The newest 3 blocks replaced; a transfer lands in the first of them, so it differs.
    transfer = {"from": accounts[2].address, "to": accounts[3].address, "value": hex(1)}
    rpc(fresh.w3, "anvil_reorg", [3, [[transfer, 0]]])

    result = fresh.audit(pins=[tmp_path])

    [finding] = findings_of(result, "chain.pin")
    assert finding.block == pinned_number and "history was rewritten" in finding.detail
