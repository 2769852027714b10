"""Typed client of the poll office's paper boxes for the tests: declaring a box, relaying the
officers' signed totals, and what the poll office and Elections said of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledger.protocol.generated import PaperBoxSkipReason
from ledger.signing.box_totals import BoxTotals, SignedBoxTotals, sign_box_totals
from ledger.signing.in_person_ballots import PollOfficeDomain
from ledger.tx import ErrorDecoder, send


@dataclass(frozen=True)
class TotalsBatch:
    gas_used: int
    signed: tuple[str, ...]  # officers whose totals were recorded
    refused: tuple[tuple[str, PaperBoxSkipReason], ...]
    counted: int | None  # the ballots handed to Elections, if the totals counted
    entries: tuple[tuple[int, int], ...]  # (choices, count) as Elections counted them


class PaperBoxesContract:
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

    def declare(
        self, committee: LocalAccount, election_id: int, label: str, voters: Sequence[str]
    ) -> int:
        call = self.contract.functions.declareBox(
            election_id, Web3.keccak(text=label), list(voters)
        )
        receipt = send(self.w3, committee, call, decoder=self.decoder)
        (declared,) = self.contract.events.PaperBoxDeclared().process_receipt(
            receipt, errors=DISCARD
        )
        return int(declared["args"]["boxId"])

    def sign(
        self,
        officer: LocalAccount,
        box_id: int,
        entries: Sequence[tuple[int, int]],
        certificate: bytes = b"\xce" * 32,
    ) -> SignedBoxTotals:
        totals = BoxTotals(
            box_id,
            tuple(c for c, _ in entries),
            tuple(n for _, n in entries),
            certificate,
            to_checksum_address(officer.address),
        )
        return sign_box_totals(officer, totals, self.domain)

    def submit(
        self,
        relayer: LocalAccount,
        box_id: int,
        signed: Sequence[SignedBoxTotals | tuple[Any, ...]],
    ) -> TotalsBatch:
        args = [s.call_arg() if isinstance(s, SignedBoxTotals) else s for s in signed]
        call = self.contract.functions.signBoxTotals(box_id, args)
        receipt = send(self.w3, relayer, call, decoder=self.decoder)
        mine = self.contract.events
        signed_ = mine.BoxTotalsSigned().process_receipt(receipt, errors=DISCARD)
        refused = mine.BoxTotalsRefused().process_receipt(receipt, errors=DISCARD)
        counted = mine.BoxTotalsCounted().process_receipt(receipt, errors=DISCARD)
        cast = self.elections.events.PaperBallotsCast().process_receipt(receipt, errors=DISCARD)
        return TotalsBatch(
            int(receipt["gasUsed"]),
            tuple(e["args"]["officer"] for e in signed_),
            tuple((e["args"]["officer"], PaperBoxSkipReason(e["args"]["reason"])) for e in refused),
            int(counted[0]["args"]["ballots"]) if counted else None,
            tuple((int(e["args"]["choices"]), int(e["args"]["count"])) for e in cast),
        )

    def box(self, box_id: int) -> Any:
        return self.contract.functions.getBox(box_id).call()
