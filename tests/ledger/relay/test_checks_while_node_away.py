"""While the node is away, the relay keeps acknowledging what it can check from what it already
knows (an open proposal's schedule, the roll, who voted, a provider's nonces), so the durable
outbox holds those messages until the node is back; anything it cannot check is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.errors import InvalidMessage
from ledger.relay.ballots import BallotRelay
from ledger.relay.services import ServiceRelay
from ledger.signing.ballots import make_ballot, sign_ballot
from tests.ledger.conftest import Bank
from tests.ledger.relay.test_service_checks import record
from tests.relay_support import open_election


@pytest.fixture
def node_away(w3: Web3, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to make every JSON-RPC request from here on fail as a stopped node's does."""
    make_request = w3.provider.make_request
    away = False

    def request(method: Any, params: Any) -> Any:
        if away:
            raise requests.exceptions.ConnectionError("connection refused")
        return make_request(method, params)

    def go_away() -> None:
        nonlocal away
        away = True

    monkeypatch.setattr(w3.provider, "make_request", request)
    # web3 keeps the request function it built around the provider's make_request: build anew.
    monkeypatch.setattr(w3.provider, "_request_func_cache", (None, None))
    yield go_away


@pytest.fixture
def expiring(settings: Settings) -> Settings:
    """Every cached answer is past its time to live: each check would ask the node again."""
    return settings.model_copy(
        update={"chain_clock_refresh_s": 0.0, "relay_roll_version_ttl_s": 0.0}
    )


def ballot(kind: BallotRelay, proposal: int, voter: LocalAccount, option: int) -> Any:
    signature = sign_ballot(voter, make_ballot(proposal, voter.address, option), kind.domain)
    return kind.parse(
        {
            "proposalId": proposal,
            "voter": voter.address,
            "option": option,
            "signature": "0x" + signature.signature.hex(),
        }
    )


def test_ballots_are_checked_from_memory_while_the_node_is_away(
    w3: Web3,
    system: Deployment,
    accounts: list[LocalAccount],
    node_away: Callable[[], None],
    expiring: Settings,
) -> None:
    proposal, residents = open_election(w3, system, accounts, voters=3, tag=60)
    kind = BallotRelay(w3, system.council, system.registry, expiring)
    kind.check(ballot(kind, proposal, residents[0], 0))  # schedule, roll and voters loaded
    node_away()
    kind.check(ballot(kind, proposal, residents[1], 1))
    # Still judged: a second ballot of the same voter is refused from memory too.
    with pytest.raises(InvalidMessage) as again:
        kind.check(ballot(kind, proposal, residents[1], 2))
    assert again.value.code == "AlreadyVoted"
    # What memory cannot answer (someone off the roll: only the chain can say) is not guessed.
    with pytest.raises(requests.exceptions.ConnectionError):
        kind.check(ballot(kind, proposal, accounts[7], 0))


def test_service_records_are_checked_from_memory_while_the_node_is_away(
    w3: Web3, system: Deployment, bank: Bank, node_away: Callable[[], None], expiring: Settings
) -> None:
    bank.kind = ServiceRelay(w3, system.timebank, system.registry, expiring)
    alice, bob = bank.residents[0], bank.residents[1]
    bank.kind.check(record(bank, alice, bob, 0))
    node_away()
    bank.kind.check(record(bank, alice, bob, 1))
    with pytest.raises(InvalidMessage) as held:
        bank.kind.check(record(bank, alice, bob, 1, note=2))
    assert held.value.code == "NonceAlreadyUsed"
    # A provider never seen: their nonces are only on the chain.
    with pytest.raises(requests.exceptions.ConnectionError):
        bank.kind.check(record(bank, bob, alice, 0))
