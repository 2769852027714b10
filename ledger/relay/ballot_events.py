"""What a ballot contract's events tell the relay, for any contract that casts signed ballots in
batches with a "cast" and a "skipped" event, each with the voter as its second topic (Council,
ElectionProxies), or with one "cast" event a batch that lists its voters (Elections'
ElectionBallotsCast): who voted already, and each relayed ballot's outcome. Decoded by hand:
web3's generic log processing costs more than the rest of the relay."""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

from web3 import Web3
from web3.types import TxReceipt

from ledger.hashing import checksum_address
from ledger.protocol.ballots_cast import cast_entries_of_data
from ledger.protocol.generated import Events
from ledger.relay.message import COUNTED, REJECTED, Outcome
from ledger.relay.rolls import raw_logs

MISSING = Outcome(REJECTED, "no event for this ballot in its transaction")
_BATCH_CAST = Events.ElectionBallotsCast.topic


def voted_on_chain(w3: Web3, address: str, cast: bytes, key: int) -> dict[str, str]:
    """Who voted (lowercase hex) in ballot box `key`, a proposal or an election, by its events."""
    logs = raw_logs(w3, address, [cast, key.to_bytes(32, "big")])
    if cast == _BATCH_CAST:
        return {
            "0x" + entry.voter.hex(): "on-chain"
            for e in logs
            for entry in cast_entries_of_data(bytes.fromhex(e["data"][2:]))
        }
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
    taken in log order; none: refused as missing). A batch's entry is its voter's payload with
    its choices: the batch's one event follows the skips of a voter's later payloads."""
    results: dict[str, deque[Outcome]] = defaultdict(deque)
    entries: Counter[tuple[str, int]] = Counter()
    here = {a.lower() for a in ((address,) if isinstance(address, str) else address)}
    for log_ in sorted(receipt["logs"], key=lambda entry: entry["logIndex"]):
        if log_["address"].lower() not in here or not log_["topics"]:
            continue
        topic = bytes(log_["topics"][0])
        if topic not in (cast, skipped):
            continue
        data = bytes(log_["data"])
        if topic == _BATCH_CAST:
            entries.update(
                (checksum_address(e.voter), e.choices) for e in cast_entries_of_data(data)
            )
            continue
        voter = checksum_address(bytes(log_["topics"][2])[12:])
        if topic == cast:
            results[voter].append(Outcome(COUNTED, counted_detail(data)))
        else:
            results[voter].append(Outcome(REJECTED, skip_reason(int.from_bytes(data[:32], "big"))))
    outcomes: list[Outcome] = []
    for p in payloads:
        entry = (p["voter"], int(p.get("choices", -1)))
        if entries[entry]:
            entries[entry] -= 1
            outcomes.append(Outcome(COUNTED, None))
        else:
            outcomes.append(results[p["voter"]].popleft() if results[p["voter"]] else MISSING)
    return outcomes
