"""Typed client of the Ratings contract for tests: signed ratings relayed in batches, decoded
into what was counted and skipped, and the public summary."""

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

from ledger.protocol.generated import RatingSkipReason, RatingSummary
from ledger.signing.ratings import RatingDomain, SignedRating, sign_rating
from ledger.tx import ErrorDecoder, send

NO_COMMENT = bytes(32)


@dataclass(frozen=True)
class RateBatch:
    rated: tuple[tuple[str, int], ...]
    skipped: tuple[tuple[str, RatingSkipReason], ...]
    opened: bool
    receipt: TxReceipt


class RatingsContract:
    def __init__(self, w3: Web3, contract: Contract, decoder: ErrorDecoder | None = None) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(
            address=contract.address, abi=contract.abi, decode_tuples=True
        )
        self.decoder = decoder or ErrorDecoder([contract.abi])

    @property
    def domain(self) -> RatingDomain:
        return RatingDomain(int(self.w3.eth.chain_id), to_checksum_address(self.contract.address))

    def sign(
        self, rater: LocalAccount, proposal_id: int, score: int, comment: bytes = NO_COMMENT
    ) -> SignedRating:
        return sign_rating(rater, proposal_id, score, comment, self.domain)

    def rate(
        self,
        relayer: LocalAccount,
        proposal_id: int,
        ratings: Sequence[SignedRating | tuple[Any, ...]],
    ) -> RateBatch:
        args = [r.call_arg() if isinstance(r, SignedRating) else r for r in ratings]
        call = self.contract.functions.rate(proposal_id, args)
        receipt = send(self.w3, relayer, call, decoder=self.decoder)
        events = self.contract.events
        return RateBatch(
            tuple(
                (to_checksum_address(e["args"]["rater"]), int(e["args"]["score"]))
                for e in events.Rated().process_receipt(receipt, errors=DISCARD)
            ),
            tuple(
                (to_checksum_address(e["args"]["rater"]), RatingSkipReason(e["args"]["reason"]))
                for e in events.RatingSkipped().process_receipt(receipt, errors=DISCARD)
            ),
            bool(events.RatingsOpened().process_receipt(receipt, errors=DISCARD)),
            receipt,
        )

    def summary(self, proposal_id: int) -> RatingSummary:
        view = self.contract.functions.ratingsOf(proposal_id).call()
        return RatingSummary(**view._asdict())

    def has_rated(self, proposal_id: int, rater: str) -> bool:
        return bool(self.contract.functions.hasRated(proposal_id, rater).call())
