"""Walking the chain: every block from the deployment to the audited head, checked and turned
into the calls made to our contracts, each with its acting party and the logs it emitted.

Per block: the header's fields must hash to the block hash and its parentHash must be the previous
block's hash; every transaction's fields must hash to its hash, its signature must recover to the
sender the node names, and the transactions and (where fetched) receipts must hash to the roots in
the header. A transaction to one of our contracts is one call by its recovered sender; one to the
forwarder is decoded into its forwarded requests, each re-verified (EIP-712 signature, nonce,
deadline) and matched to the forwarder's `ExecutedForwardRequest` event, its logs attributed to
it; a transaction to anything else that still made our contracts emit is traced
(`debug_traceTransaction`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from eth_abi.abi import decode as abi_decode

from ledger.audit.ethcodec import hex_bytes, recover_address, to_hex
from ledger.audit.fetch import Log, TxData, VerifiedChunk
from ledger.audit.model import AuditWarning, Finding
from ledger.protocol.generated import Domains, Events, ForwardRequestData, Functions
from ledger.signing.digests import domain_separator, forward_request_hash, typed_digest
from ledger.signing.secp256k1 import HALF_N
from ledger.transport import RpcClient

# ERC2771Forwarder.ForwardRequestData, as execute and executeBatch take it
REQUEST_TUPLE: Final = "(address,address,uint256,uint256,uint48,bytes,bytes)"


def forward_requests(data: bytes) -> list[ForwardRequestData] | None:
    """The requests an execute or executeBatch call carries (None: another function); raises
    if the calldata is malformed."""
    if data[:4] == Functions.executeBatch.selector:
        decoded = abi_decode([f"{REQUEST_TUPLE}[]", "address"], data[4:])[0]
    elif data[:4] == Functions.execute.selector:
        decoded = [abi_decode([REQUEST_TUPLE], data[4:])[0]]
    else:
        return None
    return [ForwardRequestData(*r) for r in decoded]


@dataclass(slots=True)
class Call:
    """One successful call into one of our domain contracts, by `actor` (the transaction's
    recovered sender, or the signer of a forwarded request). `input` is None when the call could
    not be traced: then only its logs are known."""

    block: int
    timestamp: int
    tx: str
    position: int
    actor: bytes | None
    target: bytes
    input: bytes | None
    logs: list[Log]
    via: str  # "tx", "forwarder" or "trace"


@dataclass
class ChunkResult:
    calls: list[Call] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[AuditWarning] = field(default_factory=list)
    blocks: int = 0
    transactions: int = 0
    our_transactions: int = 0
    forwarded: int = 0
    last_hash: bytes = b""
    last_timestamp: int = 0
    nonces: dict[bytes, int] = field(default_factory=dict)  # forwarder nonces after this chunk


def forward_request_signer(
    domain: bytes,
    sender: bytes,
    to: bytes,
    value: int,
    gas: int,
    nonce: int,
    deadline: int,
    data: bytes,
    signature: bytes,
) -> bytes | None:
    """Who signed an ERC-2771 ForwardRequest, as OpenZeppelin's ECDSA.tryRecover decides it
    (65 bytes, v 27/28, low s); None if nobody validly did."""
    if len(signature) != 65:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > HALF_N or v not in (27, 28):
        return None
    struct = forward_request_hash(sender, to, value, gas, nonce, deadline, bytes(data))
    return recover_address(typed_digest(domain, struct), v - 27, r, s)


class ChainWalker:
    """Turns fetched blocks into checked, attributed calls. Keeps the forwarder nonces it has
    seen (`nonces`), which the caller persists with the rest of the audit state."""

    def __init__(
        self,
        *,
        rpc: RpcClient,
        chain_id: int,
        contracts: dict[str, bytes],
        nonces: dict[bytes, int],
        in_range: Callable[[int], bool],
    ) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        self.forwarder = contracts["forwarder"]
        self.domain = {v for k, v in contracts.items() if k != "forwarder"}
        self.nonces = dict(nonces)  # walked ahead of the state; committed per chunk
        self.in_range = in_range
        self.forward_domain = domain_separator(*Domains.CommonsForwarder, chain_id, self.forwarder)
        self._traced_unavailable = False

    # ------------------------------------------------------------------------------ blocks

    def walk(self, chunk: VerifiedChunk, parent_hash: bytes | None) -> ChunkResult:
        """The calls of a verified chunk, in order; `parent_hash` is the previous chunk's last
        block hash (the chunk itself linked its own blocks)."""
        out = ChunkResult(findings=list(chunk.findings), warnings=list(chunk.warnings))
        out.transactions = chunk.transactions
        out.our_transactions = chunk.our_transactions
        if chunk.blocks:
            first = chunk.blocks[0]
            if (
                parent_hash is not None
                and first.parent != parent_hash
                and self.in_range(first.number)
            ):
                out.findings.append(
                    Finding(
                        "chain.parent_hash",
                        first.number,
                        None,
                        to_hex(parent_hash),
                        to_hex(first.parent),
                        f"block {first.number}'s parent is not block {first.number - 1}",
                    )
                )
        for block in chunk.blocks:
            out.blocks += 1
            out.last_hash = block.hash
            out.last_timestamp = block.timestamp
            for tx in block.txs:
                if tx.success:
                    self._calls_of_tx(tx, block.number, block.timestamp, out)
        out.nonces = dict(self.nonces)
        return out

    # ------------------------------------------------------------------------------ calls

    def _calls_of_tx(self, tx: TxData, number: int, timestamp: int, out: ChunkResult) -> None:
        to = tx.to
        ours = tx.logs
        if to in self.domain:
            assert to is not None
            foreign = [log for log in ours if log.address != to]
            # One of our contracts calling another (a reached initiative opening its proposal):
            # each frame is judged as its own call, with its own logs. Where the node no longer
            # holds the state to trace it (a pruned history), the other contract's logs are
            # judged by their events alone, as a call made by the contract the sender called.
            if foreign and self._split_frames(tx, number, timestamp, ours, out):
                return
            own = [log for log in ours if log.address == to]
            out.calls.append(
                Call(number, timestamp, tx.hash, 0, tx.sender, to, tx.input, own, "tx")
            )
            out.calls.extend(self._nested(tx.hash, number, timestamp, 0, to, ours))
        elif to == self.forwarder:
            self._forwarded(tx, tx.input, ours, number, timestamp, out)
        elif ours:
            self._traced(tx, number, timestamp, ours, out)

    def _forwarded(
        self,
        tx: TxData,
        data: bytes,
        logs: list[Log],
        number: int,
        timestamp: int,
        out: ChunkResult,
    ) -> None:
        try:
            requests = forward_requests(data)
            if requests is None:
                if logs:
                    out.findings.append(
                        Finding(
                            "event.unexplained",
                            number,
                            tx.hash,
                            "no events",
                            f"{len(logs)} events",
                            "a forwarder call other than execute/executeBatch emitted events",
                        )
                    )
                return
        except Exception as exc:
            out.warnings.append(
                AuditWarning("forward", number, tx.hash, f"forwarder call not decoded: {exc}")
            )
            return
        segment: list[Log] = []
        executed: list[tuple[bytes, int, bool, list[Log]]] = []
        for log in logs:
            if log.address == self.forwarder and log.topics[:1] == [
                Events.ExecutedForwardRequest.topic
            ]:
                signer = log.topics[1][12:]
                nonce = int.from_bytes(log.data[:32], "big")
                success = int.from_bytes(log.data[32:64], "big") == 1
                executed.append((signer, nonce, success, segment))
                segment = []
            else:
                segment.append(log)
        if segment:
            out.findings.append(
                Finding(
                    "event.unexplained",
                    number,
                    tx.hash,
                    "every event inside a forwarded request",
                    f"{len(segment)} events after the last executed request",
                    "events the forwarder's requests do not account for",
                )
            )
        queue = list(executed)
        strict = self.in_range(number)
        for position, request in enumerate(requests):
            sender, to, deadline = hex_bytes(request.from_), hex_bytes(request.to), request.deadline
            nonce = self.nonces.get(sender, 0)
            signed_by = self._forward_signer(
                sender, to, request.value, request.gas, nonce, deadline, request.data,
                request.signature,
            )  # fmt: skip
            valid = signed_by == sender and deadline >= timestamp and to in self.domain
            head = queue[0] if queue else None
            matches = head is not None and head[0] == sender and head[1] == nonce
            if not matches:
                if valid:
                    out.findings.append(
                        Finding(
                            "forward.execution",
                            number,
                            tx.hash,
                            f"request {position} of {to_hex(sender)} executed with nonce {nonce}",
                            "not executed"
                            if head is None
                            else f"{to_hex(head[0])} nonce {head[1]}",
                            "a valid forward request was not executed as the forwarder must",
                        )
                    )
                continue
            assert head is not None
            queue.pop(0)
            self.nonces[sender] = nonce + 1
            out.forwarded += 1
            if strict and signed_by != sender:
                out.findings.append(
                    Finding(
                        "forward.signature",
                        number,
                        tx.hash,
                        to_hex(sender),
                        to_hex(signed_by) if signed_by else "no valid low-s signature",
                        f"forward request {position} executed without its sender's signature",
                    )
                )
            if strict and deadline < timestamp:
                out.findings.append(
                    Finding(
                        "forward.execution",
                        number,
                        tx.hash,
                        f"deadline >= {timestamp}",
                        str(deadline),
                        f"forward request {position} executed after its deadline",
                    )
                )
            _, _, success, request_logs = head
            if success and to in self.domain:
                own = [log for log in request_logs if log.address == to]
                out.calls.append(
                    Call(
                        number,
                        timestamp,
                        tx.hash,
                        position,
                        sender,
                        to,
                        bytes(request.data),
                        own,
                        "forwarder",
                    )
                )
                out.calls.extend(
                    self._nested(tx.hash, number, timestamp, position, to, request_logs)
                )
            elif request_logs:
                out.findings.append(
                    Finding(
                        "event.unexplained",
                        number,
                        tx.hash,
                        "no events from a failed or foreign forwarded call",
                        f"{len(request_logs)} events",
                        f"forward request {position} failed yet our contracts emitted events",
                    )
                )
        for signer, nonce, _, _ in queue:
            out.findings.append(
                Finding(
                    "forward.nonce",
                    number,
                    tx.hash,
                    "an execution for each valid request, in order, with the next nonce",
                    f"{to_hex(signer)} nonce {nonce}",
                    "the forwarder reports an execution no request in the call accounts for",
                )
            )
            self.nonces[signer] = max(self.nonces.get(signer, 0), nonce + 1)

    @staticmethod
    def _nested(
        tx_hash: str, number: int, timestamp: int, position: int, caller: bytes, logs: list[Log]
    ) -> list[Call]:
        """The logs another of our contracts emitted inside a call to `caller` (the budget's
        selection opening grants in the fund, a reached initiative opening its proposal, when no
        trace splits it): one untraced call each, made by the contract called, judged by its
        events after the call's own."""
        by_target: dict[bytes, list[Log]] = {}
        for log in logs:
            if log.address != caller:
                by_target.setdefault(log.address, []).append(log)
        return [
            Call(number, timestamp, tx_hash, position, caller, target, None, group, "trace")
            for target, group in by_target.items()
        ]

    def _forward_signer(
        self,
        sender: bytes,
        to: bytes,
        value: int,
        gas: int,
        nonce: int,
        deadline: int,
        data: bytes,
        signature: bytes,
    ) -> bytes | None:
        return forward_request_signer(
            self.forward_domain, sender, to, value, gas, nonce, deadline, data, signature
        )

    def _split_frames(
        self, tx: TxData, number: int, timestamp: int, logs: list[Log], out: ChunkResult
    ) -> bool:
        """A direct call into our contracts that called another of them, as one Call a frame
        (the transaction's own first); False when the node cannot trace it."""
        if self._traced_unavailable:
            return False
        trace, _ = self.rpc.try_call(
            "debug_traceTransaction",
            [tx.hash, {"tracer": "callTracer", "tracerConfig": {"withLog": True}}],
        )
        frames: list[tuple[bytes, bytes, bytes, list[Log]]] = []
        if trace is not None:
            self._frames(trace, frames, logs)
        if not frames or sum(len(f[3]) for f in frames) != len(logs):
            return False
        for position, (actor, target, data, frame_logs) in enumerate(frames):
            # The first frame is the transaction itself: its actor is the recovered sender.
            by, via = (tx.sender, "tx") if position == 0 else (actor, "trace")
            out.calls.append(
                Call(number, timestamp, tx.hash, position, by, target, data, frame_logs, via)
            )
        return True

    def _traced(
        self, tx: TxData, number: int, timestamp: int, logs: list[Log], out: ChunkResult
    ) -> None:
        """A call into our contracts from another contract: find it in the call trace."""
        trace: Any = None
        error: str | None = "tracing unavailable"
        if not self._traced_unavailable:
            trace, error = self.rpc.try_call(
                "debug_traceTransaction",
                [tx.hash, {"tracer": "callTracer", "tracerConfig": {"withLog": True}}],
            )
            if error and "not" in error.lower() and "support" in error.lower():
                self._traced_unavailable = True
        frames: list[tuple[bytes, bytes, bytes, list[Log]]] = []
        if trace is not None:
            self._frames(trace, frames, logs)
        if not frames:
            out.warnings.append(
                AuditWarning(
                    "chain",
                    number,
                    tx.hash,
                    f"our contracts emitted {len(logs)} events in a call made by another contract "
                    f"that could not be traced ({error}); their signatures were not re-verified",
                )
            )
            by_address: dict[bytes, list[Log]] = {}
            for log in logs:
                by_address.setdefault(log.address, []).append(log)
            for address, group in by_address.items():
                if address in self.domain:
                    out.calls.append(
                        Call(number, timestamp, tx.hash, 0, None, address, None, group, "trace")
                    )
            return
        for position, (actor, target, data, frame_logs) in enumerate(frames):
            out.calls.append(
                Call(number, timestamp, tx.hash, position, actor, target, data, frame_logs, "trace")
            )
        out.warnings.append(
            AuditWarning(
                "chain",
                number,
                tx.hash,
                "calls into our contracts made by another contract were taken from the node's "
                "call trace",
            )
        )

    def _frames(
        self,
        frame: dict[str, Any],
        found: list[tuple[bytes, bytes, bytes, list[Log]]],
        logs: list[Log],
    ) -> None:
        if frame.get("error"):
            return  # a reverted frame changed nothing
        target = hex_bytes(frame.get("to"))
        if frame.get("type") == "CALL" and target in self.domain:
            actor = hex_bytes(frame.get("from"))
            data = hex_bytes(frame.get("input"))
            if actor == self.forwarder and len(data) >= 24:
                actor, data = data[-20:], data[:-20]  # ERC-2771: the signer rides at the end
            wanted = [
                (
                    hex_bytes(e["address"]),
                    [hex_bytes(t) for t in e.get("topics", [])],
                    hex_bytes(e.get("data")),
                )
                for e in frame.get("logs", [])
            ]
            mine = [
                log
                for log in logs
                if (log.address, log.topics, log.data) in wanted and log.address == target
            ]
            found.append((actor, target, data, mine))
        for child in frame.get("calls", []) or []:
            self._frames(child, found, logs)
