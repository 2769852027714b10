"""Walking the chain: every block from the deployment to the audited head, checked and turned
into the calls made to our contracts, each with its acting party and the logs it emitted.

Per block: the header's fields must hash to the block hash and its parentHash must be the previous
block's hash; every transaction's fields must hash to its hash, its signature must recover to the
sender the node names, and the transactions and (where fetched) receipts must hash to the roots in
the header. A transaction to one of our contracts is one call by its recovered sender; one to the
forwarder is decoded into its forwarded requests, each re-verified (EIP-712 signature, nonce,
deadline) and matched to the forwarder's `ExecutedForwardRequest` event, its logs attributed to it;
a transaction to anything else that still made our contracts emit is traced (`debug_traceTransaction`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode

from ledger.audit.ethcodec import (
    HALF_N,
    CodecError,
    encode_log,
    encode_receipt,
    hb,
    header_hash,
    hi,
    keccak,
    ordered_trie_root,
    recover_address,
    tx_envelope,
    tx_sender,
)
from ledger.audit.model import Finding, Warning_
from ledger.audit.rpc import AuditInfraError, RpcClient

FORWARD_REQUEST_TYPEHASH = keccak(
    b"ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,"
    b"uint48 deadline,bytes data)"
)
EXECUTED_FORWARD_REQUEST = keccak(b"ExecutedForwardRequest(address,uint256,bool)")
_REQUEST_TUPLE = "(address,address,uint256,uint256,uint48,bytes,bytes)"
EXECUTE = keccak(f"execute({_REQUEST_TUPLE})".encode())[:4]
EXECUTE_BATCH = keccak(f"executeBatch({_REQUEST_TUPLE}[],address)".encode())[:4]
DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


def domain_separator(name: str, version: str, chain_id: int, contract: bytes) -> bytes:
    return keccak(
        DOMAIN_TYPEHASH
        + keccak(name.encode())
        + keccak(version.encode())
        + chain_id.to_bytes(32, "big")
        + contract.rjust(32, b"\x00")
    )


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


@dataclass(slots=True)
class Log:
    address: bytes
    topics: list[bytes]
    data: bytes
    index: int


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
    warnings: list[Warning_] = field(default_factory=list)
    blocks: int = 0
    transactions: int = 0
    our_transactions: int = 0
    forwarded: int = 0
    last_hash: bytes = b""
    last_timestamp: int = 0


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
    struct = keccak(
        FORWARD_REQUEST_TYPEHASH
        + abi_encode(
            ["address", "address", "uint256", "uint256", "uint256", "uint48", "bytes32"],
            [hex0x(sender), hex0x(to), value, gas, nonce, deadline, keccak(bytes(data))],
        )
    )
    return recover_address(keccak(b"\x19\x01" + domain + struct), v - 27, r, s)


def bloom_may_contain(bloom: bytes, item: bytes) -> bool:
    digest = keccak(item)
    for i in (0, 2, 4):
        bit = ((digest[i] << 8) | digest[i + 1]) & 2047
        if not bloom[255 - bit // 8] & (1 << (bit % 8)):
            return False
    return True


@dataclass(frozen=True)
class FetchedChunk:
    blocks: list[dict[str, Any]]
    receipts: dict[int, list[dict[str, Any]]]


def fetch_chunk(
    rpc: RpcClient, numbers: range, watched: set[bytes], forwarder: bytes
) -> FetchedChunk:
    """Blocks with their transactions, and the receipts of blocks that touch our contracts (a
    transaction to one of them, or their address in the logs bloom)."""
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in numbers])
    for n, block in zip(numbers, blocks, strict=True):
        if block is None:
            raise AuditInfraError(f"node has no block {n}")
    relevant = []
    addresses = watched | {forwarder}
    for block in blocks:
        bloom = hb(block["logsBloom"])
        touches = any(hb(tx.get("to")) in addresses for tx in block["transactions"])
        if touches or any(bloom_may_contain(bloom, a) for a in addresses):
            relevant.append(hi(block["number"]))
    receipts: dict[int, list[dict[str, Any]]] = {}
    if relevant:
        answers = rpc.batch([("eth_getBlockReceipts", [hex(n)]) for n in relevant])
        for n, answer in zip(relevant, answers, strict=True):
            if answer is None:
                raise AuditInfraError(f"node has no receipts for block {n}")
            receipts[n] = answer
    return FetchedChunk(blocks, receipts)


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
        self.nonces = nonces
        self.in_range = in_range
        self.forward_domain = domain_separator("CommonsForwarder", "1", chain_id, self.forwarder)
        self._traced_unavailable = False

    # ----------------------------------------------------------------------- blocks and txs

    def walk(self, chunk: FetchedChunk, parent_hash: bytes | None) -> ChunkResult:
        out = ChunkResult()
        for block in chunk.blocks:
            number = hi(block["number"])
            block_hash = hb(block["hash"])
            strict = self.in_range(number)
            if strict:
                self._check_header(block, number, block_hash, parent_hash, out)
            parent_hash = block_hash
            out.blocks += 1
            out.last_hash = block_hash
            out.last_timestamp = hi(block["timestamp"])
            txs = block["transactions"]
            out.transactions += len(txs)
            senders = self._check_transactions(block, number, strict, out)
            receipts = chunk.receipts.get(number)
            if receipts is None:
                continue
            logs_by_tx = self._check_receipts(block, receipts, number, strict, out)
            for index, tx in enumerate(txs):
                receipt = receipts[index]
                if hi(receipt.get("status", "0x1")) != 1:
                    continue  # reverted: changed nothing
                self._calls_of_tx(
                    tx, senders[index], logs_by_tx[index], number, hi(block["timestamp"]), out
                )
        return out

    def _check_header(
        self,
        block: dict[str, Any],
        number: int,
        block_hash: bytes,
        parent_hash: bytes | None,
        out: ChunkResult,
    ) -> None:
        if parent_hash is not None and hb(block["parentHash"]) != parent_hash:
            out.findings.append(
                Finding(
                    "chain.parent_hash",
                    number,
                    None,
                    hex0x(parent_hash),
                    block["parentHash"],
                    f"block {number}'s parent is not block {number - 1}",
                )
            )
        try:
            computed = header_hash(block)
        except (CodecError, KeyError, ValueError) as exc:
            out.warnings.append(Warning_("chain", number, None, f"header not re-hashed: {exc}"))
            return
        if computed != block_hash:
            out.findings.append(
                Finding(
                    "chain.block_hash",
                    number,
                    None,
                    block["hash"],
                    hex0x(computed),
                    f"block {number}'s header fields do not hash to its hash",
                )
            )

    def _check_transactions(
        self, block: dict[str, Any], number: int, strict: bool, out: ChunkResult
    ) -> list[bytes | None]:
        senders: list[bytes | None] = []
        envelopes = []
        for tx in block["transactions"]:
            named = hb(tx.get("from"))
            touches = hb(tx.get("to")) in self.domain or hb(tx.get("to")) == self.forwarder
            if not strict and not touches:
                senders.append(named)
                continue
            try:
                envelope, payload, recid, r, s = tx_envelope(tx)
            except (CodecError, KeyError, ValueError) as exc:
                out.warnings.append(
                    Warning_("chain", number, tx.get("hash"), f"transaction not re-encoded: {exc}")
                )
                senders.append(named)
                strict = False  # the root cannot be recomputed without every envelope
                continue
            envelopes.append(envelope)
            sender = recover_address(keccak(payload), recid, r, s)
            if keccak(envelope) != hb(tx["hash"]):
                out.findings.append(
                    Finding(
                        "chain.tx_hash",
                        number,
                        tx["hash"],
                        tx["hash"],
                        hex0x(keccak(envelope)),
                        "the transaction's signed fields do not hash to its hash",
                    )
                )
            if sender != named:
                out.findings.append(
                    Finding(
                        "chain.sender",
                        number,
                        tx["hash"],
                        tx.get("from"),
                        hex0x(sender) if sender else "no valid signature",
                        "the transaction's signature does not recover to its named sender",
                    )
                )
            senders.append(sender)
            if touches:
                out.our_transactions += 1
        if strict and len(envelopes) == len(block["transactions"]):
            root = ordered_trie_root(envelopes)
            if root != hb(block["transactionsRoot"]):
                out.findings.append(
                    Finding(
                        "chain.tx_root",
                        number,
                        None,
                        block["transactionsRoot"],
                        hex0x(root),
                        f"block {number}'s transactions do not hash to its transactionsRoot",
                    )
                )
        return senders

    def _check_receipts(
        self,
        block: dict[str, Any],
        receipts: list[dict[str, Any]],
        number: int,
        strict: bool,
        out: ChunkResult,
    ) -> list[list[Log]]:
        txs = block["transactions"]
        if len(receipts) != len(txs) or any(
            r["transactionHash"] != t["hash"] for r, t in zip(receipts, txs, strict=True)
        ):
            raise AuditInfraError(f"receipts of block {number} do not match its transactions")
        encoded = []
        logs_by_tx: list[list[Log]] = []
        for receipt in receipts:
            logs = []
            encoded_logs = []
            for entry in receipt["logs"]:
                address = hb(entry["address"])
                topics = [hb(t) for t in entry["topics"]]
                data = hb(entry["data"])
                if strict:
                    encoded_logs.append(encode_log(address, topics, data))
                logs.append(Log(address, topics, data, hi(entry["logIndex"])))
            logs_by_tx.append(logs)
            if strict:
                encoded.append(encode_receipt(receipt, encoded_logs))
        if strict:
            root = ordered_trie_root(encoded)
            if root != hb(block["receiptsRoot"]):
                out.findings.append(
                    Finding(
                        "chain.receipts_root",
                        number,
                        None,
                        block["receiptsRoot"],
                        hex0x(root),
                        f"block {number}'s receipts (logs included) do not hash to its receiptsRoot",
                    )
                )
        return logs_by_tx

    # ------------------------------------------------------------------------------ calls

    def _calls_of_tx(
        self,
        tx: dict[str, Any],
        sender: bytes | None,
        logs: list[Log],
        number: int,
        timestamp: int,
        out: ChunkResult,
    ) -> None:
        to = hb(tx.get("to"))
        ours = [log for log in logs if log.address in self.domain or log.address == self.forwarder]
        if to in self.domain:
            foreign = [log for log in ours if log.address != to]
            out.calls.append(
                Call(number, timestamp, tx["hash"], 0, sender, to, hb(tx["input"]), ours, "tx")
            )
            if foreign:
                out.warnings.append(
                    Warning_(
                        "chain",
                        number,
                        tx["hash"],
                        f"{len(foreign)} logs of another of our contracts in a direct call",
                    )
                )
        elif to == self.forwarder:
            self._forwarded(tx, hb(tx["input"]), ours, number, timestamp, out)
        elif ours:
            self._traced(tx, number, timestamp, ours, out)

    def _forwarded(
        self,
        tx: dict[str, Any],
        data: bytes,
        logs: list[Log],
        number: int,
        timestamp: int,
        out: ChunkResult,
    ) -> None:
        selector = data[:4]
        try:
            if selector == EXECUTE_BATCH:
                requests = list(abi_decode([f"{_REQUEST_TUPLE}[]", "address"], data[4:])[0])
            elif selector == EXECUTE:
                requests = [abi_decode([_REQUEST_TUPLE], data[4:])[0]]
            else:
                if logs:
                    out.findings.append(
                        Finding(
                            "event.unexplained",
                            number,
                            tx["hash"],
                            "no events",
                            f"{len(logs)} events",
                            "a forwarder call other than execute/executeBatch emitted events",
                        )
                    )
                return
        except Exception as exc:
            out.warnings.append(
                Warning_("forward", number, tx["hash"], f"forwarder call not decoded: {exc}")
            )
            return
        segment: list[Log] = []
        executed: list[tuple[bytes, int, bool, list[Log]]] = []
        for log in logs:
            if log.address == self.forwarder and log.topics[:1] == [EXECUTED_FORWARD_REQUEST]:
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
                    tx["hash"],
                    "every event inside a forwarded request",
                    f"{len(segment)} events after the last executed request",
                    "events the forwarder's requests do not account for",
                )
            )
        queue = list(executed)
        strict = self.in_range(number)
        for position, request in enumerate(requests):
            sender_s, to_s, value, gas, deadline, inner, signature = request
            sender = hb(sender_s)
            to = hb(to_s)
            nonce = self.nonces.get(sender, 0)
            signed_by = self._forward_signer(sender, to, value, gas, nonce, deadline, inner, signature)
            valid = signed_by == sender and deadline >= timestamp and to in self.domain
            head = queue[0] if queue else None
            matches = head is not None and head[0] == sender and head[1] == nonce
            if not matches:
                if valid:
                    out.findings.append(
                        Finding(
                            "forward.execution",
                            number,
                            tx["hash"],
                            f"request {position} of {hex0x(sender)} executed with nonce {nonce}",
                            "not executed" if head is None else f"{hex0x(head[0])} nonce {head[1]}",
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
                        tx["hash"],
                        hex0x(sender),
                        hex0x(signed_by) if signed_by else "no valid low-s signature",
                        f"forward request {position} executed without its sender's signature",
                    )
                )
            if strict and deadline < timestamp:
                out.findings.append(
                    Finding(
                        "forward.execution",
                        number,
                        tx["hash"],
                        f"deadline >= {timestamp}",
                        str(deadline),
                        f"forward request {position} executed after its deadline",
                    )
                )
            _, _, success, request_logs = head
            if success and to in self.domain:
                out.calls.append(
                    Call(number, timestamp, tx["hash"], position, sender, to, bytes(inner),
                         request_logs, "forwarder")
                )  # fmt: skip
            elif request_logs:
                out.findings.append(
                    Finding(
                        "event.unexplained",
                        number,
                        tx["hash"],
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
                    tx["hash"],
                    "an execution for each valid request, in order, with the next nonce",
                    f"{hex0x(signer)} nonce {nonce}",
                    "the forwarder reports an execution no request in the call accounts for",
                )
            )
            self.nonces[signer] = max(self.nonces.get(signer, 0), nonce + 1)

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

    def _traced(
        self, tx: dict[str, Any], number: int, timestamp: int, logs: list[Log], out: ChunkResult
    ) -> None:
        """A call into our contracts from another contract: find it in the call trace."""
        trace, error = (None, "tracing unavailable")
        if not self._traced_unavailable:
            trace, error = self.rpc.try_call(
                "debug_traceTransaction",
                [tx["hash"], {"tracer": "callTracer", "tracerConfig": {"withLog": True}}],
            )
            if error and "not" in error.lower() and "support" in error.lower():
                self._traced_unavailable = True
        frames: list[tuple[bytes, bytes, bytes, list[Log]]] = []
        if trace is not None:
            self._frames(trace, frames, logs)
        if not frames:
            out.warnings.append(
                Warning_(
                    "chain",
                    number,
                    tx["hash"],
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
                        Call(number, timestamp, tx["hash"], 0, None, address, None, group, "trace")
                    )
            return
        for position, (actor, target, data, frame_logs) in enumerate(frames):
            out.calls.append(
                Call(number, timestamp, tx["hash"], position, actor, target, data, frame_logs,
                     "trace")
            )  # fmt: skip
        out.warnings.append(
            Warning_(
                "chain",
                number,
                tx["hash"],
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
        target = hb(frame.get("to"))
        if frame.get("type") == "CALL" and target in self.domain:
            actor = hb(frame.get("from"))
            data = hb(frame.get("input"))
            if actor == self.forwarder and len(data) >= 24:
                actor, data = data[-20:], data[:-20]  # ERC-2771: the signer rides at the end
            wanted = [
                (hb(e["address"]), [hb(t) for t in e.get("topics", [])], hb(e.get("data")))
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


def tx_sender_check(tx: dict[str, Any]) -> bytes | None:
    """The recovered sender of a JSON-RPC transaction (for deployment transactions)."""
    return tx_sender(tx)[1]
