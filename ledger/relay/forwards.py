"""The relay's kind for ERC-2771 forward requests (the message itself: ledger/signing/forwards.py).

The relay checks a request and simulates its call after every acknowledged request ahead of it
before acknowledging it, so a broken rule is refused up front with the contract's own error
name; requests are batched through the forwarder's `executeBatch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.config import Settings
from ledger.errors import InvalidMessage, NodeError
from ledger.node import rpc
from ledger.relay.clock import ChainClock
from ledger.relay.message import COUNTED, REJECTED, BatchCall, Message, Outcome
from ledger.signing.eip712 import recover_typed_data
from ledger.signing.forwards import FORWARD_REQUEST_TYPES, ForwardRequest, forwarder_domain
from ledger.signing.secp256k1 import HALF_N
from ledger.tx import TX_GAS_CAP, ErrorDecoder, revert_data


class ForwardRelay:
    """Relay kind for ERC-2771 requests: batched through `executeBatch`, which skips (rather
    than reverts on) a request that went stale between acknowledgement and inclusion."""

    name = "forward"

    def __init__(
        self,
        w3: Web3,
        forwarder: Contract,
        targets: Sequence[str],
        decoder: ErrorDecoder,
        refund_receiver: str,
        settings: Settings,
        in_flight: Callable[[str], list[dict[str, Any]]] = lambda _: [],
    ) -> None:
        self.max_batch = settings.relay_forward_batch
        self.base_gas = settings.forward_batch_base_gas
        self.request_overhead_gas = settings.forward_request_overhead_gas
        self.w3 = w3
        # A signer's requests acknowledged and not yet settled, oldest first ...
        self.in_flight = in_flight
        # ... and everybody's: a request is simulated after all of them, as it will run.
        self.pending: Callable[[], list[dict[str, Any]]] = lambda: []
        self.max_gas = settings.forward_max_gas
        self.max_ttl_s = settings.forward_max_ttl_s
        self.clock = ChainClock(w3, settings)
        self.domain = forwarder_domain(w3.eth.chain_id, forwarder.address)
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
        # Judged by the chain's clock, as the forwarder judges it (block.timestamp), which a test
        # chain or a drifting network may run ahead of the wall clock; the clock answers from
        # memory, so a refusal is confirmed by reading the chain's latest block first.
        if self._deadline_fault(request.deadline, self.clock.now()) is not None:
            fault = self._deadline_fault(request.deadline, self.clock.confirmed())
            if fault is not None:
                raise fault
        chain_nonce = self.forwarder.functions.nonces(request.sender).call()
        expected = self.next_nonce(request.sender, chain_nonce)
        if request.nonce != expected:
            raise InvalidMessage(
                "InvalidNonce", f"nonce {request.nonce} for {request.sender}; expected {expected}"
            )
        self._simulate(request, self._ahead(request.sender, chain_nonce))

    def _deadline_fault(self, deadline: int, now: float) -> InvalidMessage | None:
        if deadline < int(now):
            return InvalidMessage("ExpiredRequest", f"deadline {deadline} has passed")
        if deadline > int(now) + self.max_ttl_s:
            return InvalidMessage(
                "DeadlineTooFar", f"deadline {deadline} is more than {self.max_ttl_s} s away"
            )
        return None

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        request = ForwardRequest.from_payload(message.payload)
        return request.digest(self.domain)

    def release(self, message: Message) -> None:
        """Nothing to forget: a request's nonce is read from the outbox and the chain."""

    def gas_bound(self, payload: dict[str, Any]) -> int:
        calldata = len(HexBytes(payload["data"])) + 32 * 10  # the struct's words around the data
        return int(payload["gas"]) * 64 // 63 + self.request_overhead_gas + 16 * calldata

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
        raise InvalidMessage(decoded.name, self.decoder.describe(*decoded))

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
