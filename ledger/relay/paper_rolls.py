"""Who is assigned to each election's paper boxes, read from the poll office's PaperBoxDeclared:
the election ballots' kind (online and in person) refuses their ballots with AssignedToPaperBox,
as Elections would skip them."""

from __future__ import annotations

from eth_abi.abi import decode as abi_decode
from web3 import Web3

from ledger.node import rpc
from ledger.protocol.generated import Events

DECLARED = Events.PaperBoxDeclared.topic


class PaperRolls:
    """Residents assigned to the paper boxes of each election, from PaperBoxDeclared. Boxes are
    declared only before voting opens, so the set of an open election never changes: cached."""

    def __init__(self, w3: Web3, poll_office: str) -> None:
        self.w3 = w3
        self.poll_office = poll_office
        self._assigned: dict[int, frozenset[str]] = {}

    def assigned(self, election_id: int) -> frozenset[str]:
        """Lowercase hex addresses of the residents in the election's boxes (once it is open)."""
        cached = self._assigned.get(election_id)
        if cached is None:
            topics = ["0x" + DECLARED.hex(), None, "0x" + election_id.to_bytes(32).hex()]
            query = {"address": self.poll_office, "fromBlock": "0x0", "toBlock": "latest"}
            logs = rpc(self.w3, "eth_getLogs", [{**query, "topics": topics}])
            voters = {
                a.lower()
                for log in logs
                for a in abi_decode(["bytes32", "address[]"], bytes.fromhex(log["data"][2:]))[1]
            }
            cached = self._assigned[election_id] = frozenset(voters)
        return cached
