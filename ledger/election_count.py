"""Anyone runs a closed election's count on the chain: `countStep` again and again, each call
reading at most a given number of stored ballots, until every seat is filled. Each step is an
`AdminCall` anyone may sign (checked and simulated first, then sent directly or through the
API's relay), and what it did is read back from its receipt's events, by name.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3.logs import DISCARD

from ledger import admin
from ledger.admin import AdminCall, AdminChain, AdminRefused, Sender, Signer
from ledger.audit.elections import NONE
from ledger.protocol.generated import ElectionState, Functions


@dataclass(frozen=True)
class CountStatus:
    """Where an election's count stands, read by name from `getElection`."""

    election: int
    state: ElectionState
    closes_at: int
    ballots: int
    seats: int
    seats_filled: int
    round: int
    winners: tuple[int, ...]


@dataclass(frozen=True)
class StepDone:
    """One `countStep` on the chain: its transaction, the gas it used, and what it closed."""

    tx_hash: str
    block: int
    gas_used: int
    lines: tuple[str, ...]
    status: CountStatus


def status(chain: AdminChain, election: int) -> CountStatus:
    """The election's count as the chain holds it; refuses an election that does not exist."""
    elections = chain.deployment.elections.functions
    count = int(elections.electionCount().call())
    if not 1 <= election <= count:
        known = f"elections: 1 to {count}" if count else "none has been opened"
        raise AdminRefused(f"there is no election {election} ({known})")
    view = elections.getElection(election).call()
    return CountStatus(
        election,
        ElectionState(view.state),
        int(view.closesAt),
        int(view.ballotCount),
        int(view.seats),
        int(view.seatsFilled),
        int(view.round),
        tuple(int(w) for w in view.winners),
    )


def winners_text(found: CountStatus) -> str:
    """The winners as people number candidates (from 1), in the order their seats were filled."""
    return ", ".join(f"candidate {w + 1}" for w in found.winners)


def check_countable(found: CountStatus) -> None:
    """Refuses, in one sentence, an election whose voting has not closed."""
    if found.state in (ElectionState.Pending, ElectionState.Open):
        closes = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(found.closes_at))
        raise AdminRefused(
            f"election {found.election} is not closed yet: voting closes at {closes}"
        )


def count_step(election: int, max_ballots: int) -> AdminCall:
    if max_ballots < 1:
        raise AdminRefused(f"a step must read at least 1 ballot, not {max_ballots}")
    return AdminCall(
        "elections",
        Functions.countStep,
        (election, max_ballots),
        f"count election {election}: read up to {max_ballots:,} stored ballots and close every "
        "round they complete",
        Signer.ANYONE,
        "RoundCounted",
    )


def run_count(
    chain: AdminChain, election: int, sender: Sender, max_ballots: int
) -> Iterator[StepDone]:
    """Sends `countStep` until the count is done, yielding each step as it lands. Every step
    reads at least one ballot or closes a round, so the count ends."""
    call = count_step(election, max_ballots)
    while True:
        gas = admin.preflight(chain, call, sender.address)
        tx_hash = sender.submit(chain, call, max(admin.GAS_FLOOR, int(gas * admin.GAS_MARGIN)))
        done = _step_done(chain, election, tx_hash)
        yield done
        if done.status.state is ElectionState.Counted:
            return


def _step_done(chain: AdminChain, election: int, tx_hash: str) -> StepDone:
    receipt = chain.w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=60)
    if receipt["status"] != 1:
        raise AdminRefused(f"count step transaction {tx_hash} reverted")
    return StepDone(
        tx_hash,
        int(receipt["blockNumber"]),
        int(receipt["gasUsed"]),
        tuple(_closed(chain, election, receipt)),
        status(chain, election),
    )


def _closed(chain: AdminChain, election: int, receipt: Any) -> Iterator[str]:
    """What a step's receipt says it closed, in the order it happened."""
    contract = chain.deployment.elections
    found: list[tuple[int, str]] = []
    for name in ("RoundCounted", "CandidateElected"):
        for event in contract.events[name]().process_receipt(receipt, errors=DISCARD):
            args = event["args"]
            if args["electionId"] == election:
                found.append((int(event["logIndex"]), _said(name, args)))
    for _, line in sorted(found):
        yield line


def _said(name: str, args: Any) -> str:
    if name == "CandidateElected":
        return (
            f"seat {args['seat']} filled: candidate {args['candidate'] + 1}, {args['votes']} votes"
        )
    tally = ", ".join(str(v) for v in args["tally"])
    out = (
        "no one eliminated"
        if args["eliminated"] == NONE
        else f"candidate {args['eliminated'] + 1} eliminated"
    )
    return (
        f"seat {args['seat']} round {args['round']} counted: votes {tally}; "
        f"{args['exhausted']} exhausted; {out}"
    )
