"""The bell (ledger/schedule.py): on a chain that mines only for transactions, a proposal still
closes at its closing time, with nothing else happening; and the bell adds no other blocks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.index import EventIndex
from ledger.node import rpc
from ledger.protocol.generated import ProposalParams, ProposalState
from ledger.schedule import ScheduleBell
from ledger.tx import send
from tests.relay_support import open_election


def _index(path: Path, w3: Web3, system: Deployment, settings: Settings, start: int) -> EventIndex:
    """The council's events from block `start` (the session chain's whole history is long)."""
    council = system.council
    return EventIndex(path, w3, {"council": (council.address, list(council.abi))}, start, settings)


def _chain_now(w3: Web3) -> int:
    """anvil's clock: the time its next block would be stamped with."""
    return int(rpc(w3, "eth_getBlockByNumber", ["pending", False])["timestamp"], 16)


def _open(w3: Web3, system: Deployment, accounts: list[LocalAccount], tag: int, in_s: int) -> int:
    """A proposal open from the newest block's time (passed) to `in_s` seconds from now."""
    first, _ = open_election(w3, system, accounts, voters=3, tag=tag)
    community = system.council.functions.getProposal(first).call().communityId
    head = w3.eth.get_block("latest")["timestamp"]
    closes = _chain_now(w3) + in_s
    params = ProposalParams(community, bytes([tag]) * 32, 0, 3, head, closes, 0, 5000, 0, b"\0" * 3)
    send(w3, accounts[2], system.council.functions.openProposal(params))
    return int(system.council.functions.proposalCount().call())


@pytest.mark.parametrize("clock", ["as-is", "set-back", "moved-ahead"])
def test_a_proposal_closes_at_its_time_with_no_other_activity_and_no_block_is_mined_early(
    w3: Web3,
    system: Deployment,
    accounts: list[LocalAccount],
    settings: Settings,
    tmp_path: Path,
    clock: str,
) -> None:
    if clock == "set-back":
        # anvil's revert sets its clock back to the snapshot's time: its clock then lags the
        # wall clock, as on a long test session.
        snapshot = rpc(w3, "evm_snapshot")
        time.sleep(2.5)
        rpc(w3, "evm_revert", [snapshot])
    elif clock == "moved-ahead":
        rpc(w3, "evm_increaseTime", [3600])
    start = w3.eth.block_number
    proposal = _open(w3, system, accounts, tag=71, in_s=4)
    closes = system.council.functions.getProposal(proposal).call().closesAt
    assert system.council.functions.state(proposal).call() == ProposalState.Open

    with _index(tmp_path / "index.db", w3, system, settings, start) as index:
        index.sync()
        bell = ScheduleBell(w3, index, settings)
        mined = w3.eth.block_number
        while _chain_now(w3) < closes - 1:
            assert not bell.ring_if_due(), "a block before the closing time"
            assert w3.eth.block_number == mined
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while w3.eth.get_block("latest")["timestamp"] < closes:
            assert time.monotonic() < deadline, "no block passed the closing time"
            bell.ring_if_due()
            time.sleep(0.2)
        assert w3.eth.block_number == mined + 1, "one block, at the closing time"
        assert system.council.functions.state(proposal).call() == ProposalState.Closed
        # Nothing more to ring for that proposal; the other one closes in an hour.
        assert not bell.ring_if_due()
        assert w3.eth.block_number == mined + 1
    assert start < mined


def test_the_bell_turns_itself_off_on_a_chain_without_evm_mine(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], settings: Settings, tmp_path: Path
) -> None:
    with _index(tmp_path / "index.db", w3, system, settings, w3.eth.block_number) as index:
        _open(w3, system, accounts, tag=73, in_s=2)
        index.sync()
        bell = ScheduleBell(w3, index, settings)
        assert not bell.ring_if_due()
        time.sleep(3)
        real = w3.provider.make_request

        def no_evm_mine(method, params):  # type: ignore[no-untyped-def]
            if method == "evm_mine":
                return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}}
            return real(method, params)

        w3.provider.make_request = no_evm_mine  # type: ignore[method-assign]
        try:
            head = w3.eth.block_number
            assert not bell.ring_if_due()
            assert bell.off and w3.eth.block_number == head
        finally:
            w3.provider.make_request = real  # type: ignore[method-assign]
