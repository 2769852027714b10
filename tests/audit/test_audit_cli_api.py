"""`commons audit`, `commons verify-receipt` and the /v1/audit API against a live system (the
history fixture's chain and API server): exit statuses, one-line errors, signed reports."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from commons.cli import app
from ledger.audit.jobs import AuditBusy, AuditJob, AuditJobs, default_key_path
from ledger.audit.report import generate_key, load_key, read_document, sign
from ledger.node import rpc
from ledger.protocol.generated import Roles
from tests.audit.conftest import (
    History,
    audit_data_dir,
    auditor_account,
    cli_env,
    register_report_key,
)

runner = CliRunner()


def commons(history: History, *args: str) -> Any:
    return runner.invoke(app, list(args), env=cli_env(history), catch_exceptions=False)


@pytest.fixture(scope="module")
def signed(
    history: History, tmp_path_factory: pytest.TempPathFactory, accounts: list[LocalAccount]
) -> tuple[Path, Path]:
    """A key registered on-chain by the community's auditor and a clean signed report made
    through the CLI."""
    base = tmp_path_factory.mktemp("cli")
    key, out = base / "auditor.pem", base / "report"
    made = commons(history, "audit", "keygen", str(key))
    assert made.exit_code == 0 and "ed25519:" in made.output and "PRIVATE" not in made.output
    register_report_key(history, auditor_account(accounts), key)
    result = commons(history, "audit", "--key", str(key), "--out", str(out), "--fresh", "--quiet")
    assert result.exit_code == 0, result.output
    assert "CLEAN" in result.output
    return key, out


def test_cli_audit_writes_every_format(signed: tuple[Path, Path]) -> None:
    _, out = signed
    assert {p.name for p in out.iterdir()} == {
        "report.json",
        "report.md",
        "report.html",
        "fund-trail.csv",
    }
    assert "**CLEAN" in (out / "report.md").read_text()
    assert (out / "fund-trail.csv").read_text().count("payout_executed") == 1


def test_verify_report_accepts_the_signed_report_and_its_chain(
    history: History, signed: tuple[Path, Path]
) -> None:
    key, out = signed
    checked = commons(
        history,
        "audit",
        "verify-report",
        str(out / "report.json"),
        "--public-key",
        str(key),
        "--chain",
    )
    assert checked.exit_code == 0, checked.output
    assert "signature: VALID" in checked.output and "agrees with the report" in checked.output


def _auditor_env(history: History, account: LocalAccount) -> dict[str, str]:
    return {**cli_env(history), "COMMONS_AUDITOR_ACCOUNT_KEY": account.key.hex()}


def _resigned(document: dict[str, Any], key: Path, path: Path, **chain: int) -> Path:
    report = json.loads(json.dumps(document["report"]))
    report["chain"].update(chain)
    path.write_text(json.dumps(sign(report, load_key(key))))
    return path


def test_verify_report_names_the_registered_auditor_who_signed(
    history: History, signed: tuple[Path, Path], accounts: list[LocalAccount]
) -> None:
    _, out = signed
    checked = commons(history, "audit", "verify-report", str(out / "report.json"))
    assert checked.exit_code == 0, checked.output
    (line,) = [x for x in checked.output.splitlines() if x.startswith("signer:")]
    assert line.startswith("signer: REGISTERED (signed by registered auditor ")
    assert auditor_account(accounts).address in line
    assert f"of community {history.community} (key registered in block " in line


def test_verify_report_refuses_a_report_resigned_with_an_unregistered_key(
    history: History, signed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = signed
    document = read_document(out / "report.json")
    document["report"]["proposals"][0]["recount_tally"][0] += 1
    stranger = tmp_path / "stranger.pem"
    generate_key(stranger)
    forged = _resigned(document, stranger, tmp_path / "forged.json")
    checked = commons(history, "audit", "verify-report", str(forged))
    assert checked.exit_code == 1, checked.output
    assert "signature: VALID" in checked.output  # the forger's own signature holds...
    (line,) = [x for x in checked.output.splitlines() if x.startswith("signer:")]
    assert line.startswith("signer: REFUSED (signed by an unregistered key 0x")  # ...not its key
    assert "report:" not in checked.output


def test_cli_audit_says_when_its_signing_key_is_not_registered(
    history: History, signed: tuple[Path, Path], tmp_path: Path
) -> None:
    key = tmp_path / "unregistered.pem"
    generate_key(key)
    result = commons(history, "audit", "--key", str(key), "--out", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    assert "note: signed by an unregistered key 0x" in result.output
    assert "verify-report will refuse this report" in result.output
    again = tmp_path / "again"
    registered = commons(history, "audit", "--key", str(signed[0]), "--out", str(again), "--quiet")
    assert registered.exit_code == 0 and "note:" not in registered.output


def test_register_key_refused_for_an_account_without_the_auditor_role(
    history: History, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    key = tmp_path / "k.pem"
    generate_key(key)
    result = runner.invoke(
        app,
        ["audit", "register-key", "--community", str(history.community), "--key", str(key)],
        env=_auditor_env(history, accounts[8]),
        catch_exceptions=False,
    )
    assert result.exit_code == 2
    assert "MissingRole" in result.output and "Traceback" not in result.output


def test_a_revoked_key_is_refused_for_reports_of_the_blocks_from_its_revocation_on(
    fresh: History, signed: tuple[Path, Path], accounts: list[LocalAccount], tmp_path: Path
) -> None:
    _, out = signed
    document = read_document(out / "report.json")
    key = tmp_path / "second.pem"
    generate_key(key)
    env = _auditor_env(fresh, auditor_account(accounts))
    args = ["audit", "register-key", "--community", str(fresh.community), "--key", str(key)]
    registered = runner.invoke(app, args, env=env, catch_exceptions=False)
    assert registered.exit_code == 0, registered.output
    assert auditor_account(accounts).address in registered.output
    revoked = runner.invoke(app, ["audit", "revoke-key", "--key", str(key)], env=env)
    assert revoked.exit_code == 0, revoked.output
    at = int(revoked.output.rsplit("block ", 1)[1])
    before = _resigned(document, key, tmp_path / "before.json", to_block=at - 1)
    ok = commons(fresh, "audit", "verify-report", str(before))
    assert ok.exit_code == 0, ok.output
    assert f"revoked in block {at}, after the audited blocks" in ok.output
    for block in (at, at + 5):
        later = _resigned(document, key, tmp_path / f"at-{block}.json", to_block=block)
        refused = commons(fresh, "audit", "verify-report", str(later))
        assert refused.exit_code == 1, refused.output
        assert (
            f"signer: REFUSED (signed by a key of auditor {auditor_account(accounts).address}"
            in (refused.output)
        )
        assert f"revoked in block {at}, at or before the audited block {block}" in refused.output


def test_verify_report_fails_on_a_report_edited_after_signing(
    history: History, signed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = signed
    document = read_document(out / "report.json")
    document["report"]["proposals"][0]["recount_tally"][0] += 1
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(document))
    checked = commons(history, "audit", "verify-report", str(edited))
    assert checked.exit_code == 1
    assert "signature: INVALID" in checked.output and "edited after signing" in checked.output


def test_verify_report_chain_catches_a_signer_who_lied(
    history: History, signed: tuple[Path, Path], tmp_path: Path
) -> None:
    key, out = signed
    document = read_document(out / "report.json")
    report = document["report"]
    report["proposals"][0]["onchain_tally"] = [9, 0, 0]  # signed, but not what the chain says
    lied = tmp_path / "lied.json"
    lied.write_text(json.dumps(sign(report, load_key(key))))
    checked = commons(history, "audit", "verify-report", str(lied), "--chain")
    assert checked.exit_code == 1
    assert (
        "signature: VALID" in checked.output
        and "DIFFERS from the report in proposals" in checked.output
    )


def test_cli_audit_exits_1_and_names_each_finding(fresh: History, tmp_path: Path) -> None:
    registry = fresh.record["contracts"]["registry"]["address"]
    council = fresh.record["contracts"]["council"]["address"]
    rpc(fresh.w3, "anvil_setCode", [council, "0x" + bytes(fresh.w3.eth.get_code(registry)).hex()])
    result = commons(fresh, "audit", "--out", str(tmp_path), "--fresh", "--quiet")
    assert result.exit_code == 1
    assert "FINDINGS" in result.output and "[deploy.code]" in result.output
    assert f"council at {council}" in result.output


def test_cli_audit_infrastructure_failure_is_one_line_and_exit_2(history: History) -> None:
    result = commons(history, "audit", "--rpc-url", "http://127.0.0.1:9", "--quiet")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "did not answer" in errors[0]


def test_verify_receipt_confirms_a_relayed_ballot(history: History) -> None:
    council = history.record["contracts"]["council"]["address"]
    receipt = json.dumps(history.ballot_receipt)
    url = history.live.node.url
    ok = commons(
        history, "verify-receipt", receipt, "--rpc-url", url, "--council", council, "--option", "2"
    )
    assert ok.exit_code == 0, ok.output
    assert "[ok] my signature" in ok.output and "[ok] published tally" in ok.output
    wrong = commons(
        history, "verify-receipt", receipt, "--rpc-url", url, "--council", council, "--option", "1"
    )
    assert wrong.exit_code == 1 and "[FAIL] my choice" in wrong.output


def test_verify_receipt_confirms_the_pages_saved_file_on_the_configured_node(
    history: History, tmp_path: Path
) -> None:
    # As the page's "save as file" writes it: no transaction hash, the configured node (no
    # --rpc-url) is asked which transaction carries the ballot's digest.
    api = history.ballot_receipt
    saved = {
        "kind": "ballot",
        "receiptId": api["id"],
        "chainId": 31337,
        "communityId": history.community,
        "proposalId": history.made["proposals"]["garden"],
        "voter": api["signer"],
        "option": 2,
        "label": "Abstain",
        "digest": api["detail"],
        "acceptedAt": 1_700_000_000,
        "status": "queued",
    }
    path = tmp_path / "ballot-receipt.json"
    path.write_text(json.dumps(saved))
    ok = commons(history, "verify-receipt", str(path))
    assert ok.exit_code == 0, ok.output
    assert f"[ok] found: ballot {api['detail']} is in transaction {api['txHash']}" in ok.output
    assert "[ok] my signature" in ok.output and "[ok] published tally" in ok.output
    assert "taken from the transaction" not in ok.output  # pinned: the configured deployment's
    lost = path.with_name("lost.json")
    lost.write_text(json.dumps({**saved, "digest": "0x" + "ab" * 32}))
    refused = commons(history, "verify-receipt", str(lost))
    assert refused.exit_code == 1 and "[FAIL] found: no transaction on this chain" in (
        refused.output
    )


def test_verify_receipt_refuses_a_receipt_whose_digest_is_not_on_chain(history: History) -> None:
    fields = f"tx={history.ballot_receipt['txHash']},voter={history.ballot_receipt['signer']},digest=0x{'ab' * 32}"
    result = commons(history, "verify-receipt", fields, "--rpc-url", history.live.node.url)
    assert result.exit_code == 1 and "[FAIL] ballot counted in its transaction" in result.output


def test_verify_receipt_confirms_a_direct_vote_by_fields(history: History) -> None:
    voter = history.keys["resident5"].address
    result = commons(history, "verify-receipt", f"tx={history.direct_vote_tx},voter={voter}",
                     "--rpc-url", history.live.node.url)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "a direct vote sent by you" in result.output


# ----------------------------------------------------------------------------------- the API


def test_api_runs_an_audit_job_and_serves_its_signed_report(
    history: History, accounts: list[LocalAccount]
) -> None:
    # The API keeps its own data directory: give it the compile the tests already made (the
    # cache is checked against the sources' hashes before use).
    api_data = history.live.data_dir / "var"
    audit_data_dir(api_data, history.settings.data_dir / "audit" / "build-cache")
    http = httpx.Client(base_url=history.live.url, timeout=30)
    started = http.post("/v1/audit", json={})
    assert started.status_code == 202, started.text
    job_id = started.json()["jobId"]
    deadline = time.monotonic() + 120
    while (job := http.get(f"/v1/audit/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "done" and job["ok"] is True and job["findings"] == 0, job
    assert job["progress"]["phase"] == "done"
    document = http.get(f"/v1/audit/{job_id}/report", params={"format": "json"}).json()
    assert document["report"]["ok"] and document["signature"]["algorithm"] == "Ed25519"
    assert http.get(f"/v1/audit/{job_id}/report", params={"format": "md"}).text.startswith(
        "# Commons"
    )
    assert "<table>" in http.get(f"/v1/audit/{job_id}/report", params={"format": "html"}).text
    assert http.get(f"/v1/audit/{job_id}/report", params={"format": "csv"}).text.startswith(
        "block,tx"
    )
    latest = http.get("/v1/audit/reports/latest").json()
    assert latest["signatureValid"] is True and latest["ok"] is True
    # The server signed it with a key nobody registered: it does not vouch for it.
    assert latest["signedByRegisteredAuditor"] is False
    assert latest["signer"]["registered"] is False and latest["signer"]["auditor"] is None
    assert "signed by an unregistered key" in latest["signatureDetail"]
    # Published as signed: no server path, the node by scheme, host and port; nothing redacted.
    assert latest["redacted"] == [] and latest["report"] == document["report"]
    served = json.dumps(document)
    assert str(history.live.data_dir) not in served
    assert document["report"]["deployment"]["source"] == f"{history.live.client.chain_id}.json"
    assert "HTTP Request" not in history.live.log_path.read_text()  # httpx's per-call lines
    assert latest["keyId"] == document["signature"]["key_id"]
    server_key = default_key_path(history.settings.model_copy(update={"data_dir": api_data}))
    block = register_report_key(history, auditor_account(accounts), server_key)
    named = http.get("/v1/audit/reports/latest").json()
    assert named["signedByRegisteredAuditor"] is True
    assert named["signer"]["auditor"] == auditor_account(accounts).address
    assert named["signer"]["community"] == history.community
    assert named["signer"]["registeredAtBlock"] == block
    assert (
        "signed by registered auditor " + auditor_account(accounts).address
        in (named["signatureDetail"])
    )
    missing = http.get("/v1/audit/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "UnknownAuditJob"
    bad = http.get(f"/v1/audit/{job_id}/report", params={"format": "pdf"})
    assert bad.status_code == 422


def test_a_second_audit_is_refused_while_one_runs(history: History) -> None:
    jobs = AuditJobs(history.settings, history.live.node.url, history.record)
    jobs._jobs["busy"] = AuditJob("busy", status="running")
    with pytest.raises(AuditBusy) as refused:
        jobs.start()
    assert refused.value.job_id == "busy"


def test_an_auditor_let_go_is_refused_for_reports_of_the_blocks_from_then_on(
    fresh: History, signed: tuple[Path, Path], accounts: list[LocalAccount], tmp_path: Path
) -> None:
    key, out = signed
    document = read_document(out / "report.json")
    registry = fresh.live.client.contracts["registry"].functions
    auditor = auditor_account(accounts).address
    done = fresh.live.client.act(
        fresh.keys["admin"], registry.revokeRole(fresh.community, Roles.AUDITOR, auditor)
    )
    at = int(done["block"])
    before = _resigned(document, key, tmp_path / "before.json", to_block=at - 1)
    ok = commons(fresh, "audit", "verify-report", str(before))
    assert ok.exit_code == 0, ok.output
    later = _resigned(document, key, tmp_path / "later.json", to_block=at)
    refused = commons(fresh, "audit", "verify-report", str(later))
    assert refused.exit_code == 1, refused.output
    assert f"no longer held AUDITOR at block {at}" in refused.output
