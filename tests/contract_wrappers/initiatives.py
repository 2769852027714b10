"""Typed client of the Initiatives contract for tests and benches: rules, submissions, relayed
co-signature batches decoded into what was counted, skipped and promoted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.protocol.generated import CoSignatureSkipReason, InitiativeRules, InitiativeView
from ledger.signing.cosignatures import CoSignatureDomain, SignedCoSignature, sign_cosignature
from ledger.tx import ErrorDecoder, raise_decoded, send

RULES = InitiativeRules(
    thresholdBps=5000, signingPeriod=3600, votingPeriod=3600, quorumBps=0, passBps=5000
)


@dataclass(frozen=True)
class CoSignBatch:
    """What one `coSign` transaction did."""

    cosigned: tuple[str, ...]
    skipped: tuple[tuple[str, CoSignatureSkipReason], ...]
    promoted_to: int | None
    gas_used: int
    receipt: TxReceipt


class InitiativesContract:
    def __init__(self, w3: Web3, contract: Contract, decoder: ErrorDecoder | None = None) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(
            address=contract.address, abi=contract.abi, decode_tuples=True
        )
        self.decoder = decoder or ErrorDecoder([contract.abi])

    @property
    def domain(self) -> CoSignatureDomain:
        return CoSignatureDomain(
            int(self.w3.eth.chain_id), to_checksum_address(self.contract.address)
        )

    def _send(self, sender: LocalAccount, call: Any) -> TxReceipt:
        return send(self.w3, sender, call, decoder=self.decoder)

    def set_rules(
        self, admin: LocalAccount, community_id: int, rules: InitiativeRules = RULES
    ) -> TxReceipt:
        return self._send(admin, self.contract.functions.setRules(community_id, tuple(rules)))

    def submit(
        self,
        author: LocalAccount,
        community_id: int,
        text_hash: bytes = b"\x55" * 32,
        budget: int = 0,
        currency: bytes = b"\x00\x00\x00",
    ) -> int:
        call = self.contract.functions.submit(community_id, text_hash, budget, currency)
        receipt = self._send(author, call)
        (event,) = self.contract.events.InitiativeSubmitted().process_receipt(
            receipt, errors=DISCARD
        )
        return int(event["args"]["initiativeId"])

    def sign(self, resident: LocalAccount, initiative_id: int) -> SignedCoSignature:
        return sign_cosignature(resident, initiative_id, self.domain)

    def co_sign(
        self,
        relayer: LocalAccount,
        initiative_id: int,
        signed: Sequence[SignedCoSignature | tuple[str, bytes, bytes]],
    ) -> CoSignBatch:
        args = [s.call_arg() if isinstance(s, SignedCoSignature) else s for s in signed]
        receipt = self._send(relayer, self.contract.functions.coSign(initiative_id, args))
        return self.decode(receipt)

    def decode(self, receipt: TxReceipt) -> CoSignBatch:
        events = self.contract.events
        cosigned = tuple(
            to_checksum_address(e["args"]["signer"])
            for e in events.CoSigned().process_receipt(receipt, errors=DISCARD)
        )
        skipped = tuple(
            (to_checksum_address(e["args"]["signer"]), CoSignatureSkipReason(e["args"]["reason"]))
            for e in events.CoSignatureSkipped().process_receipt(receipt, errors=DISCARD)
        )
        promoted = events.InitiativePromoted().process_receipt(receipt, errors=DISCARD)
        return CoSignBatch(
            cosigned,
            skipped,
            int(promoted[0]["args"]["proposalId"]) if promoted else None,
            int(receipt["gasUsed"]),
            receipt,
        )

    def get(self, initiative_id: int) -> InitiativeView:
        view = self.contract.functions.getInitiative(initiative_id).call()
        return InitiativeView(**view._asdict())

    def has_cosigned(self, initiative_id: int, signer: str) -> bool:
        """A custom-error revert raises `ContractRuleBroken`, as a send would."""
        try:
            return bool(self.contract.functions.hasCoSigned(initiative_id, signer).call())
        except (ContractCustomError, ContractLogicError) as exc:
            raise_decoded(exc, self.decoder)
            raise  # raise_decoded always raises
