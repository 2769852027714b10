"""`commons audit` (run, keygen, register-key, revoke-key, verify-report) and
`commons verify-receipt`.

Exit status: 0 clean / valid, 1 findings / invalid, 2 the audit could not be carried out. Every
failure is one line on stderr; progress goes to stderr too, so stdout stays the result.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from commons.errors import one_line_errors
from ledger.audit.acks import load_acks
from ledger.audit.anchor import anchors_path, post
from ledger.audit.auditor import AuditOptions, Progress, load_record, run_audit
from ledger.audit.jobs import audit_and_write, default_key_path, reports_dir
from ledger.audit.model import AuditResult
from ledger.audit.receipt import run as run_receipt
from ledger.audit.report import (
    comparable,
    generate_key,
    key_id,
    load_public_key,
    public_pem,
    raw_public_key,
    read_document,
    verify,
)
from ledger.audit.signers import Signer, fingerprint, judge
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.errors import AuditInfraError, LedgerError
from ledger.node import connect, running_info
from ledger.operator_keys import auditor_account
from ledger.transport import RpcClient
from ledger.tx import send

# On the embedded chain without COMMONS_AUDITOR_ACCOUNT_KEY: the last funded development account.
AUDITOR_DEV_INDEX = 9

FINDINGS, INFRA = 1, 2

audit_app = typer.Typer(
    name="audit",
    help="Audit the chain from raw data: recount, rebalance, trace funds, check code and proofs.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Exit 2 for anything that stopped the audit itself (1 is for findings).
exits_cleanly = one_line_errors(
    code=INFRA,
    interrupted="interrupted (a re-run continues from the last checkpoint)",
    interrupted_code=130,
    unexpected=True,
)


def _rpc_url(settings: Settings, given: str | None) -> str:
    if given:
        return given
    if settings.rpc_url:
        return settings.rpc_url
    info = running_info(settings)
    if info is None:
        raise AuditInfraError("no node: pass --rpc-url, set COMMONS_RPC_URL, or `commons up`")
    return info.url


def _record(settings: Settings, rpc_url: str, given: Path | None) -> tuple[dict[str, Any], Path]:
    if given is None:
        with RpcClient(rpc_url) as rpc:
            chain_id = int(rpc.call("eth_chainId"), 16)
        given = settings.deployments_dir / f"{chain_id}.json"
    return load_record(given), given


def _deployed_council(settings: Settings, rpc_url: str) -> str | None:
    """The council this installation deployed on that chain (its deployment record), to check a
    receipt against; None without a record (the receipt's own transaction names it then)."""
    try:
        record, _ = _record(settings, rpc_url, None)
        return str(record["contracts"]["council"]["address"])
    except (LedgerError, KeyError, TypeError):
        return None


class _ProgressPrinter:
    """At most one line a second (on a terminal, rewritten in place; else every 5 s)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        final = p.phase in ("views", "proofs", "done", "compile")
        if not final and now - self.last < (1.0 if self.tty else 5.0):
            return
        self.last = now
        text = (
            f"audit: {p.phase} block {p.block}/{p.last} ({p.fraction:.0%}), "
            f"{p.ballots} ballots, {p.findings} findings"
        )
        if self.tty:
            sys.stderr.write("\r" + text.ljust(79) + ("\n" if p.phase == "done" else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _print_result(result: AuditResult, written: dict[str, Path] | None) -> None:
    report = result.report
    chain = report["chain"]
    summary = report["summary"]
    status = (
        "CLEAN"
        if result.ok
        else f"{len(result.findings)} FINDINGS"
        if result.findings
        else f"INCOMPLETE ({len(result.skipped)} checks not made)"
    )
    typer.echo(
        f"audit of chain {chain['chain_id']}, blocks {chain['from_block']}-{chain['to_block']}: "
        f"{status} ({summary['ballots_checked']} ballots, {summary['signatures_verified']} "
        f"signatures, {summary['proofs_checked']} proofs, {len(result.warnings)} warnings)"
    )
    for s in result.skipped:
        typer.echo(f"  [not made] {s['check']} of {s['contract']}: {s['why']}")
    for f in result.findings:
        where = f"block {f.block}" if f.block is not None else "no block"
        tx = f" tx {f.tx}" if f.tx else ""
        typer.echo(f"  [{f.rule}] {where}{tx}: {f.detail} (expected {f.expected}, found {f.found})")
    if written:
        typer.echo(f"report: {written['json']} (+ .md, .html, fund-trail.csv)")


@audit_app.callback(invoke_without_command=True)
@exits_cleanly
def audit(
    ctx: typer.Context,
    rpc_url: Annotated[str | None, typer.Option(help="node to audit (default: configured)")] = None,
    deployment: Annotated[Path | None, typer.Option(help="deployment record to check")] = None,
    from_block: Annotated[int | None, typer.Option(help="first block to check")] = None,
    to_block: Annotated[int | None, typer.Option(help="last block (default: head)")] = None,
    key: Annotated[Path | None, typer.Option(help="Ed25519 PEM key to sign the report")] = None,
    out: Annotated[Path | None, typer.Option(help="directory for the report files")] = None,
    all_proofs: Annotated[bool, typer.Option(help="prove every recomputed word")] = False,
    fresh: Annotated[bool, typer.Option(help="ignore the checkpoint of an earlier run")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress on stderr")] = False,
    acks: Annotated[
        Path | None,
        typer.Option(
            help="the relay's signed acknowledgements (JSON / JSON lines): name each "
            "message not on the chain by the block promised"
        ),
    ] = None,
    relayer: Annotated[
        str | None, typer.Option(help="with --acks: the relayer address the community runs")
    ] = None,
    pins: Annotated[
        list[Path] | None,
        typer.Option(
            help="earlier signed reports (files or directories) whose audited heads must still "
            "be on the chain (default: the reports written in the data dir)"
        ),
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(
            help="anchors to check, read back from their network (default: the data dir's)"
        ),
    ] = None,
    api: Annotated[
        str | None,
        typer.Option(
            "--api",
            help="a running API (URL) whose proposals, ballots, balances and fund trail "
            "to compare with the chain",
        ),
    ] = None,
) -> None:
    """Audit every block from the deployment to the head, trusting nothing but the chain."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    url = _rpc_url(settings, rpc_url)
    record, record_path = _record(settings, url, deployment)
    key_path = key or default_key_path(settings)
    if key is not None and not key.exists():
        raise AuditInfraError(f"no key at {key}: create one with `commons audit keygen`")
    options = AuditOptions(
        rpc_url=url,
        record=record,
        settings=settings,
        record_source=str(record_path),
        from_block=from_block,
        to_block=to_block,
        all_proofs=all_proofs,
        resume=not fresh,
        progress=_ProgressPrinter(quiet),
        acks=load_acks(acks) if acks is not None else None,
        relayer=relayer,
        pins=pins if pins else [reports_dir(settings)],
        api_url=api,
        anchors=anchors or anchors_path(settings),
    )
    result, document, written = audit_and_write(options, key_path, out)
    if document["signature"] is None:
        typer.echo(f"note: report not signed (no key at {key_path})", err=True)
    else:
        _note_unregistered(document, settings, url, record_path)
    _print_result(result, written)
    raise typer.Exit(0 if result.ok else FINDINGS)


def _note_unregistered(
    document: dict[str, Any], settings: Settings, url: str, record_path: Path
) -> None:
    """Readers refuse a report whose key no auditor registered: say so while it can be fixed."""
    try:
        signer = registered_signer(document, settings, url, record_path)
    except LedgerError as exc:
        typer.echo(f"note: could not look the signing key up on-chain ({exc})", err=True)
        return
    if not signer.registered:
        typer.echo(
            f"note: {signer.reason}: verify-report will refuse this report until its key is "
            "registered (`commons audit register-key --community N`)",
            err=True,
        )


@audit_app.command("keygen")
@exits_cleanly
def keygen(
    path: Annotated[Path | None, typer.Argument(help="where to write the key (PEM, 0600)")] = None,
) -> None:
    """Create the auditor's Ed25519 signing key (refuses to overwrite one)."""
    target = path or default_key_path(Settings())
    public = generate_key(target)
    typer.echo(f"created {target} (mode 0600), key id {key_id(public)}")
    typer.echo("public key (publish it, so others can check your reports):")
    typer.echo(public_pem(public).rstrip())
    typer.echo("register it on-chain: commons audit register-key --community N")


def _key_fingerprint(key: Path | None, settings: Settings) -> bytes:
    path = key or default_key_path(settings)
    if not path.exists():
        raise AuditInfraError(f"no key at {path}: create one with `commons audit keygen`")
    return fingerprint(raw_public_key(load_public_key(path)))


@audit_app.command("register-key")
@exits_cleanly
def register_key(
    community: Annotated[int, typer.Option(help="the community whose AUDITOR you are")],
    key: Annotated[
        Path | None, typer.Option(help="the report key (PEM, private or public)")
    ] = None,
) -> None:
    """Register your report key's fingerprint in the Registry, sent from your auditor account
    (COMMONS_AUDITOR_ACCOUNT_KEYSTORE or COMMONS_AUDITOR_ACCOUNT_KEY), so verify-report names
    you as the signer."""
    fp, account, w3, registry = _auditor_action(key)
    receipt = send(w3, account, registry.functions.registerAuditorKey(community, fp))
    typer.echo(
        f"registered key 0x{fp.hex()} for auditor {account.address} of community {community} "
        f"in block {receipt['blockNumber']}"
    )


def _auditor_action(key: Path | None) -> tuple[bytes, LocalAccount, Web3, Contract]:
    """The report key's fingerprint, the auditor's account that signs, the node and the Registry."""
    settings = Settings()
    fp = _key_fingerprint(key, settings)
    account = auditor_account(settings, dev_index=AUDITOR_DEV_INDEX)
    w3 = connect(settings)
    return fp, account, w3, load_deployment(w3, settings).registry


@audit_app.command("revoke-key")
@exits_cleanly
def revoke_key(
    key: Annotated[
        Path | None, typer.Option(help="the report key (PEM, private or public)")
    ] = None,
) -> None:
    """Revoke a registered report key for good (a lost key, or a key replaced): reports of the
    blocks from the revoking one on, signed with it, are refused."""
    fp, account, w3, registry = _auditor_action(key)
    receipt = send(w3, account, registry.functions.revokeAuditorKey(fp))
    typer.echo(f"revoked key 0x{fp.hex()} in block {receipt['blockNumber']}")


def registered_signer(
    document: dict[str, Any], settings: Settings, rpc_url: str | None, deployment: Path | None
) -> Signer:
    """Who signed `document`, by the keys registered on the chain the report audits."""
    url = _rpc_url(settings, rpc_url)
    record, record_path = _record(settings, url, deployment)
    report_chain = (document.get("report") or {}).get("chain", {}).get("chain_id")
    if report_chain is not None and int(record.get("chain_id", -1)) != int(report_chain):
        raise AuditInfraError(
            f"the report is of chain {report_chain}, the deployment record {record_path.name} "
            f"of chain {record.get('chain_id')}"
        )
    registry = record["contracts"]["registry"]["address"]
    with RpcClient(url) as rpc:

        def eth_call(to: str, data: bytes, block: int | None) -> bytes:
            at = "latest" if block is None else hex(block)
            answer = rpc.call("eth_call", [{"to": to, "data": "0x" + data.hex()}, at])
            return bytes.fromhex(str(answer)[2:])

        try:
            return judge(document, eth_call, registry)
        except ValueError as exc:
            raise AuditInfraError(
                f"the Registry at {registry} did not answer auditorKey: {exc}"
            ) from exc


@audit_app.command("verify-report")
@exits_cleanly
def verify_report(
    report: Annotated[Path, typer.Argument(help="report.json written by `commons audit`")],
    chain: Annotated[
        bool, typer.Option("--chain", help="also re-run the audit and compare")
    ] = False,
    public_key: Annotated[
        Path | None, typer.Option(help="only accept a signature by this key (PEM)")
    ] = None,
    rpc_url: Annotated[
        str | None, typer.Option(help="node of the audited chain (default: configured)")
    ] = None,
    deployment: Annotated[
        Path | None, typer.Option(help="deployment record (default: the node's chain's)")
    ] = None,
) -> None:
    """Check a report's signature and that its key is registered on-chain by an auditor (naming
    who); with --chain, re-audit its blocks and compare."""
    document = read_document(report)
    trusted = load_public_key(public_key) if public_key else None
    verdict = verify(document, trusted)
    typer.echo(f"signature: {'VALID' if verdict.valid else 'INVALID'} ({verdict.reason})")
    if not verdict.valid:
        raise typer.Exit(FINDINGS)
    settings = Settings()
    signer = registered_signer(document, settings, rpc_url, deployment)
    typer.echo(f"signer: {'REGISTERED' if signer.registered else 'REFUSED'} ({signer.reason})")
    if not signer.registered:
        raise typer.Exit(FINDINGS)
    body = document["report"]
    span = body["chain"]
    state = "clean" if body["ok"] else f"{len(body['findings'])} findings"
    typer.echo(
        f"report: chain {span['chain_id']} blocks {span['from_block']}-{span['to_block']}, {state}"
    )
    if not chain:
        raise typer.Exit(0)
    url = _rpc_url(settings, rpc_url)
    record, record_path = _record(settings, url, deployment)
    again = run_audit(
        AuditOptions(
            rpc_url=url,
            record=record,
            settings=settings,
            record_source=str(record_path),
            from_block=body["chain"]["from_block"],
            to_block=body["chain"]["to_block"],
            resume=False,
            progress=_ProgressPrinter(False),
        )
    )
    ours, theirs = comparable(again.report), comparable(body)
    differences = [k for k in theirs if ours.get(k) != theirs[k]]
    if differences:
        typer.echo(f"chain: DIFFERS from the report in {', '.join(differences)}")
        for key in differences:
            typer.echo(f"  {key}: report {json.dumps(theirs[key], default=str)[:300]}")
            typer.echo(f"  {key}: chain  {json.dumps(ours[key], default=str)[:300]}")
        raise typer.Exit(FINDINGS)
    typer.echo("chain: the audit re-run on the chain agrees with the report")


@exits_cleanly
def anchor(
    to: Annotated[str, typer.Option("--to", help="JSON-RPC URL of the second network")],
    rpc_url: Annotated[str | None, typer.Option(help="the chain to anchor (default: ours)")] = None,
) -> None:
    """Write our chain's latest block hash and state root into a second network (paid by
    COMMONS_ANCHOR_KEY); `commons audit` then checks our chain still has that block."""
    settings = Settings()
    if settings.anchor_key is None:
        raise AuditInfraError("set COMMONS_ANCHOR_KEY: the key that pays on the second network")
    account = Account.from_key(settings.anchor_key.get_secret_value())
    record = post(_rpc_url(settings, rpc_url), to, account, anchors_path(settings))
    typer.echo(
        f"anchored block {record['number']} ({record['hash']}, state root "
        f"{record['state_root']}) in tx {record['tx']} on chain {record['network_chain_id']}"
    )


@exits_cleanly
def verify_receipt(
    receipt: Annotated[
        str,
        typer.Argument(
            help="the API's receipt JSON or the page's saved receipt file (inline or a file),"
            " or tx=..,voter=..,digest=.."
        ),
    ],
    rpc_url: Annotated[
        str | None, typer.Option(help="any node of the chain (default: the configured one)")
    ] = None,
    council: Annotated[
        str | None, typer.Option(help="the council address your community publishes")
    ] = None,
    option: Annotated[int | None, typer.Option(help="the option you chose")] = None,
) -> None:
    """Check that your ballot is on-chain, signed by you, for your choice, and counted."""
    text = receipt
    if option is not None:
        text = (
            text
            if text.strip().startswith("{") or Path(text).is_file()
            else f"{text},option={option}"
        )
    settings = Settings()
    node = _rpc_url(settings, rpc_url)
    if council is None and rpc_url is None:
        council = _deployed_council(settings, node)
    verdict = run_receipt(text, node, council)
    if option is not None and verdict.option is not None and verdict.option != option:
        verdict.add("my choice", False, f"counted for option {verdict.option}, not {option}")
    for check in verdict.checks:
        typer.echo(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    if verdict.ok:
        typer.echo(
            f"your ballot on proposal {verdict.proposal} (option {verdict.option}) "
            "is on-chain and counted"
        )
        raise typer.Exit(0)
    typer.echo("your ballot could NOT be confirmed")
    raise typer.Exit(FINDINGS)
