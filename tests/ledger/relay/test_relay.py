"""The relay keeps every acknowledged message through every crash window, and lands each
exactly once: acknowledged-not-sent, recorded-not-broadcast, broadcast-but-lost, pending."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.errors import InvalidMessage, QueueFull
from ledger.node import rpc
from ledger.relay.ballots import BallotRelay
from ledger.relay.message import Message
from ledger.relay.outbox import Outbox
from ledger.relay.relayer import Relayer
from ledger.signing.ballots import make_ballot, sign_ballot
from ledger.tx import ErrorDecoder, send
from tests.relay_support import open_election, settle, stepped


@dataclass
class Election:
    proposal: int
    residents: list[LocalAccount]
    kind: BallotRelay
    relayer: LocalAccount
    settings: Settings


@pytest.fixture
def election(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], settings: Settings
) -> Election:
    proposal, residents = open_election(w3, system, accounts, voters=8, tag=1)
    kind = BallotRelay(w3, system.council, system.registry, settings)
    return Election(proposal, residents, kind, accounts[9], settings)


def ballot(e: Election, voter: LocalAccount, option: int) -> Message:
    signed = sign_ballot(voter, make_ballot(e.proposal, voter.address, option), e.kind.domain)
    payload = {"proposalId": e.proposal, "voter": voter.address, "option": option,
               "signature": "0x" + signed.signature.hex()}  # fmt: skip
    message = e.kind.parse(payload)
    e.kind.check(message)
    return message


def relayer(w3: Web3, e: Election, outbox: Outbox, artifacts: dict[str, Artifact]) -> Relayer:
    decoder = ErrorDecoder(a.abi for a in artifacts.values())
    return Relayer(w3, e.relayer, outbox, [e.kind], stepped(e.settings), decoder=decoder)


class CrashBeforeBroadcast(Relayer):
    """Dies after recording the signed tx and before the node hears of it."""

    def _broadcast(self, raw: bytes) -> None:
        raise ConnectionError("process killed here")


def settings_with(e: Election, **changes: object) -> Settings:
    return e.settings.model_copy(update=changes)


def tally(system: Deployment, e: Election) -> list[int]:
    return list(system.council.functions.tallyOf(e.proposal).call())


# --- the outbox alone -----------------------------------------------------------------------------


def test_same_message_twice_is_stored_once_with_one_receipt(
    tmp_path: Path, election: Election
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    message = ballot(election, election.residents[0], 0)
    first = outbox.submit(message).result(5)
    second = outbox.submit(message).result(5)
    assert first == second and first.status == "queued"
    assert outbox.count() == 1
    outbox.close()


def test_acknowledged_messages_survive_closing_and_reopening(
    tmp_path: Path, election: Election
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    receipts = [outbox.submit(ballot(election, r, 1)).result(5) for r in election.residents[:3]]
    outbox.close()
    again = Outbox(tmp_path / "relay.sqlite", election.settings)
    assert [again.get(r.id) for r in receipts] == receipts
    assert again.count("queued") == 3
    again.close()


def test_concurrent_submissions_are_group_committed_and_all_acknowledged(
    tmp_path: Path, election: Election
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", settings_with(election, relay_group_commit_s=0.01))
    messages = [Message("test", "g", {"n": i}, "0x" + "00" * 20) for i in range(300)]
    futures: list = []
    threads = [
        threading.Thread(
            target=lambda chunk=messages[i::6]: futures.extend(outbox.submit(m) for m in chunk)
        )
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    receipts = [f.result(10) for f in futures]
    assert len({r.id for r in receipts}) == 300 and outbox.count("queued") == 300
    outbox.close()


def test_a_receipt_is_released_once_rejected_or_if_never_stored(
    tmp_path: Path, election: Election
) -> None:
    """What lets a service record's nonce go (ServiceRelay.released)."""
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    message = ballot(election, election.residents[0], 0)
    assert outbox.released(message.receipt_id)  # never stored
    outbox.submit(message).result(5)
    assert not outbox.released(message.receipt_id)  # queued
    outbox.reject([message.receipt_id], "skipped by the contract")
    assert outbox.released(message.receipt_id)
    outbox.close()


def test_a_full_outbox_refuses_instead_of_waiting(tmp_path: Path, election: Election) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", settings_with(election, relay_max_queued=2))
    for r in election.residents[:2]:
        outbox.submit(ballot(election, r, 0)).result(5)
    with pytest.raises(QueueFull):
        outbox.submit(ballot(election, election.residents[2], 0))
    outbox.close()


