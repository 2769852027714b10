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


def _index(path: Path, w3: Web3, system: Deployment, settings: Settings) -> EventIndex:
    council = system.council
    return EventIndex(path, w3, {"council": (council.address, list(council.abi))}, 0, settings)


@pytest.mark.parametrize("lag_s", [0, 2.5], ids=["anvil-clock", "anvil-clock-lagging"])
def test_a_proposal_closes_at_its_time_with_no_other_activity_and_no_block_is_mined_early(
    w3: Web3,
    system: Deployment,
    accounts: list[LocalAccount],
    settings: Settings,
    tmp_path: Path,
    lag_s: float,
) -> None:
    if lag_s:
        # anvil's revert sets its clock back to the snapshot's time: its next block is stamped
        # behind the wall clock, as on a test chain reverted to older snapshots.
        snapshot = rpc(w3, "evm_snapshot")
        time.sleep(lag_s)
        rpc(w3, "evm_revert", [snapshot])
    first, _ = open_election(w3, system, accounts, voters=3, tag=71)
    community = system.council.functions.getProposal(first).call().communityId
    # The newest block may be older than the wall clock (nothing mined since), or ahead of it;
    # open at its time (passed), close a few seconds from now.
    head = w3.eth.get_block("latest")["timestamp"]
    closes = max(head, int(time.time())) + 4
    params = ProposalParams(community, b"\x48" * 32, 0, 3, head, closes, 0, 5000, 0, b"\0" * 3)
    send(w3, accounts[2], system.council.functions.openProposal(params))
    proposal = system.council.functions.proposalCount().call()
    assert system.council.functions.state(proposal).call() == ProposalState.Open

    with _index(tmp_path / "index.db", w3, system, settings) as index:
        index.sync()
        bell = ScheduleBell(w3, index, settings)
        mined = w3.eth.block_number
        # The chain's clock, to a second (the session's anvil may run ahead of the wall clock).
        offset = max(0.0, w3.eth.get_block("latest")["timestamp"] - time.time())
        assert not bell.ring_if_due(), "nothing due yet"
        while time.time() + offset < closes - 1.5:
            assert not bell.ring_if_due(), "a block before the closing time"
            assert w3.eth.block_number == mined
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while w3.eth.get_block("latest")["timestamp"] < closes:
            assert time.monotonic() < deadline, "no block passed the closing time"
            bell.ring_if_due()
            time.sleep(0.2)
        # One block at the closing time; two where anvil's clock lags (the second stamped).
        assert w3.eth.block_number == mined + (2 if lag_s else 1)
        state = system.council.functions.state(proposal).call()
        assert state == ProposalState.Closed
        # Nothing more to ring for that proposal; the other one closes in an hour.
        assert not bell.ring_if_due()
        assert w3.eth.block_number == mined + (2 if lag_s else 1)


def test_the_bell_turns_itself_off_on_a_chain_without_evm_mine(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], settings: Settings, tmp_path: Path
) -> None:
    first, _ = open_election(w3, system, accounts, voters=1, tag=73)
    community = system.council.functions.getProposal(first).call().communityId
    head = w3.eth.get_block("latest")["timestamp"]
    closes = max(head, int(time.time())) + 2
    params = ProposalParams(community, b"\x49" * 32, 0, 3, head, closes, 0, 5000, 0, b"\0" * 3)
    send(w3, accounts[2], system.council.functions.openProposal(params))
    with _index(tmp_path / "index.db", w3, system, settings) as index:
        index.sync()
        bell = ScheduleBell(w3, index, settings)
        assert not bell.ring_if_due()  # sees the head, and how far the chain's clock is ahead
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
