"""Reproducible build: a fresh compile of contracts/ at the recorded compiler settings, compared
with the code deployed, and the deployment file's every claim checked against the chain.

Runtime code is compared in parts: the code body (with the constructor-written immutables masked
at exactly the offsets solc reports), the immutables themselves (checked through the views that
return them: trusted forwarder, registry, council, EIP-712 domain), and the CBOR metadata at the
end (whose IPFS hash names the exact sources and settings), so a report says which part differs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
import solcx
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address

from ledger.audit.ethcodec import hex_bytes, hex_int, to_hex, tx_sender
from ledger.audit.model import AuditWarning, Finding
from ledger.config import Settings
from ledger.deploy import PLAN
from ledger.errors import AuditInfraError
from ledger.hashing import keccak
from ledger.transport import RpcClient

OUTPUT = [
    "abi",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.immutableReferences",
    "metadata",
    "storageLayout",
]
CACHE_VERSION = 1


@dataclass(frozen=True)
class Built:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    runtime: bytes
    immutables: list[tuple[int, int]]  # (start, length) in the runtime code
    layout: dict[str, Any]

    @property
    def runtime_hash(self) -> str:
        return to_hex(keccak(self.runtime))


@dataclass(frozen=True)
class Build:
    compiler_version: str
    settings: dict[str, Any]
    contracts: dict[str, Built]
    source_hashes: dict[str, str]
    from_cache: bool


def solc_path(settings: Settings, version: str) -> Path:
    short = version.split("+")[0]
    path = settings.solc_binary_dir / f"solc-v{short}"
    if not path.exists():
        raise AuditInfraError(f"solc {short} (recorded in the deployment) is not at {path}")
    return path


def _full_version(binary: Path) -> str:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, check=True, timeout=120
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise AuditInfraError(f"cannot run {binary}: {exc}") from exc
    return out.strip().splitlines()[-1].removeprefix("Version: ").strip()


def fresh_build(settings: Settings, compiler: dict[str, Any], cache_dir: Path | None) -> Build:
    """Compile contracts/ with `compiler` (the deployment's recorded {version, settings}).

    The result may come from the auditor's own cache, which is keyed by the exact compiler input
    and trusted only while every source the compile read still has the hash solc recorded.
    """
    root = settings.project_root
    sources = sorted(settings.contracts_dir.rglob("*.sol"))
    solc_settings = {k: v for k, v in compiler["settings"].items() if k != "outputSelection"}
    standard = {
        "language": "Solidity",
        "sources": {
            p.resolve().relative_to(root).as_posix(): {"content": p.read_text()} for p in sources
        },
        "settings": {**solc_settings, "outputSelection": {"*": {"*": OUTPUT}}},
    }
    binary = solc_path(settings, str(compiler["version"]))
    key = hashlib.sha256(
        json.dumps([CACHE_VERSION, compiler["version"], standard], sort_keys=True).encode()
    ).hexdigest()
    cache = cache_dir / f"build-{key[:32]}.json" if cache_dir else None
    if cache is not None:
        cached = _load_cache(cache, root)
        if cached is not None:
            return cached
    version = _full_version(binary)
    try:
        output = solcx.compile_standard(
            standard, solc_binary=binary, allow_paths=str(root), allow_empty=True
        )
    except solcx.exceptions.SolcError as exc:
        raise AuditInfraError(f"the fresh compile failed: {exc}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise AuditInfraError("the fresh compile failed: " + errors[0].get("message", ""))
    wanted = {name for _, name, _ in PLAN}
    contracts: dict[str, Built] = {}
    hashes: dict[str, str] = {}
    for source, by_name in output.get("contracts", {}).items():
        for name, data in by_name.items():
            metadata = json.loads(data.get("metadata") or "{}")
            for src, info in metadata.get("sources", {}).items():
                hashes[src] = info["keccak256"]
            if name in wanted and source in standard["sources"]:
                evm = data["evm"]
                refs = evm["deployedBytecode"].get("immutableReferences", {})
                contracts[name] = Built(
                    name,
                    source,
                    data["abi"],
                    hex_bytes(evm["bytecode"]["object"]),
                    hex_bytes(evm["deployedBytecode"]["object"]),
                    sorted((r["start"], r["length"]) for rs in refs.values() for r in rs),
                    data.get("storageLayout", {}),
                )
    missing = wanted - contracts.keys()
    if missing:
        raise AuditInfraError(f"contracts/ does not define {', '.join(sorted(missing))}")
    build = Build(version, solc_settings, contracts, dict(sorted(hashes.items())), False)
    if cache is not None:
        _save_cache(cache, build)
    return build


def _save_cache(path: Path, build: Build) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "version": CACHE_VERSION,
        "compiler_version": build.compiler_version,
        "settings": build.settings,
        "source_hashes": build.source_hashes,
        "contracts": {
            name: {
                "source": c.source,
                "abi": c.abi,
                "bytecode": c.bytecode.hex(),
                "runtime": c.runtime.hex(),
                "immutables": c.immutables,
                "layout": c.layout,
            }
            for name, c in build.contracts.items()
        },
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document))
    tmp.replace(path)


def _load_cache(path: Path, root: Path) -> Build | None:
    try:
        document = json.loads(path.read_text())
        for source, digest in document["source_hashes"].items():
            if to_hex(keccak((root / source).read_bytes())) != digest:
                return None
        contracts = {
            name: Built(
                name,
                c["source"],
                c["abi"],
                bytes.fromhex(c["bytecode"]),
                bytes.fromhex(c["runtime"]),
                [(int(s), int(n)) for s, n in c["immutables"]],
                c["layout"],
            )
            for name, c in document["contracts"].items()
        }
        return Build(
            document["compiler_version"],
            document["settings"],
            contracts,
            document["source_hashes"],
            True,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- code comparison


def split_metadata(code: bytes) -> tuple[bytes, bytes]:
    """(body, CBOR metadata incl. its 2-byte length) of runtime code; no metadata -> (code, b"")."""
    if len(code) < 2:
        return code, b""
    length = int.from_bytes(code[-2:], "big")
    if length + 2 > len(code):
        return code, b""
    return code[: -(length + 2)], code[-(length + 2) :]


def _describe_metadata(meta: bytes) -> str:
    try:
        decoded = cbor2.loads(meta[:-2])
    except Exception:
        return f"unparseable CBOR {meta[:8].hex()}..."
    parts = []
    if "ipfs" in decoded:
        parts.append(f"ipfs {bytes(decoded['ipfs']).hex()}")
    if "solc" in decoded:
        parts.append("solc " + ".".join(str(b) for b in bytes(decoded["solc"])))
    return ", ".join(parts) or "metadata"


@dataclass(frozen=True)
class CodeComparison:
    matches: bool
    differing: tuple[str, ...]  # "length", "body", "metadata"
    detail: str
    immutables: tuple[str, ...]  # the deployed immutable values, as hex


def compare_code(onchain: bytes, built: Built) -> CodeComparison:
    expected_body, expected_meta = split_metadata(built.runtime)
    body, meta = split_metadata(onchain)
    immutables = tuple(
        onchain[s : s + n].hex() for s, n in built.immutables if s + n <= len(onchain)
    )
    if not onchain:
        return CodeComparison(False, ("body",), "no code at the address", ())
    differing: list[str] = []
    notes: list[str] = []
    if len(body) != len(expected_body):
        differing.append("body")
        notes.append(f"code body is {len(body)} bytes, the compile's is {len(expected_body)}")
    else:
        masked = bytearray(body)
        for start, length in built.immutables:
            masked[start : start + length] = bytes(length)
        first = next(
            (i for i, (a, b) in enumerate(zip(masked, expected_body, strict=True)) if a != b), None
        )
        if first is not None:
            differing.append("body")
            notes.append(f"code body differs from byte {first} (immutables masked)")
    if meta != expected_meta:
        differing.append("metadata")
        notes.append(
            f"metadata is {_describe_metadata(meta)}, the compile's is "
            f"{_describe_metadata(expected_meta)}"
        )
    detail = "; ".join(notes) or "identical apart from the immutables"
    return CodeComparison(not differing, tuple(differing), detail, immutables)


# ------------------------------------------------------------------------ deployment claims


def constructor_args(key: str, addresses: dict[str, str]) -> bytes:
    args = next(make(addresses) for k, _, make in PLAN if k == key)
    return abi_encode(["address"] * len(args), args)


@dataclass
class DeploymentCheck:
    findings: list[Finding]
    warnings: list[AuditWarning]
    contracts: list[dict[str, Any]]


def check_deployment(
    rpc: RpcClient,
    record: dict[str, Any],
    build: Build,
    chain_id: int,
    block: int,
    code: dict[str, bytes],
    manifest_hash: str | None,
) -> DeploymentCheck:
    """The deployment file's claims, each against the chain (at `block` for code)."""
    findings: list[Finding] = []
    warnings: list[AuditWarning] = []
    rows: list[dict[str, Any]] = []

    def find(
        rule: str, tx: str | None, expected: Any, found: Any, detail: str, at: int | None = block
    ) -> None:
        findings.append(Finding(rule, at, tx, str(expected), str(found), detail))

    if int(record.get("chain_id", -1)) != chain_id:
        find(
            "deploy.record",
            None,
            chain_id,
            record.get("chain_id"),
            "the deployment file is for another chain",
        )
    entries = record.get("contracts", {})
    addresses = {k: str(e.get("address")) for k, e in entries.items()}
    blocks = []
    recorded_version = str(record.get("compiler", {}).get("version", ""))
    if recorded_version != build.compiler_version:
        find(
            "build.compiler",
            None,
            recorded_version,
            build.compiler_version,
            "the deployment was recorded with another compiler than the one that compiled now",
        )
    if manifest_hash is not None and record.get("build_manifest_hash") != manifest_hash:
        warnings.append(
            AuditWarning(
                "deploy",
                None,
                None,
                f"build manifest hash differs (recorded {record.get('build_manifest_hash')}, "
                f"this checkout {manifest_hash}); the bytecode comparison decides",
            )
        )
    for key, name, _ in PLAN:
        entry = entries.get(key)
        if entry is None:
            find(
                "deploy.record",
                None,
                f"an entry for {key}",
                "none",
                f"the deployment file does not record the {key}",
            )
            continue
        if entry.get("contract") != name:
            find(
                "deploy.record",
                None,
                name,
                entry.get("contract"),
                f"the deployment file names another contract for the {key}",
            )
        built = build.contracts[name]
        address = hex_bytes(addresses[key])
        comparison = compare_code(code.get(key, b""), built)
        row: dict[str, Any] = {
            "key": key,
            "contract": name,
            "address": addresses[key],
            "code_matches": comparison.matches,
            "differing": list(comparison.differing),
            "detail": comparison.detail,
            "runtime_hash": built.runtime_hash,
            "immutables": list(comparison.immutables),
        }
        if not comparison.matches:
            find(
                "deploy.code",
                None,
                f"the runtime code of {name} compiled from contracts/",
                f"{'+'.join(comparison.differing)} differ",
                f"{key} at {addresses[key]}: {comparison.detail}",
            )
        if entry.get("runtime_bytecode_hash") != built.runtime_hash:
            find(
                "deploy.claim",
                None,
                built.runtime_hash,
                entry.get("runtime_bytecode_hash"),
                f"the deployment file's runtime hash of {name} is not the fresh compile's",
            )
        tx_hash = str(entry.get("tx_hash"))
        blocks.append(int(entry.get("block", -1)))
        tx = rpc.call("eth_getTransactionByHash", [tx_hash])
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash]) if tx else None
        row["creation_ok"] = False
        if tx is None or receipt is None:
            find(
                "deploy.creation",
                tx_hash,
                f"the transaction that created {key}",
                "no such transaction",
                f"the recorded creation transaction of {key} is not on the chain",
            )
            rows.append(row)
            continue
        problems = []
        if hex_bytes(receipt.get("contractAddress")) != address:
            created = receipt.get("contractAddress")
            shown = to_checksum_address(created) if created else "no contract"
            problems.append(f"it created {shown}, not {addresses[key]}")
        if hex_int(receipt["blockNumber"]) != int(entry.get("block", -1)):
            problems.append(
                f"it is in block {hex_int(receipt['blockNumber'])}, not {entry.get('block')}"
            )
        if hex_int(receipt.get("status", "0x1")) != 1:
            problems.append("it reverted")
        sender = tx_sender(tx)[1]
        if sender is None or to_hex(sender) != str(record.get("deployer", "")).lower():
            problems.append(
                f"it was sent by {to_hex(sender) if sender else '?'}, not the recorded deployer"
            )
        try:
            expected_input = built.bytecode + constructor_args(key, addresses)
        except (KeyError, ValueError, TypeError):
            expected_input = built.bytecode
        if hex_bytes(tx.get("input")) != expected_input:
            given = hex_bytes(tx.get("input"))
            part = (
                "creation code"
                if not given.startswith(built.bytecode)
                else "constructor arguments (the wiring of forwarder/registry/council)"
            )
            problems.append(f"its {part} differ from the fresh compile's")
        if problems:
            find(
                "deploy.creation",
                tx_hash,
                f"the creation of {name} at {addresses[key]}",
                "; ".join(problems),
                f"the recorded creation of {key} does not hold",
                at=hex_int(receipt["blockNumber"]),
            )
        else:
            row["creation_ok"] = True
        rows.append(row)
    if blocks and int(record.get("block", -1)) != min(blocks):
        find(
            "deploy.record",
            None,
            min(blocks),
            record.get("block"),
            "the deployment block is not the first of its contracts' creation blocks",
        )
    return DeploymentCheck(findings, warnings, rows)
