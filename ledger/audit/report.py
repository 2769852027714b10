"""Writing the audit report — JSON for machines, Markdown and HTML for people, CSV for the fund
trail — and signing it with the auditor's Ed25519 key so a published report can be checked.

The signature covers the canonical JSON of the report (sorted keys, no whitespace, ASCII): any
edit to any figure, finding or warning breaks it. The signed file is
`{"report": {...}, "signature": {"algorithm": "Ed25519", "public_key": ..., "key_id": ...,
"value": ...}}`; the other formats are renderings of the same report.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.audit.model import RULES
from ledger.audit.report_words import LANGUAGES, word
from ledger.errors import LedgerError

ALGORITHM: Final = "Ed25519"
TRAIL_COLUMNS: Final = (
    "block",
    "tx",
    "step",
    "community",
    "proposal",
    "request",
    "amount",
    "currency",
    "from",
    "to",
    "party",
    "reference",
)


class ReportError(LedgerError):
    """A report or key file cannot be read, written or verified."""


# ------------------------------------------------------------------------------------- keys


def canonical(report: dict[str, Any]) -> bytes:
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def raw_public_key(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the key's on-chain fingerprint (sha256 of the raw key)."""
    return "ed25519:" + hashlib.sha256(raw_public_key(public)).hexdigest()[:16]


def generate_key(path: Path) -> Ed25519PublicKey:
    """Create a new Ed25519 key at `path` (PKCS#8 PEM, mode 0600); refuses to overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Created with 0600 from the start: never a moment when others could read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ReportError(f"{path} exists; refusing to overwrite a key") from exc
    except OSError as exc:
        raise ReportError(f"cannot create {path}: {exc}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key.public_key()


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ReportError(f"cannot read the Ed25519 key {path}: {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReportError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM public key, or from a private key file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc}") from exc
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        return load_key(path).public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise ReportError(f"{path} is not an Ed25519 public key")
    return public


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


# ---------------------------------------------------------------------------- sign / verify


def sign(report: dict[str, Any], key: Ed25519PrivateKey | None) -> dict[str, Any]:
    """The signed document (unsigned when there is no key: `signature` is then null)."""
    if key is None:
        return {"report": report, "signature": None}
    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "report": report,
        "signature": {
            "algorithm": ALGORITHM,
            "public_key": base64.b64encode(raw).decode(),
            "key_id": key_id(public),
            "value": base64.b64encode(key.sign(canonical(report))).decode(),
        },
    }


@dataclass(frozen=True)
class Verification:
    valid: bool
    key_id: str | None
    reason: str


def verify(document: dict[str, Any], trusted: Ed25519PublicKey | None = None) -> Verification:
    """Whether the report's signature holds (and, with `trusted`, is by that key)."""
    signature = document.get("signature")
    report = document.get("report")
    if not isinstance(report, dict):
        return Verification(False, None, "not a signed audit report (no 'report' object)")
    if not isinstance(signature, dict):
        return Verification(False, None, "the report is not signed")
    if signature.get("algorithm") != ALGORITHM:
        return Verification(
            False, None, f"unknown signature algorithm {signature.get('algorithm')!r}"
        )
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
        value = base64.b64decode(signature["value"])
    except (KeyError, ValueError, TypeError):
        return Verification(False, None, "the signature block is malformed")
    kid = key_id(public)
    if signature.get("key_id") not in (None, kid):
        return Verification(False, kid, "the key id does not belong to the public key")
    if trusted is not None and key_id(trusted) != kid:
        return Verification(
            False, kid, f"signed by {kid}, not by the trusted key {key_id(trusted)}"
        )
    try:
        public.verify(value, canonical(report))
    except InvalidSignature:
        return Verification(
            False, kid, "the signature does not match the report (edited after signing?)"
        )
    return Verification(True, kid, f"signature valid, by {kid}")


def read_document(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the report {path}: {exc}") from exc
    return document


# ------------------------------------------------------------------------------- renderings


def fund_trail_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=TRAIL_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in report.get("fund_trail", []):
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in TRAIL_COLUMNS})
    return out.getvalue()


