"""For tests that drive the relay directly: a small open election on the shared test chain, and
a way to settle what the relayer sent without racing the node's mining."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.relay.relayer import Relayer
from ledger.tx import send

COMMITTEE = Web3.keccak(text="COMMITTEE")
REGISTRAR = Web3.keccak(text="REGISTRAR")


def open_election(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], voters: int, tag: int
) -> tuple[int, list[LocalAccount]]:
    """A fresh community (metadata hash `tag` repeated) with `voters` residents on its roll and
    one proposal open now for an hour; returns the proposal id and the residents."""
    admin, member = accounts[1], accounts[2]
    residents = [Account.create() for _ in range(voters)]
    send(w3, admin, system.registry.functions.createCommunity(bytes([tag]) * 32))
    community = system.registry.functions.communityCount().call()
    send(w3, admin, system.registry.functions.grantRole(community, COMMITTEE, member.address))
    send(w3, admin, system.registry.functions.grantRole(community, REGISTRAR, admin.address))
    roll = [r.address for r in residents]
    send(w3, admin, system.registry.functions.updateRoll(community, roll, [], True))
    now = w3.eth.get_block("latest")["timestamp"]
    params = (community, bytes([tag + 1]) * 32, 0, 3, now - 1, now + 3600, 0, 5000, 0, b"\x00" * 3)
    send(w3, member, system.council.functions.openProposal(params))
    proposal: int = system.council.functions.proposalCount().call()
    return proposal, residents


def stepped(settings: Settings, **changes: Any) -> Settings:
    """Settings for a relayer driven a step at a time: a queued message goes at once (no wait
    for a fuller batch) and a transaction not mined yet is suspected at once (these tests
    reconcile right after the crash they stage)."""
    return settings.model_copy(update={"relay_max_wait_s": 0.0, "relay_patience_s": 0.0, **changes})


def settle(relayer: Relayer) -> None:
    """Reconcile once every transaction the relayer sent is mined: anvil mines a transaction
    just after answering its broadcast, so an immediate reconcile may still find it pending."""
    for tx_hash, *_ in relayer.outbox.sent_txs():
        relayer.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    relayer.reconcile()
