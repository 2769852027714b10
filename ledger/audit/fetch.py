"""Fetching and verifying a run of blocks: the part of the walk that needs no audit state, so
it can run in worker processes, a chunk each, while the main process judges the chunk before.

For each block: its header fields must hash to its hash, and its parentHash be the hash of the
block before (the first block of a chunk is linked by the caller); every transaction's fields
must hash to its hash and recover to the sender the node names; the transactions and (where
fetched) the receipts must hash to the header's roots. Receipts are fetched for blocks that
touch our contracts (a transaction to one of them, or an address of theirs in the logs bloom).
Relayed ballots sent straight to the council are signature-checked here too. What goes back is
compact: only the transactions that concern our contracts, with their logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ledger.audit.ethcodec import (
    CodecError,
    encode_log,
    encode_receipt,
    header_hash,
    hex_bytes,
    hex_int,
    ordered_trie_root,
    recover_address,
    to_hex,
    tx_envelope,
)
from ledger.audit.model import AuditWarning, Finding
from ledger.audit.sigs import parse_batch, verify_ballots
from ledger.errors import AuditInfraError
from ledger.hashing import keccak
from ledger.protocol.generated import Functions
from ledger.transport import RpcClient, RpcFailure


class Log(NamedTuple):
    """One log of our contracts (a tuple: cheap to send back from a worker process)."""

    address: bytes
    topics: list[bytes]
    data: bytes
    log_index: int


@dataclass(slots=True)
class TxData:
    """A transaction that concerns our contracts. `sender` is recovered from its signature."""

    hash: str
    sender: bytes | None
    to: bytes | None
    input: bytes
    success: bool
    logs: list[Log]  # the logs of our contracts only
    # For re-execution (ledger/audit/reexec.py):
    value: int = 0
    gas: int = 0
    nonce: int = 0
    created: bytes | None = None  # a creation's new contract, per its receipt


@dataclass(slots=True)
class BlockData:
    number: int
    hash: bytes
    parent: bytes
    timestamp: int
    txs: list[TxData]
    # The block's context, for re-execution.
    coinbase: bytes = b""
    prevrandao: bytes = b""
    gas_limit: int = 0


@dataclass(frozen=True)
class ChunkJob:
    url: str
    start: int
    stop: int  # exclusive
    watched: frozenset[bytes]  # our domain contracts
    forwarder: bytes
    council: bytes
    council_domain: bytes
    strict_from: int  # blocks below this are walked, not checked


@dataclass
class VerifiedChunk:
    blocks: list[BlockData] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[AuditWarning] = field(default_factory=list)
    transactions: int = 0
    our_transactions: int = 0
    # tx hash -> verify_ballots() of the castBallots it sent straight to the council
    ballots: dict[str, bytes] = field(default_factory=dict)
    cpu_s: float = 0.0  # CPU time this chunk cost wherever it ran


def bloom_may_contain(bloom: bytes, item: bytes) -> bool:
    digest = keccak(item)
    for i in (0, 2, 4):
        bit = ((digest[i] << 8) | digest[i + 1]) & 2047
        if not bloom[255 - bit // 8] & (1 << (bit % 8)):
            return False
    return True


_CLIENTS: dict[str, RpcClient] = {}


def _client(url: str) -> RpcClient:
    # One keep-alive connection per process (and per node) for every chunk it fetches.
    client = _CLIENTS.get(url)
    if client is None:
        client = _CLIENTS[url] = RpcClient(url)
    return client


def verify_chunk(job: ChunkJob, rpc: RpcClient | None = None) -> VerifiedChunk:
    started = time.thread_time()
    out = _verify_chunk(job, rpc or _client(job.url))
    out.cpu_s = time.thread_time() - started
    return out


def _verify_chunk(job: ChunkJob, rpc: RpcClient) -> VerifiedChunk:
    numbers = range(job.start, job.stop)
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in numbers])
    addresses = set(job.watched) | {job.forwarder}
    relevant = []
    for n, block in zip(numbers, blocks, strict=True):
        if block is None:
            raise AuditInfraError(f"node has no block {n}")
        bloom = hex_bytes(block["logsBloom"])
        # A creation may be one of ours (the deployment): its receipt names what it made.
        if any(
            tx.get("to") is None or hex_bytes(tx.get("to")) in addresses
            for tx in block["transactions"]
        ) or any(bloom_may_contain(bloom, a) for a in addresses):
            relevant.append(n)
    receipts: dict[int, list[dict[str, Any]]] = {}
    if relevant:
        answers = rpc.batch(
            [("eth_getBlockReceipts", [hex(n)]) for n in relevant], allow_errors=True
        )
        by_number = {hex_int(b["number"]): b for b in blocks}
        for n, answer in zip(relevant, answers, strict=True):
            if isinstance(answer, RpcFailure):
                # A node without eth_getBlockReceipts: one receipt per transaction instead.
                hashes = [tx["hash"] for tx in by_number[n]["transactions"]]
                answer = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
            if answer is None or any(r is None for r in answer):
                raise AuditInfraError(f"node has no receipts for block {n}")
            receipts[n] = answer
    out = VerifiedChunk()
    parent: bytes | None = None
    for block in blocks:
        _verify_block(job, block, receipts.get(hex_int(block["number"])), parent, addresses, out)
        parent = out.blocks[-1].hash
    return out


def _verify_block(
    job: ChunkJob,
    block: dict[str, Any],
    receipts: list[dict[str, Any]] | None,
    parent: bytes | None,
    addresses: set[bytes],
    out: VerifiedChunk,
) -> None:
    number = hex_int(block["number"])
    block_hash = hex_bytes(block["hash"])
    strict = number >= job.strict_from
    if strict:
        _check_header(block, number, block_hash, parent, out)
    txs = block["transactions"]
    out.transactions += len(txs)
    senders = _check_transactions(block, number, strict, addresses, out)
    data = BlockData(
        number,
        block_hash,
        hex_bytes(block["parentHash"]),
        hex_int(block["timestamp"]),
        [],
        coinbase=hex_bytes(block.get("miner")),
        prevrandao=hex_bytes(block.get("mixHash")),
        gas_limit=hex_int(block.get("gasLimit")),
    )
    out.blocks.append(data)
    if receipts is None:
        return
    logs_by_tx = _check_receipts(block, receipts, number, strict, addresses, out)
    for index, tx in enumerate(txs):
        to = hex_bytes(tx.get("to")) if tx.get("to") else None
        logs = logs_by_tx[index]
        made = receipts[index].get("contractAddress") if to is None else None
        created = hex_bytes(made) if made else None
        if to not in addresses and not logs and created not in addresses:
            continue
        success = hex_int(receipts[index].get("status", "0x1")) == 1
        item = TxData(
            tx["hash"],
            senders[index],
            to,
            hex_bytes(tx["input"]),
            success,
            logs,
            value=hex_int(tx.get("value")),
            gas=hex_int(tx.get("gas")),
            nonce=hex_int(tx.get("nonce")),
            created=created,
        )
        data.txs.append(item)
        if success and to == job.council and item.input[:4] == Functions.castBallots.selector:
            parsed = parse_batch(item.input)
            if parsed is not None:
                out.ballots[tx["hash"]] = verify_ballots(job.council_domain, parsed[0], parsed[1])


def _check_header(
    block: dict[str, Any],
    number: int,
    block_hash: bytes,
    parent: bytes | None,
    out: VerifiedChunk,
) -> None:
    if parent is not None and hex_bytes(block["parentHash"]) != parent:
        out.findings.append(
            Finding(
                "chain.parent_hash",
                number,
                None,
                to_hex(parent),
                block["parentHash"],
                f"block {number}'s parent is not block {number - 1}",
            )
        )
    try:
        computed = header_hash(block)
    except (CodecError, KeyError, ValueError) as exc:
        out.warnings.append(AuditWarning("chain", number, None, f"header not re-hashed: {exc}"))
        return
    if computed != block_hash:
        out.findings.append(
            Finding(
                "chain.block_hash",
                number,
                None,
                block["hash"],
                to_hex(computed),
                f"block {number}'s header fields do not hash to its hash",
            )
        )


def _check_transactions(
    block: dict[str, Any], number: int, strict: bool, addresses: set[bytes], out: VerifiedChunk
) -> list[bytes | None]:
    senders: list[bytes | None] = []
    envelopes = []
    for tx in block["transactions"]:
        named = hex_bytes(tx.get("from"))
        touches = hex_bytes(tx.get("to")) in addresses
        if touches:
            out.our_transactions += 1
        if not strict and not touches:
            senders.append(named)
            continue
        try:
            envelope, payload, recid, r, s = tx_envelope(tx)
        except (CodecError, KeyError, ValueError) as exc:
            out.warnings.append(
                AuditWarning("chain", number, tx.get("hash"), f"transaction not re-encoded: {exc}")
            )
            senders.append(named)
            strict = False  # the root cannot be recomputed without every envelope
            continue
        envelopes.append(envelope)
        sender = recover_address(keccak(payload), recid, r, s)
        if keccak(envelope) != hex_bytes(tx["hash"]):
            out.findings.append(
                Finding(
                    "chain.tx_hash",
                    number,
                    tx["hash"],
                    tx["hash"],
                    to_hex(keccak(envelope)),
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
                    to_hex(sender) if sender else "no valid signature",
                    "the transaction's signature does not recover to its named sender",
                )
            )
        senders.append(sender)
    if strict and len(envelopes) == len(block["transactions"]):
        root = ordered_trie_root(envelopes)
        if root != hex_bytes(block["transactionsRoot"]):
            out.findings.append(
                Finding(
                    "chain.tx_root",
                    number,
                    None,
                    block["transactionsRoot"],
                    to_hex(root),
                    f"block {number}'s transactions do not hash to its transactionsRoot",
                )
            )
    return senders


def _check_receipts(
    block: dict[str, Any],
    receipts: list[dict[str, Any]],
    number: int,
    strict: bool,
    addresses: set[bytes],
    out: VerifiedChunk,
) -> list[list[Log]]:
    txs = block["transactions"]
    if len(receipts) != len(txs) or any(
        r["transactionHash"] != t["hash"] for r, t in zip(receipts, txs, strict=True)
    ):
        raise AuditInfraError(f"receipts of block {number} do not match its transactions")
    encoded = []
    logs_by_tx: list[list[Log]] = []
    fromhex = bytes.fromhex
    known: dict[str, bytes] = {}
    for receipt in receipts:
        logs = []
        encoded_logs = []
        # The hot loop of a large election (one log per ballot): kept to plain operations.
        for entry in receipt["logs"]:
            address_hex = entry["address"]
            address = known.get(address_hex)
            if address is None:
                address = known[address_hex] = fromhex(address_hex[2:])
            topics = [fromhex(t[2:]) for t in entry["topics"]]
            data = fromhex(entry["data"][2:])
            if strict:
                encoded_logs.append(encode_log(address, topics, data))
            if address in addresses:
                logs.append(Log(address, topics, data, int(entry["logIndex"], 16)))
        logs_by_tx.append(logs)
        if strict:
            encoded.append(encode_receipt(receipt, encoded_logs))
    if strict:
        root = ordered_trie_root(encoded)
        if root != hex_bytes(block["receiptsRoot"]):
            out.findings.append(
                Finding(
                    "chain.receipts_root",
                    number,
                    None,
                    block["receiptsRoot"],
                    to_hex(root),
                    f"block {number}'s receipts (logs included) do not hash to its receiptsRoot",
                )
            )
    return logs_by_tx