def _status_line(report: dict[str, Any]) -> str:
    summary = report["summary"]
    skipped = report.get("skipped_checks") or []
    if report["ok"]:
        return f"CLEAN: no findings ({summary['warnings']} warnings)"
    if skipped and not summary["findings"]:
        made = ", ".join(sorted({f"{s['check']} ({s['why']})" for s in skipped}))
        return f"INCOMPLETE: no findings, but checks not made: {made}"
    return f"FINDINGS: {summary['findings']} ({', '.join(summary['rules_broken'])})"


Table = tuple[str, list[str], list[list[Any]]]  # (title, headers, rows)


def _tables(report: dict[str, Any]) -> list[Table]:
    """The report's tables, as both the Markdown and the HTML rendering show them."""
    p_rows = [
        [p["id"], p["community"], f"v{p['roll_version']} ({p['roll_size']})", p["recount_tally"],
         p["onchain_tally"], f"{p['recount_outcome'] or 'open'} / {p['onchain_outcome']}",
         f"{p['ballots']['relayed']} relayed, {p['ballots']['direct']} direct, "
         f"{p['ballots']['skipped']} skipped"]
        for p in report["proposals"]
    ]  # fmt: skip
    return [
        ("Findings", ["rule", "block", "tx", "expected", "found", "detail"],
         [[f["rule"], f["block"], f["tx"], f["expected"], f["found"], f["detail"]]
          for f in report["findings"]]),
        ("Warnings (not checked)", ["topic", "block", "tx", "detail"],
         [[w["topic"], w["block"], w["tx"], w["detail"]] for w in report["warnings"][:200]]),
        ("Admin acts", ["block", "tx", "community", "act", "by", "detail"],
         [[a["block"], a["tx"], a["community"], a["act"], a["by"], a["detail"]]
          for a in report.get("admin_acts", [])]),
        ("Key rotations", ["block", "tx", "community", "old key", "new key", "registrar",
                           "roll version", "minutes carried over"],
         [[r["block"], r["tx"], r["community"], r["old"], r["new"], r["registrar"], r["version"],
           "not yet" if r["carried_block"] is None
           else f"{r['carried_minutes']} (block {r['carried_block']})"]
          for r in report.get("rotations", [])]),
        ("Proposals", ["id", "community", "roll", "recount", "on-chain",
                       "outcome (recount / on-chain)", "ballots"], p_rows),
        ("Funds", ["community", "currency", "income", "available", "reserved", "paid", "threshold"],
         [[f["community"], f["currency"], f["total_income"], f["available"], f["reserved"],
           f["total_paid"], f["threshold"]] for f in report["funds"]]),
        ("Time bank", ["community", "accounts", "records", "reversals", "sum", "limits"],
         [[b["community"], b["accounts"], b["records"], b["reversals"], b["sum"],
           f"{b['floor']}..{b['ceiling']}"] for b in report["timebank"]]),
        ("Deployed code", ["contract", "address", "code", "creation", "detail"],
         [[c["contract"], c["address"], "matches" if c["code_matches"] else "DIFFERS",
           "ok" if c.get("creation_ok") else "NOT OK", c["detail"]]
          for c in report["bytecode"]["contracts"]]),
    ]  # fmt: skip


