"""Pins: every signed report names the head it audited (number, hash, state root); each later
audit checks that those blocks are still on the chain, unchanged.

An operator who rewrites history (a deep reorg, a rewind to an old snapshot and new blocks)
gets a chain that audits clean on its own: every rule holds on the new history. What gives the
rewrite away is a report published earlier, pinning a block the chain no longer has. Only pins
in reports whose signature verifies count: anyone can write a JSON file naming any hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.audit.model import AuditWarning, Finding
from ledger.audit.report import read_document, verify
from ledger.errors import AuditInfraError, LedgerError
from ledger.transport import RpcClient


@dataclass(frozen=True)
class Pin:
    """A block a signed report audited up to."""

    source: str  # who pins it, for the finding: a report's file and key, an anchor transaction
    chain_id: int
    number: int
    hash: str
    state_root: str


def report_files(paths: Iterable[Path]) -> list[Path]:
    """Each file given, and every `report.json` below each directory given."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(path.rglob("report.json"))
        elif path.exists():
            out.append(path)
    return out


def collect(paths: Sequence[Path], chain_id: int) -> tuple[list[Pin], list[AuditWarning]]:
    """The pins of this chain in the signed reports at `paths`; a report that cannot be read,
    is unsigned or whose signature fails is left out with a warning (it proves nothing)."""
    pins: list[Pin] = []
    warnings: list[AuditWarning] = []
    for path in report_files(paths):
        try:
            document = read_document(path)
        except LedgerError as exc:
            warnings.append(AuditWarning("chain.pin", None, None, f"pin ignored: {exc}"))
            continue
        verdict = verify(document)
        if not verdict.valid:
            warnings.append(
                AuditWarning("chain.pin", None, None, f"pin in {path} ignored: {verdict.reason}")
            )
            continue
        pin = _pin_of(document["report"], f"{path} (signed by {verdict.key_id})")
        if pin is None:
            warnings.append(AuditWarning("chain.pin", None, None, f"{path} names no audited head"))
        elif pin.chain_id == chain_id:
            pins.append(pin)
    return pins, warnings


def _pin_of(report: dict[str, Any], source: str) -> Pin | None:
    chain = report.get("chain")
    if not isinstance(chain, dict):
        return None
    try:
        return Pin(
            source,
            int(chain["chain_id"]),
            int(chain["to_block"]),
            str(chain["block_hash"]).lower(),
            str(chain["state_root"]).lower(),
        )
    except (KeyError, TypeError, ValueError):
        return None


def check(rpc: RpcClient, pins: Sequence[Pin]) -> list[Finding]:
    """A `chain.pin` finding for each pinned block the chain no longer has as pinned."""
    if not pins:
        return []
    head = int(rpc.call("eth_blockNumber"), 16)
    findings: list[Finding] = []
    wanted = sorted({p.number for p in pins if p.number <= head})
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in wanted])
    by_number = dict(zip(wanted, blocks, strict=True))
    for pin in sorted(pins, key=lambda p: (p.number, p.source)):
        signed = f"pinned by {pin.source}"
        if pin.number > head:
            findings.append(
                Finding(
                    "chain.pin",
                    pin.number,
                    None,
                    pin.hash,
                    f"head {head}",
                    f"block {pin.number} {signed} is beyond the head {head}: the chain was rewound",
                )
            )
            continue
        block = by_number[pin.number]
        if block is None:
            raise AuditInfraError(f"the node has no block {pin.number} below its head {head}")
        found_hash, found_root = str(block["hash"]).lower(), str(block["stateRoot"]).lower()
        if found_hash != pin.hash:
            findings.append(
                Finding(
                    "chain.pin",
                    pin.number,
                    None,
                    pin.hash,
                    found_hash,
                    f"block {pin.number} {signed} has another hash now: history was rewritten",
                )
            )
        elif found_root != pin.state_root:
            findings.append(
                Finding(
                    "chain.pin",
                    pin.number,
                    None,
                    pin.state_root,
                    found_root,
                    f"block {pin.number} {signed} has another state root now",
                )
            )
    return findings
