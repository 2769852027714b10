from __future__ import annotations

from pathlib import Path

import pytest

from ledger.build import Artifact, compile_sources
from ledger.config import Settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def counter_artifact(settings: Settings) -> Artifact:
    return compile_sources([FIXTURES / "Counter.sol"], settings)["Counter"]
