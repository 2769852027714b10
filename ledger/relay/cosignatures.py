"""The relay's kind for residents' co-signatures of initiatives: checked before acknowledgement
by the rules of IInitiatives, batched per initiative into `coSign`.

An initiative's snapshot (community, roll version, window) never changes; whether it is still
collecting does (the batch that reaches its threshold promotes it), so that is read from the
chain at every check. Co-signatures are rare next to ballots: every check may ask the chain, in
a thread. The contract is the final judge: a co-signature that slips through (the batch ahead
of it promoted the initiative) is skipped there with its reason, which its receipt carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import address_bytes, checksum_address
from ledger.protocol.generated import (
    CoSignatureSkipReason,
    Events,
    Functions,
    InitiativeState,
    InitiativeView,
)
from ledger.relay.ballot_events import outcomes_by_voter
from ledger.relay.clock import ChainClock
from ledger.relay.message import BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.once_each import OnceEach
from ledger.relay.rolls import RollCache
from ledger.relay.signatures import require_signed_by
from ledger.signing.cosignatures import CoSignatureDomain
from ledger.signing.digests import cosignature_digest
from ledger.signing.eip712 import to_compact

COSIGNED, SKIPPED = Events.CoSigned.topic, Events.CoSignatureSkipped.topic


def initiative_view(initiatives: Contract, initiative_id: int) -> InitiativeView:
    """The initiative as the chain has it now, by field name; `UnknownInitiative` if none."""
    try:
        raw = initiatives.functions.getInitiative(initiative_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise InvalidMessage("UnknownInitiative", f"no initiative {initiative_id}") from exc
    return InitiativeView(**raw._asdict())


class CoSignatureRelay:
    """Signed co-signatures, batched per initiative. A batch's bound adds the council proposal
    its last co-signature may open (see Settings.relay_promotion_gas)."""

    name = "cosignature"

    def __init__(
        self,
        w3: Web3,
        initiatives: Contract,
        registry: Contract,
        settings: Settings,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas + settings.relay_promotion_gas
        self.gas = settings.relay_cosignature_gas
        self.w3 = w3
        self.initiatives = initiatives
        self.domain = CoSignatureDomain(w3.eth.chain_id, checksum_address(initiatives.address))
        self._separator = self.domain.separator
        self.clock = ChainClock(w3, settings)
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)
        self.signed = OnceEach(w3, initiatives.address, COSIGNED)

    def digest(self, initiative_id: int, signer: str) -> bytes:
        return cosignature_digest(self._separator, initiative_id, address_bytes(signer))

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            initiative_id = int(payload["initiativeId"])
            signer = checksum_address(str(payload["signer"]))
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedCoSignature", f"bad co-signature: {exc}") from exc
        if not 0 < initiative_id < 2**256:
            raise InvalidMessage("MalformedCoSignature", "initiative id out of range")
        require_signed_by(self.digest(initiative_id, signer), signature, signer)
        normalized = {
            "initiativeId": initiative_id,
            "signer": signer,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(initiative_id), normalized, signer)

    def check(self, message: Message) -> None:
        initiative_id, signer = message.payload["initiativeId"], message.payload["signer"]
        view = initiative_view(self.initiatives, initiative_id)
        collecting = view.state == InitiativeState.Collecting
        if collecting and self.clock.now() >= view.closesAt:
            collecting = self.clock.confirmed() < view.closesAt
        if not collecting:
            raise InvalidMessage(
                "InitiativeNotCollecting",
                f"initiative {initiative_id} became proposal {view.proposalId}"
                if view.state == InitiativeState.Promoted
                else f"initiative {initiative_id} took co-signatures until {view.closesAt}",
            )
        if not self.rolls.was_resident(view.communityId, view.rollVersion, signer):
            raise InvalidMessage(
                "NotOnRoll",
                f"{signer} was not on the roll (version {view.rollVersion}) when initiative "
                f"{initiative_id} was submitted",
            )
        self.signed.claim(
            initiative_id,
            signer,
            message.receipt_id,
            lambda: InvalidMessage(
                "AlreadyCoSigned", f"{signer} already co-signed initiative {initiative_id}"
            ),
        )

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        return self.digest(message.payload["initiativeId"], message.payload["signer"])

    def release(self, message: Message) -> None:
        p = message.payload
        self.signed.release(p["initiativeId"], p["signer"], message.receipt_id)

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return self.gas

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        items = [(p["signer"], *to_compact(fixed_bytes(p["signature"]))) for p in payloads]
        args = abi_encode(["uint256", "(address,bytes32,bytes32)[]"], [int(group), items])
        return BatchCall(
            self.initiatives.address,
            Functions.coSign.selector + args,
            self.base_gas + self.gas * len(items),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        return outcomes_by_voter(
            receipt,
            self.initiatives.address,
            COSIGNED,
            SKIPPED,
            lambda data: "0x" + data[:32].hex(),
            lambda code: CoSignatureSkipReason(code).name,
            [{"voter": p["signer"]} for p in payloads],
        )
