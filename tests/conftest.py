"""Session-wide fixtures: one real anvil per test session, real compiled contracts, and an
EVM snapshot reverted after every test so tests cannot leak state into each other."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.bytecode import fresh_build
from ledger.build import Artifact, compile_project, compiler_version
from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import Deployment, deploy_system
from ledger.node import AnvilProcess, ephemeral_node, free_port, rpc

Account.enable_unaudited_hdwallet_features()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def anvil(settings: Settings) -> Iterator[AnvilProcess]:
    with ephemeral_node(settings) as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil: AnvilProcess) -> Web3:
    return anvil.w3


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    """anvil's ten funded development accounts; accounts[0] deploys."""
    return [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)
    ]


@pytest.fixture(scope="session")
def artifacts(settings: Settings) -> dict[str, Artifact]:
    return compile_project(settings)


@pytest.fixture(scope="session")
def system(
    w3: Web3, accounts: list[LocalAccount], settings: Settings, artifacts: dict[str, Artifact]
) -> Deployment:
    return deploy_system(w3, accounts[0], settings, force=True, write=False)


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    """One fresh compile for every audit of the run (an audit's own costs ~20 s of CPU), xdist
    workers included: the first worker to get here compiles, the others wait for it and find
    the cache (checked against the sources' hashes on every use, like any audit's cache)."""
    shared = tmp_path_factory.getbasetemp().parent / "audit-build-cache"
    shared.mkdir(parents=True, exist_ok=True)
    compiler = {
        "version": compiler_version(settings),
        "settings": settings.compiler.solc_settings(),
    }
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh_build(settings, compiler, shared)
    return shared


@pytest.fixture
def node_settings(tmp_path: Path) -> Settings:
    """Settings for a private embedded chain: its own data dir, deployments dir and port."""
    return Settings(
        data_dir=tmp_path / "var",
        deployments_dir=tmp_path / "deployments",
        anvil_port=free_port(),
        snapshot_interval_s=0.2,
    )


@pytest.fixture(autouse=True)
def _isolate_chain(request: pytest.FixtureRequest) -> Iterator[None]:
    """Revert the session chain after each test that touched it."""
    if "w3" not in request.fixturenames:
        yield
        return
    w3: Web3 = request.getfixturevalue("w3")
    snapshot = rpc(w3, "evm_snapshot")
    yield
    rpc(w3, "evm_revert", [snapshot])
