"""Typed client of PollOffice for the tests and the bench: officers' signed in-person ballots
relayed in batches, and what the poll office and Elections said of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledger.protocol.generated import ElectionSkipReason, PollSkipReason
from ledger.signing.in_person_ballots import (
    InPersonBallot,
    PollOfficeDomain,
    SignedInPersonBallot,
    sign_in_person_ballot,
)
from ledger.tx import ErrorDecoder, send
from tests.contract_wrappers.elections import counted_entries


@dataclass(frozen=True)
class InPersonBatch:
    gas_used: int
    vouched: tuple[tuple[str, str], ...]  # (voter, officer)
    refused: tuple[tuple[str, PollSkipReason], ...]
    cast: tuple[tuple[str, int], ...]  # (voter, choices), as Elections counted them
    skipped: tuple[tuple[str, ElectionSkipReason], ...]


class PollOfficeContract:
    def __init__(self, w3: Web3, contract: Contract, elections: Contract) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(
            address=contract.address, abi=contract.abi, decode_tuples=True
        )
        self.elections = elections
        self.decoder = ErrorDecoder([contract.abi, elections.abi])

    @property
    def domain(self) -> PollOfficeDomain:
        return PollOfficeDomain(
            int(self.w3.eth.chain_id), to_checksum_address(self.contract.address)
        )

    def sign(
        self, officer: LocalAccount, election_id: int, voter: str, choices: int
    ) -> SignedInPersonBallot:
        ballot = InPersonBallot(
            election_id,
            to_checksum_address(voter),
            choices,
            to_checksum_address(officer.address),
        )
        return sign_in_person_ballot(officer, ballot, self.domain)

    def cast(
        self,
        relayer: LocalAccount,
        election_id: int,
        ballots: Sequence[SignedInPersonBallot | tuple[Any, ...]],
    ) -> InPersonBatch:
        args = [b.call_arg() if isinstance(b, SignedInPersonBallot) else b for b in ballots]
        call = self.contract.functions.castInPersonBallots(election_id, args)
        receipt = send(self.w3, relayer, call, decoder=self.decoder)
        mine, theirs = self.contract.events, self.elections.events
        vouched = mine.InPersonBallotVouched().process_receipt(receipt, errors=DISCARD)
        refused = mine.InPersonBallotRefused().process_receipt(receipt, errors=DISCARD)
        cast = theirs.ElectionBallotsCast().process_receipt(receipt, errors=DISCARD)
        skipped = theirs.ElectionBallotSkipped().process_receipt(receipt, errors=DISCARD)
        return InPersonBatch(
            int(receipt["gasUsed"]),
            tuple((e["args"]["voter"], e["args"]["officer"]) for e in vouched),
            tuple((e["args"]["voter"], PollSkipReason(e["args"]["reason"])) for e in refused),
            counted_entries(cast),
            tuple((e["args"]["voter"], ElectionSkipReason(e["args"]["reason"])) for e in skipped),
        )
