"""The relay against a chain that rewinds while it looks: a settled batch the chain lost must be
found and landed again even when the node fails again in the middle of the search (the stress
run found that back-to-back kill -9s left such batches marked counted for good)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from requests.exceptions import ConnectionError as RequestsConnectionError
from web3 import Web3

import ledger.relay.relayer
from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.node import AnvilProcess, make_web3, rpc
from ledger.relay.ballots import BallotRelay
from ledger.relay.outbox import Outbox
from ledger.relay.relayer import Relayer
from ledger.signing.ballots import make_ballot, sign_ballot
from ledger.tx import ErrorDecoder
from tests.relay_support import open_election, settle, stepped


def test_batch_lost_in_a_rewind_is_landed_again_though_the_node_failed_during_the_search(
    tmp_path: Path,
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    accounts: list[LocalAccount],
    artifacts: dict[str, Artifact],
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    proposal, residents = open_election(w3, system, accounts, voters=6, tag=5)
    relay_w3 = make_web3(anvil.url)  # the relay's own connection, so it alone can be made to fail
    kind = BallotRelay(relay_w3, system.council, system.registry, settings)
    outbox = Outbox(tmp_path / "relay.sqlite", settings)
    relayer = Relayer(
        relay_w3,
        accounts[9],
        outbox,
        [kind],
        stepped(settings, relay_reorg_check_s=0.0),
        decoder=ErrorDecoder(a.abi for a in artifacts.values()),
    )
    receipts = []
    for voter in residents:
        signed = sign_ballot(voter, make_ballot(proposal, voter.address, 1), kind.domain)
        payload = {"proposalId": proposal, "voter": voter.address, "option": 1,
                   "signature": "0x" + signed.signature.hex()}  # fmt: skip
        message = kind.parse(payload)
        kind.check(message)
        receipts.append(outbox.submit(message).result(5))
    before = rpc(w3, "evm_snapshot")
    relayer.step()
    settle(relayer)
    assert {outbox.get(r.id).status for r in receipts} == {"counted"}

    # The node restarts from an older snapshot: the batch's block is gone, and other blocks
    # take its height.
    rpc(w3, "evm_revert", [before])
    for _ in range(3):
        rpc(w3, "evm_mine")

    # ... and goes away again while the relay reads the receipts of its recent batches.
    real = ledger.relay.relayer.fetch_receipt

    def down(*args: Any, **kwargs: Any) -> Any:
        raise RequestsConnectionError("connection refused")

    monkeypatch.setattr(ledger.relay.relayer, "fetch_receipt", down)
    with pytest.raises(RequestsConnectionError):
        relayer.reconcile()
    monkeypatch.setattr(ledger.relay.relayer, "fetch_receipt", real)

    for _ in range(3):
        relayer.step()
    settle(relayer)
    assert {outbox.get(r.id).status for r in receipts} == {"counted"}
    assert list(system.council.functions.tallyOf(proposal).call()) == [0, len(residents), 0]
    outbox.close()
