"""`commons initiative list` against a live chain: a community's initiatives from the chain,
newest first, each with its state, co-signatures against the threshold and its proposal."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner
from web3 import Web3

from commons.cli import app
from ledger.protocol.generated import InitiativeRules
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem, new_accounts
from tests.e2e.conftest import live as _live  # noqa: F401  (the live system, as a fixture)

REGISTRAR = Web3.keccak(text="REGISTRAR")
RULES = InitiativeRules(
    thresholdBps=5000, signingPeriod=86_400, votingPeriod=3600, quorumBps=0, passBps=5000
)


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> LiveSystem:
    system: LiveSystem = request.getfixturevalue("_live")
    return system


def test_initiative_list_prints_each_initiative_of_the_community_from_the_chain(
    live: LiveSystem,
) -> None:
    client = live.client
    (admin,) = new_accounts(1)
    residents = signer_keys(2, "initiative-cli")
    registry = client.contracts["registry"]
    client.act(admin, registry.functions.createCommunity(Web3.keccak(text="cli")))
    community = int(registry.functions.communityCount().call())
    client.act(admin, registry.functions.grantRole(community, REGISTRAR, admin.address))
    roll = [r.address for r in residents]
    client.act(admin, registry.functions.updateRoll(community, roll, [], True))
    client.act(admin, client.contracts["initiatives"].functions.setRules(community, tuple(RULES)))
    for text in ("A bike shed.", "A notice board."):
        assert client.wait(client.initiative(residents[0], community, text)["id"])["status"] == (
            "counted"
        )
    client.wait(client.cosign(residents[1], 1)["id"])

    env = {k: v for k, v in live.env.items() if k.startswith("COMMONS_")}
    result = CliRunner().invoke(app, ["initiative", "list", "--community", str(community)], env=env)

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"community {community}: 2 initiatives"
    assert lines[1].startswith("#2 Collecting: 0/1 co-signatures")
    assert lines[2].startswith("#1 Promoted -> proposal 1: 1/1 co-signatures")
    assert residents[0].address in lines[1]