def test_a_full_outbox_accepts_again_once_another_process_sent_its_messages(
    tmp_path: Path, election: Election
) -> None:
    """The API fills the outbox, the relay worker (another process, so another Outbox on the
    same file) sends from it: the API's own count must not keep refusing."""
    api_side = Outbox(tmp_path / "relay.sqlite", settings_with(election, relay_max_queued=2))
    queued = [api_side.submit(ballot(election, r, 0)).result(5) for r in election.residents[:2]]
    with pytest.raises(QueueFull):
        api_side.submit(ballot(election, election.residents[2], 0))
    worker_side = Outbox(tmp_path / "relay.sqlite", settings_with(election, relay_max_queued=2))
    worker_side.record_sent([r.id for r in queued], "0x" + "ab" * 32, 0, b"raw")
    worker_side.close()
    accepted = api_side.submit(ballot(election, election.residents[2], 0)).result(5)
    assert accepted.status == "queued"
    api_side.close()


def test_an_acknowledging_outbox_leaves_checkpoints_to_the_worker(
    tmp_path: Path, settings: Settings
) -> None:
    """The API's outbox (checkpoints=False) never copies the WAL into the database, so an
    acknowledgement never waits for that; the worker's connection does it on its next write."""
    path = tmp_path / "relay.sqlite"
    api_side = Outbox(
        path, settings.model_copy(update={"relay_max_queued": 10_000}), checkpoints=False
    )
    filler = "x" * 2000
    pending = [
        api_side.submit(Message("ballot", "1", {"n": n, "filler": filler}, "0x" + "11" * 20))
        for n in range(2500)
    ]
    receipts = [p.result(30) for p in pending]
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size > 4_000_000, "five megabytes written, none checkpointed"
    assert path.stat().st_size < 1_000_000
    worker_side = Outbox(path, settings)
    worker_side.reject([receipts[0].id], "any write of the worker's")
    assert path.stat().st_size > 4_000_000, "the worker's commit checkpointed the WAL"
    worker_side.close()
    api_side.close()


