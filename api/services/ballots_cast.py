"""An election's counted ballots as the index holds them: the entries of its ElectionBallotsCast
events (one event a batch), a row per ballot, in the order counted."""

from __future__ import annotations

from typing import NamedTuple

from api.services.container import Services
from ledger.hashing import checksum_address
from ledger.protocol.ballots_cast import cast_entries


class CountedBallot(NamedTuple):
    block_number: int
    tx_hash: str
    voter: str  # checksummed, as the index gives addresses
    choices: int


def counted(services: Services, election_id: int) -> list[CountedBallot]:
    batches = services.index.events(
        contract="elections",
        event="ElectionBallotsCast",
        where={"electionId": election_id},
        limit=None,
    )
    return [
        CountedBallot(e.block_number, e.tx_hash, checksum_address(entry.voter), entry.choices)
        for e in batches
        for entry in cast_entries(int(word) for word in e.args["cast"])
    ]
