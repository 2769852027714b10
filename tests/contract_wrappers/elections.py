"""Typed client of Elections for the tests and the bench: opening, signed ballots relayed in
batches, the stepwise count, and the events that record it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.protocol.ballots_cast import cast_entries
from ledger.protocol.generated import ElectionKind, ElectionSkipReason, ElectionState
from ledger.signing.election_ballots import (
    ElectionBallot,
    ElectionDomain,
    SignedElectionBallot,
    sign_election_ballot,
)
from ledger.tx import ErrorDecoder, send


@dataclass(frozen=True)
class ElectionParams:
    community_id: int
    candidates: tuple[bytes, ...]
    opens_at: int
    closes_at: int
    seats: int = 1
    kind: ElectionKind = ElectionKind.Ranked
    max_choices: int = 0  # 0: as many as candidates

    def as_tuple(self) -> tuple[Any, ...]:
        max_choices = self.max_choices or len(self.candidates)
        return (
            self.community_id,
            list(self.candidates),
            self.seats,
            int(self.kind),
            max_choices,
            self.opens_at,
            self.closes_at,
        )


def counted_entries(events: Sequence[Any]) -> tuple[tuple[str, int], ...]:
    """(voter, choices) of each ballot of a receipt's ElectionBallotsCast events, in order."""
    return tuple(
        (to_checksum_address(entry.voter), entry.choices)
        for e in events
        for entry in cast_entries(e["args"]["cast"])
    )


def candidates(count: int) -> tuple[bytes, ...]:
    return tuple(Web3.keccak(text=f"candidate statement {i}") for i in range(count))


@dataclass(frozen=True)
class Batch:
    gas_used: int
    cast: tuple[tuple[str, int], ...]  # (voter, choices)
    skipped: tuple[tuple[str, ElectionSkipReason], ...]
    receipt: TxReceipt


@dataclass(frozen=True)
class CountRecord:
    """Every step's receipt and the count's events, in order."""

    receipts: tuple[TxReceipt, ...]
    rounds: tuple[dict[str, Any], ...]
    transfers: tuple[dict[str, Any], ...]
    elected: tuple[dict[str, Any], ...]
    winners: tuple[int, ...]


class ElectionsContract:
    def __init__(self, w3: Web3, contract: Contract) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(
            address=contract.address, abi=contract.abi, decode_tuples=True
        )
        self.decoder = ErrorDecoder([contract.abi])

    @property
    def domain(self) -> ElectionDomain:
        return ElectionDomain(int(self.w3.eth.chain_id), to_checksum_address(self.contract.address))

    def _send(self, sender: LocalAccount, call: Any, gas: int | None = None) -> TxReceipt:
        return send(self.w3, sender, call, decoder=self.decoder, gas=gas)

    def open_election(self, sender: LocalAccount, params: ElectionParams) -> int:
        receipt = self._send(sender, self.contract.functions.openElection(params.as_tuple()))
        (opened,) = self.contract.events.ElectionOpened().process_receipt(receipt, errors=DISCARD)
        return int(opened["args"]["electionId"])

    def sign(self, voter: LocalAccount, election_id: int, choices: int) -> SignedElectionBallot:
        ballot = ElectionBallot(election_id, to_checksum_address(voter.address), choices)
        return sign_election_ballot(voter, ballot, self.domain)

    def cast_ballots(
        self,
        relayer: LocalAccount,
        election_id: int,
        ballots: Sequence[SignedElectionBallot | tuple[Any, ...]],
    ) -> Batch:
        args = [b.call_arg() if isinstance(b, SignedElectionBallot) else b for b in ballots]
        receipt = self._send(
            relayer, self.contract.functions.castElectionBallots(election_id, args)
        )
        events = self.contract.events
        cast = events.ElectionBallotsCast().process_receipt(receipt, errors=DISCARD)
        skipped = events.ElectionBallotSkipped().process_receipt(receipt, errors=DISCARD)
        return Batch(
            int(receipt["gasUsed"]),
            counted_entries(cast),
            tuple((e["args"]["voter"], ElectionSkipReason(e["args"]["reason"])) for e in skipped),
            receipt,
        )

    def count(
        self, sender: LocalAccount, election_id: int, step: int = 20_000, gas: int | None = None
    ) -> CountRecord:
        """Calls countStep until the count is done (each with gas limit `gas`, if given)."""
        receipts = []
        done = False
        while not done:
            call = self.contract.functions.countStep(election_id, step)
            receipts.append(self._send(sender, call, gas=gas))
            done = self.election(election_id).state == ElectionState.Counted
        events = self.contract.events

        def args(event: Any) -> tuple[dict[str, Any], ...]:
            return tuple(
                dict(e["args"])
                for r in receipts
                for e in event().process_receipt(r, errors=DISCARD)
            )

        (counted,) = args(events.ElectionCounted)
        return CountRecord(
            tuple(receipts),
            args(events.RoundCounted),
            args(events.VotesTransferred),
            args(events.CandidateElected),
            tuple(counted["winners"]),
        )

    def election(self, election_id: int) -> Any:
        return self.contract.functions.getElection(election_id).call()
