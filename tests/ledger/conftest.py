from __future__ import annotations

from pathlib import Path

import pytest

from ledger.build import Artifact, compile_sources
from ledger.config import Settings
from ledger.node import free_port

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def node_settings(tmp_path: Path) -> Settings:
    """Settings for a private embedded chain: its own data dir, deployments dir and port."""
    return Settings(
        data_dir=tmp_path / "var",
        deployments_dir=tmp_path / "deployments",
        anvil_port=free_port(),
        snapshot_interval_s=0.2,
    )


@pytest.fixture(scope="session")
def counter_artifact(settings: Settings) -> Artifact:
    return compile_sources([FIXTURES / "Counter.sol"], settings)["Counter"]
