"""Faults of the audit: a resumed run's signature count, findings that printed Python bytes,
and `commons verify-receipt` for a ballot whose batch the chain re-mined after a reorg."""

from __future__ import annotations

import json
import time
from typing import Any

from eth_account import Account
from typer.testing import CliRunner

from commons.cli import app
from ledger.audit.bytecode import Build
from ledger.node import rpc
from tests.audit.conftest import History, cli_env, findings_of
from tests.audit.test_audit_live import _set_storage, _slot, _storage

runner = CliRunner()


# ---------------------------------------------------------------------- signature counts


def test_resumed_audit_after_new_blocks_counts_every_ballot_signature(history: History) -> None:
    whole = history.audit(resume=False)
    verified = whole.report["summary"]["signatures_verified"]
    assert verified >= 20
    rpc(history.w3, "anvil_mine", [hex(2)])
    again = history.audit(resume=True)
    assert again.report["summary"]["resumed_from_block"] == whole.report["chain"]["to_block"] + 1
    assert again.report["summary"]["signatures_verified"] == verified


# --------------------------------------------------------------------- findings' values


def test_payout_findings_print_addresses_and_hashes_not_python_bytes(
    fresh: History, build: Build
) -> None:
    fund = fresh.record["contracts"]["fund"]["address"]
    slot = _slot(build, "CommunityFund", "_payouts", 1, "recipient")
    word = _storage(fresh.w3, fund, slot)
    stranger = Account.create().address
    _set_storage(fresh.w3, fund, slot, (word >> 160 << 160) | int(stranger, 16))

    result = fresh.audit()

    payout = [f for f in findings_of(result, "fund.balance") if "payoutOf" in f.detail]
    assert len(payout) == 1 and stranger in (payout[0].found or "")
    for finding in result.findings:
        text = f"{finding.expected} {finding.found} {finding.detail}"
        assert "b'" not in text and "\\x" not in text, text


# -------------------------------------------------------------- reorg and verify-receipt


def _wait_block_changes(history: History, receipt_id: str, block: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = history.live.client.get(f"/v1/receipts/{receipt_id}")
        if now["status"] == "counted" and now["block"] not in (None, block):
            return dict(now)
        time.sleep(0.2)
    raise AssertionError("the relay did not land the ballot again after the reorg")


def test_verify_receipt_follows_a_ballot_re_mined_after_a_reorg(history: History) -> None:
    client, keys = history.live.client, history.keys
    garden = history.made["proposals"]["garden"]
    before = history.snapshot()
    kept = client.wait(client.ballot(keys["resident8"], garden, 1)["id"])
    assert kept["status"] == "counted"
    rpc(history.w3, "evm_revert", [before])  # the batch's block is gone
    rpc(history.w3, "anvil_mine", [hex(2)])  # and the chain grew past it without it
    now = _wait_block_changes(history, kept["id"], kept["block"])
    url = history.live.node.url
    council = history.record["contracts"]["council"]["address"]
    result = runner.invoke(app, ["verify-receipt", json.dumps(kept), "--rpc-url", url,
                                 "--council", council, "--option", "1"],
                           env=cli_env(history), catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"block {now['block']}" in result.output


def test_verify_receipt_follows_the_digest_when_its_transaction_was_replaced(
    history: History,
) -> None:
    # A batch the chain lost whose nonce another transaction took is sent again in a new
    # transaction: the receipt the resident kept names a hash the chain never mined.
    kept = {**history.ballot_receipt, "txHash": "0x" + "ee" * 32}
    council = history.record["contracts"]["council"]["address"]
    result = runner.invoke(app, ["verify-receipt", json.dumps(kept), "--rpc-url",
                                 history.live.node.url, "--council", council],
                           env=cli_env(history), catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "[ok] followed" in result.output and history.ballot_receipt["txHash"] in result.output


def test_verify_receipt_follows_a_digest_given_alone_to_its_transaction(history: History) -> None:
    digest = history.ballot_receipt["detail"]
    fields = f"tx=0x{'ee' * 32},digest={digest}"
    result = runner.invoke(app, ["verify-receipt", fields, "--rpc-url", history.live.node.url],
                           env=cli_env(history), catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "[ok] followed" in result.output and history.ballot_receipt["txHash"] in result.output