def markdown(document: dict[str, Any]) -> str:
    report = document["report"]
    chain, summary = report["chain"], report["summary"]
    signature = document.get("signature")
    lines = [
        "# Commons Ledger audit report",
        "",
        f"**{_status_line(report)}**",
        "",
        f"- chain {chain['chain_id']}, blocks {chain['from_block']}-{chain['to_block']} "
        f"(block hash `{chain['block_hash']}`, state root `{chain['state_root']}`)",
        f"- deployment record {report['deployment']['record_hash']}",
        f"- {summary['blocks']} blocks, {summary['transactions']} transactions "
        f"({summary['transactions_to_us']} to our contracts, {summary['forwarded_requests']} "
        f"forwarded requests), {summary['calls']} calls",
        f"- {summary['ballots_checked']} ballots judged, {summary['signatures_verified']} ballot "
        f"signatures verified, {summary['service_records_checked']} service records",
        f"- {summary['proofs_checked']} storage words proven against the state root "
        f"({summary['proofs_failed']} failed)",
        f"- tool {report['tool']}, generated at unix time {report['generated_at']}",
        f"- signed by `{signature['key_id']}` ({signature['algorithm']})"
        if signature
        else "- unsigned",
    ]
    for title, headers, rows in _tables(report):
        lines += ["", f"## {title}", ""]
        if title == "Deployed code":
            lines += [f"Compiler {report['bytecode']['compiler']}.", ""]
        lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] if rows else []
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows] or ["None."]
    lines += ["", "## Rules checked", ""]
    lines += [f"- `{rule}`: {text}" for rule, text in RULES.items()]
    return "\n".join(lines) + "\n"


def _md(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


MONEY_COLUMNS: Final = frozenset({"income", "available", "reserved", "paid", "amount"})
CURRENCY_SIGNS: Final = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
# Amounts are kept in the currency's minor unit (fen for CNY); ISO 4217's exceptions to 2.
MINOR_DIGITS: Final = {"JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}
# Wide tables scroll inside their own box; the page itself never scrolls sideways on a phone.
HTML_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;margin:1rem;max-width:72rem;overflow-wrap:anywhere}"
    ".scroll{overflow-x:auto;max-width:100%;margin:1rem 0}"
    "table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;font-size:.9rem;"
    "vertical-align:top}"
    "td{max-width:22rem;overflow-wrap:anywhere}td.money{text-align:right;white-space:nowrap}"
    "code{overflow-wrap:anywhere}nav a{margin-right:1rem}"
    ".ok{color:#175e17}.bad{color:#a11}"
)


def money(amount: Any, currency: Any) -> str:
    """An amount in minor units as people read it: 920000 CNY is ¥9,200.00."""
    if not isinstance(amount, int) or not currency:
        return "" if amount is None else str(amount)
    code = str(currency)
    digits = MINOR_DIGITS.get(code, 2)
    major = f"{abs(amount) / 10**digits:,.{digits}f}"
    sign = "-" if amount < 0 else ""
    symbol = CURRENCY_SIGNS.get(code)
    return f"{sign}{symbol}{major}" if symbol else f"{sign}{major} {code}"


def _with_money(headers: list[str], rows: list[list[Any]]) -> list[list[Any]]:
    if "currency" not in headers:
        return rows
    where = headers.index("currency")
    spots = [i for i, name in enumerate(headers) if name in MONEY_COLUMNS]
    return [[money(c, row[where]) if i in spots else c for i, c in enumerate(row)] for row in rows]


