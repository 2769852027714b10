from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.build import Artifact, compile_sources
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.relay.services import ServiceRelay
from tests.relay_support import open_election

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def counter_artifact(settings: Settings) -> Artifact:
    return compile_sources([FIXTURES / "Counter.sol"], settings)["Counter"]


@dataclass
class Bank:
    community: int
    admin: LocalAccount
    residents: list[LocalAccount]
    kind: ServiceRelay


@pytest.fixture
def bank(w3: Web3, system: Deployment, accounts: list[LocalAccount], settings: Settings) -> Bank:
    _, residents = open_election(w3, system, accounts, voters=4, tag=40)
    community = int(system.registry.functions.communityCount().call())
    return Bank(
        community,
        accounts[1],
        residents,
        ServiceRelay(w3, system.timebank, system.registry, settings),
    )
