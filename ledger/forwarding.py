"""ERC-2771 forwarding: how a resident or committee member acts without paying gas.

They sign a `ForwardRequest` (EIP-712, OpenZeppelin's ERC2771Forwarder) for one call to one of
our contracts; any relayer submits it; the contract sees the signer as `_msgSender()`. The relay
checks the request and simulates the call before acknowledging it, so a broken rule is refused
up front with the contract's own error name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.errors import InvalidMessage
from ledger.relay import COUNTED, REJECTED, BatchCall, Message, Outcome
from ledger.signing.eip712 import (
    SECP256K1_N,
    domain_for,
    recover_typed_data,
    sign_typed_data,
)
from ledger.tx import ErrorDecoder, revert_data

FORWARDER_NAME = "CommonsForwarder"
FORWARDER_VERSION = "1"
FORWARD_REQUEST_TYPES = {
    "ForwardRequest": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "gas", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint48"},
        {"name": "data", "type": "bytes"},
    ]
}
DEFAULT_GAS = 1_000_000
DEFAULT_TTL_S = 3600


@dataclass(frozen=True)
class ForwardRequest:
    """A signed request, as the relay stores it (JSON-safe) and the forwarder takes it."""

    sender: str
    to: str
    value: int
    gas: int
    nonce: int
    deadline: int
    data: str  # 0x-hex calldata
    signature: str  # 0x-hex, 65 bytes

    def to_payload(self) -> dict[str, Any]:
        return {
            "from": self.sender,
            "to": self.to,
            "value": self.value,
            "gas": self.gas,
            "nonce": self.nonce,
            "deadline": self.deadline,
            "data": self.data,
            "signature": self.signature,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> ForwardRequest:
        try:
            return cls(
                sender=to_checksum_address(p["from"]),
                to=to_checksum_address(p["to"]),
                value=int(p.get("value", 0)),
                gas=int(p["gas"]),
                nonce=int(p["nonce"]),
                deadline=int(p["deadline"]),
                data="0x" + bytes(HexBytes(p["data"])).hex(),
                signature="0x" + bytes(HexBytes(p["signature"])).hex(),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedRequest", f"bad forward request: {exc}") from exc

    def typed_message(self) -> dict[str, Any]:
        """The EIP-712 message the sender signed."""
        return {
            "from": self.sender,
            "to": self.to,
            "value": self.value,
            "gas": self.gas,
            "nonce": self.nonce,
            "deadline": self.deadline,
            "data": HexBytes(self.data),
        }

    def as_struct(self) -> tuple[Any, ...]:
        """ForwardRequestData(from, to, value, gas, deadline, data, signature)."""
        return (
            self.sender,
            self.to,
            self.value,
            self.gas,
            self.deadline,
            HexBytes(self.data),
            HexBytes(self.signature),
        )


def sign_forward_request(
    w3: Web3,
    forwarder: Contract,
    signer: LocalAccount,
    call: ContractFunction,
    *,
    gas: int = DEFAULT_GAS,
    ttl_s: int = DEFAULT_TTL_S,
    nonce: int | None = None,
    deadline: int | None = None,
) -> ForwardRequest:
    """Sign `call` (e.g. council.functions.finalize(7)) for relaying through the forwarder.

    The deadline is `deadline` if given (e.g. from a chain whose clock was moved), else now +
    `ttl_s` by the wall clock."""
    data = call._encode_transaction_data()
    nonce = forwarder.functions.nonces(signer.address).call() if nonce is None else nonce
    deadline = int(time.time()) + ttl_s if deadline is None else deadline
    message = {
        "from": signer.address,
        "to": call.address,
        "value": 0,
        "gas": gas,
        "nonce": nonce,
        "deadline": deadline,
        "data": HexBytes(data),
    }
    domain = domain_for(FORWARDER_NAME, FORWARDER_VERSION, w3.eth.chain_id, forwarder.address)
    signature = sign_typed_data(signer, domain, FORWARD_REQUEST_TYPES, "ForwardRequest", message)
    return ForwardRequest(
        sender=signer.address,
        to=to_checksum_address(call.address),
        value=0,
        gas=gas,
        nonce=nonce,
        deadline=deadline,
        data="0x" + bytes(HexBytes(data)).hex(),
        signature="0x" + signature.hex(),
    )


class ForwardKind:
    """Relay kind for ERC-2771 requests: batched through `executeBatch`, which skips (rather
    than reverts on) a request that went stale between acknowledgement and inclusion."""

    name = "forward"
    max_batch = 50

    def __init__(
        self,
        w3: Web3,
        forwarder: Contract,
        targets: Sequence[str],
        decoder: ErrorDecoder,
        refund_receiver: str,
        in_flight: Callable[[str], list[dict[str, Any]]] = lambda _: [],
    ) -> None:
        self.w3 = w3
        self.in_flight = in_flight
        self.domain = domain_for(
            FORWARDER_NAME, FORWARDER_VERSION, w3.eth.chain_id, forwarder.address
        )
        self.forwarder = forwarder
        self.targets = {to_checksum_address(t) for t in targets}
        self.decoder = decoder
        self.refund_receiver = refund_receiver

    def parse(self, payload: dict[str, Any]) -> Message:
        request = ForwardRequest.from_payload(payload)
        if request.to not in self.targets:
            raise InvalidMessage("UnknownTarget", f"{request.to} is not a Commons Ledger contract")
        if request.value != 0:
            raise InvalidMessage("ValueNotAccepted", "forwarded requests carry no ether")
        # The forwarder (OpenZeppelin ECDSA) refuses the high-s twin of a signature: so do we,
        # rather than acknowledge a request that can only be skipped on-chain.
        if int.from_bytes(bytes(HexBytes(request.signature))[32:64], "big") > SECP256K1_N // 2:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        # Recovered here rather than by the forwarder's verify(), which knows only the current
        # nonce: a signer may queue several requests, each with the next nonce.
        try:
            signer = recover_typed_data(
                bytes(HexBytes(request.signature)),
                self.domain,
                FORWARD_REQUEST_TYPES,
                "ForwardRequest",
                request.typed_message(),
            )
        except Exception as exc:
            raise InvalidMessage("InvalidSignature", f"unreadable signature: {exc}") from exc
        if signer != request.sender:
            raise InvalidMessage("InvalidSignature", f"signed by {signer}, not {request.sender}")
        return Message(self.name, "forward", request.to_payload(), request.sender)

    def check(self, message: Message) -> None:
        request = ForwardRequest.from_payload(message.payload)
        if request.deadline < int(time.time()):
            raise InvalidMessage("ExpiredRequest", f"deadline {request.deadline} has passed")
        chain_nonce = self.forwarder.functions.nonces(request.sender).call()
        expected = self.next_nonce(request.sender, chain_nonce)
        if request.nonce != expected:
            raise InvalidMessage(
                "InvalidNonce", f"nonce {request.nonce} for {request.sender}; expected {expected}"
            )
        if expected == chain_nonce:
            # With nothing of this signer's ahead of it, the call can be simulated faithfully.
            self._simulate(request)

    def check_is_local(self, message: Message) -> bool:
        return False

    def next_nonce(self, sender: str, chain_nonce: int | None = None) -> int:
        """The nonce `sender`'s next request must carry: after the chain's and after every one of
        theirs still in the outbox (a mined but not yet settled one counts once, not twice)."""
        if chain_nonce is None:
            chain_nonce = self.forwarder.functions.nonces(sender).call()
        pending = [int(p["nonce"]) for p in self.in_flight(sender)]
        return max([chain_nonce, *(n + 1 for n in pending)])

    def _simulate(self, request: ForwardRequest) -> None:
        """Run the call as the forwarder would (sender appended) and surface the rule it breaks."""
        data = HexBytes(request.data) + HexBytes(request.sender)
        try:
            self.w3.eth.call(
                {"from": self.forwarder.address, "to": request.to, "data": data, "gas": request.gas}
            )
        except (ContractCustomError, ContractLogicError) as exc:
            raw = revert_data(exc)
            decoded = self.decoder.decode(raw) if raw else None
            if decoded is None:
                raise InvalidMessage("CallReverted", str(exc)) from exc
            args = ", ".join(str(a) for a in decoded[1])
            raise InvalidMessage(decoded[0], f"{decoded[0]}({args})") from exc

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        structs = [ForwardRequest.from_payload(p).as_struct() for p in payloads]
        return BatchCall.of(self.forwarder.functions.executeBatch(structs, self.refund_receiver))

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        executed: dict[tuple[str, int], bool] = {}
        for event in self.forwarder.events.ExecutedForwardRequest().process_receipt(
            receipt, errors=DISCARD
        ):
            executed[(event["args"]["signer"], event["args"]["nonce"])] = event["args"]["success"]
        results = []
        for p in payloads:
            success = executed.get((to_checksum_address(p["from"]), int(p["nonce"])))
            if success is True:
                results.append(Outcome(COUNTED))
            elif success is False:
                results.append(Outcome(REJECTED, "the forwarded call reverted on-chain"))
            else:
                results.append(Outcome(REJECTED, "request no longer valid (nonce used or expired)"))
        return results