def render_html(document: dict[str, Any], lang: str = "en") -> str:
    """A self-contained page in `lang` (en or zh): the Markdown's tables and the fund trail,
    money in major units with its currency, everything escaped; readable on a phone."""
    if lang not in LANGUAGES:
        raise ReportError(f"unknown report language {lang!r} ({', '.join(LANGUAGES)})")
    report = document["report"]
    e = html.escape

    def w(text: str, **values: Any) -> str:
        return e(word(text, lang).format(**values))

    def table(headers: list[str], rows: list[list[Any]]) -> str:
        if not rows:
            return f"<p>{w('None.')}</p>"
        money_at = {i for i, name in enumerate(headers) if name in MONEY_COLUMNS}
        head = "".join(f"<th>{w(h)}</th>" for h in headers)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td{' class=money' if i in money_at else ''}>{e('' if c is None else str(c))}"
                "</td>"
                for i, c in enumerate(row)
            )
            + "</tr>"
            for row in _with_money(headers, rows)
        )
        return (
            f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )

    chain, summary = report["chain"], report["summary"]
    signature = document.get("signature")
    status = _status_line(report)
    verdict, _, rest = status.partition(":")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(report.get("generated_at", 0))))
    trail = ("Fund trail", list(TRAIL_COLUMNS), [[r.get(k) for k in TRAIL_COLUMNS]
                                                 for r in report["fund_trail"]])  # fmt: skip
    other = "zh" if lang == "en" else "en"
    span = w("chain {chain}, blocks {first}-{last}", chain=chain["chain_id"],
             first=chain["from_block"], last=chain["to_block"])  # fmt: skip
    counted = w(
        "{ballots} ballots judged, {signatures} signatures verified; {proofs} storage words proven",
        ballots=summary["ballots_checked"],
        signatures=summary["signatures_verified"],
        proofs=summary["proofs_checked"],
    )
    parts = [
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{w('Commons Ledger audit report')}</title>",
        f"<style>{HTML_STYLE}</style></head><body>",
        f"<nav><a href='?format=html&amp;lang={other}' hreflang='{other}'>"
        f"{'中文' if other == 'zh' else 'English'}</a></nav>",
        f"<h1>{w('Commons Ledger audit report')}</h1>",
        f"<p class='{'ok' if report['ok'] else 'bad'}'><strong>{w(verdict)}:{e(rest)}</strong>"
        "</p><ul>",
        f"<li>{span}, {w('block hash')} <code>{e(chain['block_hash'])}</code></li>",
        f"<li>{counted}</li>",
        f"<li>{w('generated {when} (UTC)', when=when)}</li>",
        "<li>"
        + (f"{w('signed by')} <code>{e(signature['key_id'])}</code>" if signature
           else w("unsigned"))
        + "</li></ul>",
        *(f"<h2>{w(title)}</h2>" + table(headers, rows) for title, headers, rows in
          [*_tables(report), trail]),
        "</body></html>",
    ]  # fmt: skip
    return "".join(parts)


def render(document: dict[str, Any], fmt: str, lang: str = "en") -> tuple[str, str]:
    """(content, media type) of the report in `fmt`: json, md, html (in `lang`) or csv."""
    if fmt == "json":
        return json.dumps(document, indent=2, sort_keys=True) + "\n", "application/json"
    if fmt == "md":
        return markdown(document), "text/markdown; charset=utf-8"
    if fmt == "html":
        return render_html(document, lang), "text/html; charset=utf-8"
    if fmt == "csv":
        return fund_trail_csv(document["report"]), "text/csv; charset=utf-8"
    raise ReportError(f"unknown report format {fmt!r} (json, md, html, csv)")


def write_all(document: dict[str, Any], directory: Path) -> dict[str, Path]:
    """report.json (the signed document), report.md, report.html, fund-trail.csv (the HTML in
    Chinese is served by the API: `?format=html&lang=zh`)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = {
        "json": "report.json",
        "md": "report.md",
        "html": "report.html",
        "csv": "fund-trail.csv",
    }
    written = {}
    for fmt, name in names.items():
        content, _ = render(document, fmt)
        path = directory / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content)
        tmp.replace(path)
        written[fmt] = path
    return written


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """What two audits of the same blocks must agree on (not when or how fast they ran)."""
    return {
        "findings": sorted(
            (f["rule"], f["block"] or 0, f["tx"] or "", f["detail"]) for f in report["findings"]
        ),
        "chain": {
            k: report["chain"][k]
            for k in ("chain_id", "from_block", "to_block", "block_hash", "state_root")
        },
        "deployment": report["deployment"]["contracts"],
        "proposals": [
            (p["id"], p["recount_tally"], p["onchain_tally"], p["onchain_outcome"])
            for p in report["proposals"]
        ],
        "funds": [
            (f["community"], f["total_income"], f["available"], f["reserved"], f["total_paid"])
            for f in report["funds"]
        ],
        "grants": [(g["proposal"], g["amount"], g["paid"], g["state"]) for g in report["grants"]],
        "payouts": [(p["id"], p["amount"], p["status"]) for p in report["payouts"]],
        "timebank": [
            (b["community"], b["accounts"], b["records"], b["sum"]) for b in report["timebank"]
        ],
        "bytecode": [
            (c["contract"], c["address"], c["code_matches"])
            for c in report["bytecode"]["contracts"]
        ],
        "fund_trail": report["fund_trail"],
    }
