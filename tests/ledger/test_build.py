"""ledger.build compiles with brownie-config.yaml's settings, reproducibly, and agrees with
`brownie compile` byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from ledger.build import (
    Artifact,
    build_input_hash,
    compile_project,
    compile_sources,
    load_manifest,
    project_sources,
    standard_input,
)
from ledger.config import Settings, load_compiler_settings
from ledger.errors import BuildError, ConfigError
from ledger.protocol import extract


def test_brownie_compile_and_ledger_build_give_byte_identical_runtime_bytecode(
    settings: Settings, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    # brownie writes its build output inside the project; keep this run's apart.
    project = tmp_path / "project"
    for folder in ("build", "tests/contracts", "scripts"):
        (project / folder).mkdir(parents=True)
    for name in ("contracts", "node_modules"):
        (project / name).symlink_to(settings.project_root / name)
    (project / "brownie-config.yaml").write_text(
        (settings.project_root / "brownie-config.yaml").read_text()
    )
    env = {**os.environ, "SOLCX_BINARY_PATH": str(settings.solc_binary_dir)}
    brownie = Path(sys.executable).parent / "brownie"
    result = subprocess.run(
        [str(brownie), "compile"], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ours = load_manifest(settings)["runtime_bytecode"]
    assert {"CommonsForwarder", "Registry", "Council", "CommunityFund", "TimeBank"} <= set(ours)
    for name in ours:
        theirs = json.loads(
            (project / "build" / "brownie" / "contracts" / f"{name}.json").read_text()
        )
        assert "0x" + theirs["deployedBytecode"] == artifacts[name].deployed_bytecode, name


def test_manifest_records_compiler_settings_sources_and_runtime_hashes(
    settings: Settings, artifacts: dict[str, Artifact]
) -> None:
    manifest = load_manifest(settings)
    compiler = load_compiler_settings(settings.project_root / "brownie-config.yaml")
    assert manifest["compiler"]["version"].startswith(compiler.version + "+commit.")
    assert manifest["compiler"]["settings"] == compiler.solc_settings()
    for source in settings.contracts_dir.rglob("*.sol"):
        name = source.relative_to(settings.project_root).as_posix()
        if name in manifest["sources"]:
            assert manifest["sources"][name] == "0x" + keccak(source.read_bytes()).hex()
    assert any(s.startswith("node_modules/@openzeppelin/") for s in manifest["sources"])
    for name, digest in manifest["runtime_bytecode"].items():
        assert digest == artifacts[name].runtime_hash


def test_compile_is_cached_until_a_source_changes(
    settings: Settings, artifacts: dict[str, Artifact]
) -> None:
    manifest = settings.build_dir / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    assert compile_project(settings) == artifacts
    assert manifest.stat().st_mtime_ns == stamp


def test_the_cache_stands_for_the_sources_the_libraries_and_the_extractor(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    input_json = standard_input(settings, project_sources(settings))
    built = build_input_hash(settings, input_json)
    assert built == load_manifest(settings)["input_hash"], "the cached build is this input's"
    edited = json.loads(json.dumps(input_json))
    first = sorted(edited["sources"])[0]
    edited["sources"][first]["content"] += "\n// one more line\n"
    assert build_input_hash(settings, edited) != built
    # A new extractor must read the compiler's output again, though no source changed.
    newer = tmp_path / "extract.py"
    newer.write_bytes(Path(extract.__file__).read_bytes() + b"\n# read one more fact\n")
    monkeypatch.setattr(extract, "__file__", str(newer))
    assert build_input_hash(settings, input_json) != built


def test_compile_error_is_reported_with_solc_message(settings: Settings) -> None:
    broken = settings.project_root / "build" / "test-broken" / "Broken.sol"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("pragma solidity 0.8.28; contract Broken { function f( }")
    with pytest.raises(BuildError, match="ParserError"):
        compile_sources([broken], settings)


def test_unreadable_compiler_settings_are_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "brownie-config.yaml"
    bad.write_text("compiler: {solc: {}}\n")
    with pytest.raises(ConfigError, match="cannot read compiler settings"):
        load_compiler_settings(bad)
