"""The entries of Elections' ElectionBallotsCast (IElections' NatSpec): one word per ballot a
call counted, in the order counted, `uint256(choices) << 160 | uint160(voter)`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from eth_abi.abi import decode

from ledger.protocol.generated import Events

_VOTER_BITS = 160
_VOTER_MASK = (1 << _VOTER_BITS) - 1
_DATA_TYPES = [kind for _, kind, indexed in Events.ElectionBallotsCast.inputs if not indexed]


class CastEntry(NamedTuple):
    voter: bytes  # 20 bytes
    choices: int


def cast_entries(cast: Iterable[int]) -> list[CastEntry]:
    """The ballots of an event's decoded `cast` argument."""
    return [CastEntry((w & _VOTER_MASK).to_bytes(20, "big"), w >> _VOTER_BITS) for w in cast]


def cast_entries_of_data(data: bytes) -> list[CastEntry]:
    """The ballots of a raw ElectionBallotsCast log's data."""
    (cast,) = decode(_DATA_TYPES, data)
    return cast_entries(cast)


def cast_word(voter: bytes, choices: int) -> int:
    """The entry of `voter`'s ballot `choices` (for models and fault tests)."""
    return choices << _VOTER_BITS | int.from_bytes(voter, "big")