def test_a_failed_write_is_rolled_back_and_the_outbox_goes_on(
    tmp_path: Path, election: Election
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    first = outbox.submit(ballot(election, election.residents[0], 0)).result(5)
    with pytest.raises(Exception, match="NOT NULL"):
        outbox.record_sent([first.id], "0x" + "ab" * 32, 0, None)  # type: ignore[arg-type]
    assert outbox.get(first.id).status == "queued", "nothing of the failed write remains"
    second = outbox.submit(ballot(election, election.residents[1], 0)).result(5)
    assert second.status == "queued"
    outbox.close()


# --- the relayer through crash windows ------------------------------------------------------------------


def test_queued_ballots_are_batched_into_one_transaction_and_counted(
    tmp_path: Path, w3: Web3, system: Deployment, election: Election, artifacts: dict[str, Artifact]
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    receipts = [
        outbox.submit(ballot(election, r, i % 3)).result(5)
        for i, r in enumerate(election.residents)
    ]
    assert relayer(w3, election, outbox, artifacts).step() == 1
    settle(relayer(w3, election, outbox, artifacts))
    settled = [outbox.get(r.id) for r in receipts]
    assert {s.status for s in settled} == {"counted"}
    assert len({s.tx_hash for s in settled}) == 1
    assert tally(system, election) == [3, 3, 2]
    outbox.close()


def test_tx_recorded_but_never_broadcast_is_rebroadcast_after_restart(
    tmp_path: Path, w3: Web3, system: Deployment, election: Election, artifacts: dict[str, Artifact]
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    receipts = [outbox.submit(ballot(election, r, 0)).result(5) for r in election.residents[:4]]
    crashing = CrashBeforeBroadcast(
        w3, election.relayer, outbox, [election.kind], stepped(election.settings)
    )
    crashing.send_one_batch()
    assert {outbox.get(r.id).status for r in receipts} == {"sent"}
    assert tally(system, election) == [0, 0, 0]
    outbox.close()

    reopened = Outbox(tmp_path / "relay.sqlite", election.settings)
    relayer(w3, election, reopened, artifacts).step()  # reconcile: not on chain -> rebroadcast
    settle(relayer(w3, election, reopened, artifacts))
    assert {reopened.get(r.id).status for r in receipts} == {"counted"}
    assert tally(system, election) == [4, 0, 0]
    reopened.close()


def test_tx_lost_when_the_chain_rewound_is_requeued_and_lands_once(
    tmp_path: Path, w3: Web3, system: Deployment, election: Election, artifacts: dict[str, Artifact]
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    receipts = [outbox.submit(ballot(election, r, 2)).result(5) for r in election.residents[:5]]
    before = rpc(w3, "evm_snapshot")
    relayer(w3, election, outbox, artifacts).send_one_batch()
    assert tally(system, election) == [0, 0, 5]
    # The chain loses the block (a node restarted from an older snapshot), and the relayer's
    # nonce moves on meanwhile, so the raw tx cannot simply be replayed.
    rpc(w3, "evm_revert", [before])
    send(w3, election.relayer, system.registry.functions.createCommunity(b"\x09" * 32))
    r = relayer(w3, election, outbox, artifacts)
    r.step()
    settle(r)
    assert {outbox.get(x.id).status for x in receipts} == {"counted"}
    assert tally(system, election) == [0, 0, 5]
    outbox.close()


def test_pending_tx_is_left_alone_until_mined(
    tmp_path: Path, w3: Web3, system: Deployment, election: Election, artifacts: dict[str, Artifact]
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    receipts = [outbox.submit(ballot(election, r, 1)).result(5) for r in election.residents[:3]]
    rpc(w3, "evm_setAutomine", [False])
    try:
        r = relayer(w3, election, outbox, artifacts)
        r.send_one_batch()
        r.reconcile()
        assert {outbox.get(x.id).status for x in receipts} == {"sent"}
    finally:
        rpc(w3, "evm_setAutomine", [True])
    rpc(w3, "evm_mine")
    r.reconcile()
    assert {outbox.get(x.id).status for x in receipts} == {"counted"}
    assert tally(system, election) == [0, 3, 0]
    outbox.close()


def test_ballot_that_became_invalid_before_its_batch_is_rejected_with_the_reason(
    tmp_path: Path, w3: Web3, system: Deployment, election: Election, artifacts: dict[str, Artifact]
) -> None:
    outbox = Outbox(tmp_path / "relay.sqlite", election.settings)
    voter = election.residents[0]
    queued = outbox.submit(ballot(election, voter, 0)).result(5)
    # the voter votes directly meanwhile
    rpc(w3, "anvil_setBalance", [voter.address, hex(10**18)])
    send(w3, voter, system.council.functions.castVote(election.proposal, 1))
    r = relayer(w3, election, outbox, artifacts)
    r.step()
    settle(r)
    settled = outbox.get(queued.id)
    assert (settled.status, settled.detail) == ("rejected", "AlreadyVoted")
    assert tally(system, election) == [0, 1, 0]
    outbox.close()


def test_check_refuses_a_second_ballot_of_a_voter_but_not_the_same_one(election: Election) -> None:
    voter = election.residents[0]
    first = ballot(election, voter, 0)
    election.kind.check(first)  # the same message again passes (its receipt is returned)
    with pytest.raises(InvalidMessage) as refused:
        ballot(election, voter, 1)
    assert refused.value.code == "AlreadyVoted"


def test_warming_makes_the_first_ballot_of_an_open_proposal_checkable_inline(
    w3: Web3, system: Deployment, election: Election
) -> None:
    cold = BallotRelay(w3, system.council, system.registry, election.settings)
    message = cold.parse(ballot(election, election.residents[0], 1).payload)
    assert not cold.check_is_local(message)  # it would have to ask the chain first
    assert election.proposal in cold.warm()
    assert cold.check_is_local(message)


def test_a_ballot_is_not_refused_as_early_by_a_clock_the_chain_moved_past(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], settings: Settings
) -> None:
    """The relay's chain clock is a reading up to a second old, carried forward by the wall
    clock; the chain's own clock can jump (anvil's does). A proposal that opened after the jump
    looks not yet open by the old reading: that "no" is confirmed with a fresh reading first."""
    kind = BallotRelay(w3, system.council, system.registry, settings)
    kind.clock.now()  # read before the chain's clock moves
    rpc(w3, "evm_increaseTime", [600])
    rpc(w3, "evm_mine")
    proposal, residents = open_election(w3, system, accounts, voters=1, tag=91)
    e = Election(proposal, residents, kind, accounts[9], settings)
    ballot(e, residents[0], 1)  # checked and accepted: no ProposalNotOpen
