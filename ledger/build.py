"""Compile contracts/ with the settings in brownie-config.yaml; write artifacts and a manifest.

The standard-JSON input is formed exactly as brownie forms it (project-relative source names,
the remappings as written, the same optimizer and EVM settings), so `brownie compile` and
`ledger.build` produce byte-identical runtime bytecode, metadata hash included.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import solcx
from eth_utils.crypto import keccak

from ledger.config import Settings
from ledger.errors import BuildError
from ledger.files import atomic_write
from ledger.protocol import extract
from ledger.protocol.extract import describe

OUTPUT_SELECTION = {
    "*": {
        # Source ASTs: enum members, EIP-712 type strings, domains and roles (ledger.protocol).
        "": ["ast"],
        "*": [
            "abi",
            "evm.bytecode.object",
            "evm.deployedBytecode.object",
            "evm.deployedBytecode.immutableReferences",
            "metadata",
        ],
    }
}


@dataclass(frozen=True)
class Artifact:
    """One compiled contract. Bytecodes are 0x-prefixed hex."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    # offset/length pairs where the constructor writes immutables into the runtime code
    immutable_references: dict[str, list[dict[str, int]]] = field(default_factory=dict)

    @property
    def runtime_hash(self) -> str:
        return "0x" + keccak(hexstr=self.deployed_bytecode).hex()

    def to_json(self) -> dict[str, Any]:
        return {
            "contractName": self.name,
            "sourcePath": self.source,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "immutableReferences": self.immutable_references,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            name=data["contractName"],
            source=data["sourcePath"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            immutable_references=data.get("immutableReferences", {}),
        )


def solc_binary(settings: Settings) -> Path:
    path = settings.solc_binary_dir / f"solc-v{settings.compiler.version}"
    if not path.exists():
        raise BuildError(f"solc {settings.compiler.version} not found at {path}: run `make setup`")
    return path


def compiler_version(settings: Settings) -> str:
    """The full version string the compiler reports (e.g. 0.8.28+commit.7893614a...)."""
    try:
        out = subprocess.run(
            [str(solc_binary(settings)), "--version"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot run solc: {exc}") from exc
    return out.strip().splitlines()[-1].removeprefix("Version: ").strip()


def standard_input(settings: Settings, sources: Iterable[Path]) -> dict[str, Any]:
    root = settings.project_root
    return {
        "language": "Solidity",
        "sources": {
            path.resolve().relative_to(root).as_posix(): {"content": path.read_text()}
            for path in sorted(sources)
        },
        "settings": {**settings.compiler.solc_settings(), "outputSelection": OUTPUT_SELECTION},
    }


def compile_sources(paths: list[Path], settings: Settings | None = None) -> dict[str, Artifact]:
    """Compile the given .sol files (under the project root) with the project's settings."""
    settings = settings or Settings()
    input_json = standard_input(settings, paths)
    return _artifacts(_run_solc(settings, input_json), set(input_json["sources"]))


def project_sources(settings: Settings) -> list[Path]:
    return sorted(settings.contracts_dir.rglob("*.sol"))


def build_input_hash(settings: Settings, input_json: dict[str, Any]) -> str:
    """What a cached build stands for: the compiler's input, the libraries and the extractor."""
    # Library sources come from node_modules, pinned by package-lock.json: it stands for them here.
    lock = settings.project_root / "package-lock.json"
    digest = hashlib.sha256(json.dumps(input_json, sort_keys=True).encode())
    digest.update(lock.read_bytes() if lock.exists() else b"")
    # What protocol.json holds is the extractor's reading: a new extractor reads the output again.
    digest.update(Path(extract.__file__).read_bytes())
    return "0x" + digest.hexdigest()


def compile_project(
    settings: Settings | None = None, *, force: bool = False
) -> dict[str, Artifact]:
    """Compile contracts/ (cached: skipped when sources and settings are unchanged)."""
    settings = settings or Settings()
    input_json = standard_input(settings, project_sources(settings))
    input_hash = build_input_hash(settings, input_json)
    manifest_path = settings.build_dir / "manifest.json"
    if not force and manifest_path.exists() and protocol_path(settings).exists():
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("input_hash") == input_hash:
                return load_artifacts(settings)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    output = _run_solc(settings, input_json)
    artifacts = _artifacts(output, set(input_json["sources"]))
    _write_build(settings, input_json, input_hash, artifacts, _all_source_hashes(output))
    atomic_write(protocol_path(settings), json.dumps(describe(output), indent=1) + "\n")
    return artifacts


def protocol_path(settings: Settings) -> Path:
    """The protocol facts the last build read from the contracts (ledger.protocol.extract)."""
    return settings.build_dir / "protocol.json"


def load_protocol(settings: Settings) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(protocol_path(settings).read_text())
    except (OSError, ValueError) as exc:
        raise BuildError(
            f"no protocol description in {settings.build_dir}: run `commons build`"
        ) from exc
    return data


def load_artifacts(settings: Settings) -> dict[str, Artifact]:
    out: dict[str, Artifact] = {}
    for path in sorted((settings.build_dir / "contracts").glob("*.json")):
        artifact = Artifact.from_json(json.loads(path.read_text()))
        out[artifact.name] = artifact
    if not out:
        raise BuildError(f"no artifacts in {settings.build_dir}: run `commons build`")
    return out


def load_manifest(settings: Settings) -> dict[str, Any]:
    path = settings.build_dir / "manifest.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BuildError(f"no build manifest at {path}: run `commons build`") from exc
    return data


def manifest_hash(manifest: dict[str, Any]) -> str:
    return "0x" + hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _run_solc(settings: Settings, input_json: dict[str, Any]) -> dict[str, Any]:
    try:
        output: dict[str, Any] = solcx.compile_standard(
            input_json,
            solc_binary=solc_binary(settings),
            allow_paths=str(settings.project_root),
            allow_empty=True,
        )
    except solcx.exceptions.SolcError as exc:
        raise BuildError(_solc_errors(exc)) from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise BuildError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    return output


def _solc_errors(exc: solcx.exceptions.SolcError) -> str:
    try:
        data = json.loads(exc.stdout_data or "")
        return "\n".join(
            e.get("formattedMessage", e["message"])
            for e in data.get("errors", [])
            if e.get("severity") == "error"
        )
    except (TypeError, ValueError, KeyError):
        return str(exc)


def _artifacts(output: dict[str, Any], own_sources: set[str]) -> dict[str, Artifact]:
    artifacts: dict[str, Artifact] = {}
    # Our own sources first, so a library contract can never shadow one of ours by name.
    ordered = sorted(output.get("contracts", {}).items(), key=lambda kv: kv[0] not in own_sources)
    for source, contracts in ordered:
        for name, data in contracts.items():
            if name in artifacts:
                if source in own_sources and artifacts[name].source in own_sources:
                    raise BuildError(
                        f"two contracts named {name}: {artifacts[name].source}, {source}"
                    )
                continue
            evm = data["evm"]
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=data["abi"],
                bytecode="0x" + evm["bytecode"]["object"],
                deployed_bytecode="0x" + evm["deployedBytecode"]["object"],
                immutable_references=evm["deployedBytecode"].get("immutableReferences", {}),
            )
    return artifacts


def _all_source_hashes(output: dict[str, Any]) -> dict[str, str]:
    """keccak256 of every source that went into any contract, imported libraries included."""
    hashes: dict[str, str] = {}
    for contracts in output.get("contracts", {}).values():
        for data in contracts.values():
            for name, src in json.loads(data["metadata"] or "{}").get("sources", {}).items():
                hashes[name] = src["keccak256"]
    return dict(sorted(hashes.items()))


def _write_build(
    settings: Settings,
    input_json: dict[str, Any],
    input_hash: str,
    artifacts: dict[str, Artifact],
    source_hashes: dict[str, str],
) -> None:
    contracts_dir = settings.build_dir / "contracts"
    contracts_dir.mkdir(parents=True, exist_ok=True)
    for stale in contracts_dir.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    for artifact in artifacts.values():
        atomic_write(contracts_dir / f"{artifact.name}.json", json.dumps(artifact.to_json()))
    compiler = settings.compiler
    manifest = {
        "compiler": {"version": compiler_version(settings), "settings": compiler.solc_settings()},
        "input_hash": input_hash,
        "sources": source_hashes,
        "runtime_bytecode": {
            a.name: a.runtime_hash
            for a in sorted(artifacts.values(), key=lambda a: a.name)
            if a.source in input_json["sources"] and len(a.deployed_bytecode) > 2
        },
    }
    atomic_write(settings.build_dir / "manifest.json", json.dumps(manifest, indent=2) + "\n")
