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
from typing import Any, NoReturn

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.errors import InvalidMessage, NodeError
from ledger.node import rpc
from ledger.relay import COUNTED, REJECTED, TX_GAS_CAP, BatchCall, Message, Outcome
from ledger.signing.eip712 import digest, domain_for, recover_typed_data, sign_typed_data
from ledger.signing.secp256k1 import HALF_N
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
# Gas of a forward batch besides its requests: the transaction and executeBatch's frame; and per
# request what the forwarder spends around the call (signature, nonce word, event) plus calldata.
FORWARD_BATCH_BASE_GAS = 60_000
FORWARD_REQUEST_OVERHEAD_GAS = 60_000


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


class ForwardRelay:
    """Relay kind for ERC-2771 requests: batched through `executeBatch`, which skips (rather
    than reverts on) a request that went stale between acknowledgement and inclusion."""

    name = "forward"
    max_batch = 50
    base_gas = FORWARD_BATCH_BASE_GAS

    def __init__(
        self,
        w3: Web3,
        forwarder: Contract,
        targets: Sequence[str],
        decoder: ErrorDecoder,
        refund_receiver: str,
        in_flight: Callable[[str], list[dict[str, Any]]] = lambda _: [],
        *,
        max_gas: int,
        max_ttl_s: int,
    ) -> None:
        self.w3 = w3
        # A signer's requests acknowledged and not yet settled, oldest first ...
        self.in_flight = in_flight
        # ... and everybody's: a request is simulated after all of them, as it will run.
        self.pending: Callable[[], list[dict[str, Any]]] = lambda: []
        self.max_gas = max_gas
        self.max_ttl_s = max_ttl_s
        self.domain = domain_for(
            FORWARDER_NAME, FORWARDER_VERSION, w3.eth.chain_id, forwarder.address
        )
        self.forwarder = forwarder
        self.targets = {to_checksum_address(t) for t in targets}
        self.decoder = decoder
        self.refund_receiver = refund_receiver
        # Whether the node runs eth_simulateV1 (None: not yet asked).
        self._sequenced: bool | None = None

    def parse(self, payload: dict[str, Any]) -> Message:
        request = ForwardRequest.from_payload(payload)
        if request.to not in self.targets:
            raise InvalidMessage("UnknownTarget", f"{request.to} is not a Commons Ledger contract")
        if request.value != 0:
            raise InvalidMessage("ValueNotAccepted", "forwarded requests carry no ether")
        if not 0 < request.gas <= self.max_gas:
            raise InvalidMessage(
                "GasOutOfRange", f"gas {request.gas}: a request may ask for 1 to {self.max_gas}"
            )
        # The forwarder (OpenZeppelin ECDSA) refuses the high-s twin of a signature: so do we,
        # rather than acknowledge a request that can only be skipped on-chain.
        if int.from_bytes(bytes(HexBytes(request.signature))[32:64], "big") > HALF_N:
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
        now = int(time.time())
        if request.deadline < now:
            raise InvalidMessage("ExpiredRequest", f"deadline {request.deadline} has passed")
        if request.deadline > now + self.max_ttl_s:
            raise InvalidMessage(
                "DeadlineTooFar",
                f"deadline {request.deadline} is more than {self.max_ttl_s} s away",
            )
        chain_nonce = self.forwarder.functions.nonces(request.sender).call()
        expected = self.next_nonce(request.sender, chain_nonce)
        if request.nonce != expected:
            raise InvalidMessage(
                "InvalidNonce", f"nonce {request.nonce} for {request.sender}; expected {expected}"
            )
        self._simulate(request, self._ahead(request.sender, chain_nonce))

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        request = ForwardRequest.from_payload(message.payload)
        return digest(self.domain, FORWARD_REQUEST_TYPES, "ForwardRequest", request.typed_message())

    def release(self, message: Message) -> None:
        """Nothing to forget: a request's nonce is read from the outbox and the chain."""

    def gas_bound(self, payload: dict[str, Any]) -> int:
        calldata = len(HexBytes(payload["data"])) + 32 * 10  # the struct's words around the data
        return int(payload["gas"]) * 64 // 63 + FORWARD_REQUEST_OVERHEAD_GAS + 16 * calldata

    def next_nonce(self, sender: str, chain_nonce: int | None = None) -> int:
        """The nonce `sender`'s next request must carry: after the chain's and after every one of
        theirs still in the outbox (a mined but not yet settled one counts once, not twice)."""
        if chain_nonce is None:
            chain_nonce = self.forwarder.functions.nonces(sender).call()
        pending = [int(p["nonce"]) for p in self.in_flight(sender)]
        return max([chain_nonce, *(n + 1 for n in pending)])

    def _ahead(self, sender: str, sender_nonce: int) -> list[ForwardRequest]:
        """The acknowledged requests the forwarder has not run yet, in the order they go."""
        nonces = {sender: sender_nonce}
        ahead = []
        for payload in self.pending():
            request = ForwardRequest.from_payload(payload)
            if request.sender not in nonces:
                nonces[request.sender] = self.forwarder.functions.nonces(request.sender).call()
            if request.nonce >= nonces[request.sender]:
                ahead.append(request)
        return ahead

    def _simulate(self, request: ForwardRequest, ahead: Sequence[ForwardRequest]) -> None:
        """Run the call as the forwarder will (sender appended), after every acknowledged request
        still ahead of it, and surface the rule it breaks. On a node without eth_simulateV1, a
        request with others ahead of it cannot be run faithfully and is left to the chain."""
        if self._sequenced is not False:
            try:
                self._simulate_in_sequence(request, ahead)
                self._sequenced = True
                return
            except NodeError as exc:
                if self._sequenced or not _unsupported(exc):
                    raise
                self._sequenced = False
        if ahead:
            return
        try:
            self.w3.eth.call(self._as_call(request))  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            self._refuse(revert_data(exc), None)

    def _as_call(self, request: ForwardRequest) -> dict[str, Any]:
        data = HexBytes(request.data) + HexBytes(request.sender)
        return {"from": self.forwarder.address, "to": request.to, "data": data, "gas": request.gas}

    def _simulate_in_sequence(
        self, request: ForwardRequest, ahead: Sequence[ForwardRequest]
    ) -> None:
        blocks: list[list[dict[str, Any]]] = [[]]
        used = 0
        for r in [*ahead, request]:
            # Blocks as the relay's batches are: a transaction's worth of gas each.
            if used + r.gas > TX_GAS_CAP and blocks[-1]:
                blocks.append([])
                used = 0
            used += r.gas
            call = self._as_call(r)
            blocks[-1].append(call | {"data": "0x" + bytes(call["data"]).hex(), "gas": hex(r.gas)})
        result = rpc(
            self.w3,
            "eth_simulateV1",
            [{"blockStateCalls": [{"calls": b} for b in blocks], "validation": False}, "latest"],
        )
        outcome = result[-1]["calls"][-1]
        if int(outcome["status"], 16) != 1:
            error = outcome.get("error") or {}
            self._refuse(bytes(HexBytes(outcome.get("returnData") or "0x")), error.get("message"))

    def _refuse(self, raw: bytes | None, message: str | None) -> NoReturn:
        decoded = self.decoder.decode(raw) if raw else None
        if decoded is None:
            # The node's own words (e.g. out of gas) where the call left no revert data.
            reason = self.decoder.describe_data(raw) if raw or not message else message
            raise InvalidMessage("CallReverted", reason)
        raise InvalidMessage(decoded[0], self.decoder.describe(*decoded))

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        # No gas given: a forward batch is always simulated (estimated) before it is sent, so
        # one that would revert is split for free instead of burning its gas.
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


def _unsupported(exc: NodeError) -> bool:
    """Whether a node's error says it does not offer the method at all."""
    text = str(exc).lower()
    return "-32601" in text or any(
        w in text for w in ("not supported", "not found", "unsupported", "does not exist")
    )
