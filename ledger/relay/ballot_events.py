"""What a ballot contract's events tell the relay, for any contract that casts signed ballots in
batches with a "cast" and a "skipped" event, each with the voter as its second topic (Council,
Elections, ElectionProxies): who voted already, and each relayed ballot's outcome. Decoded by
hand: web3's generic log processing costs more than the rest of the relay."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

from web3 import Web3
from web3.types import TxReceipt

from ledger.hashing import checksum_address
from ledger.relay.message import COUNTED, REJECTED, Outcome
from ledger.relay.rolls import raw_logs

MISSING = Outcome(REJECTED, "no event for this ballot in its transaction")


def voted_on_chain(w3: Web3, address: str, cast: bytes, key: int) -> dict[str, str]:
    """Who voted (lowercase hex) in ballot box `key`, a proposal or an election, by its events."""
    logs = raw_logs(w3, address, [cast, key.to_bytes(32, "big")])
    return {"0x" + e["topics"][2][-40:].lower(): "on-chain" for e in logs}


def outcomes_by_voter(
    receipt: TxReceipt,
    address: str | tuple[str, ...],
    cast: bytes,
    skipped: bytes,
    counted_detail: Callable[[bytes], str | None],
    skip_reason: Callable[[int], str],
    payloads: Sequence[dict[str, Any]],
) -> list[Outcome]:
    """Each payload's outcome, in order, from the cast and skipped events of `address` (or of
    any of several contracts one batch passes through) in the batch's receipt (a voter's events
    taken in log order; none: refused as missing)."""
    results: dict[str, deque[Outcome]] = defaultdict(deque)
    here = {a.lower() for a in ((address,) if isinstance(address, str) else address)}
    for log_ in sorted(receipt["logs"], key=lambda entry: entry["logIndex"]):
        if log_["address"].lower() not in here or not log_["topics"]:
            continue
        topic = bytes(log_["topics"][0])
        if topic not in (cast, skipped):
            continue
        voter = checksum_address(bytes(log_["topics"][2])[12:])
        data = bytes(log_["data"])
        if topic == cast:
            results[voter].append(Outcome(COUNTED, counted_detail(data)))
        else:
            results[voter].append(Outcome(REJECTED, skip_reason(int.from_bytes(data[:32], "big"))))
    return [results[p["voter"]].popleft() if results[p["voter"]] else MISSING for p in payloads]
