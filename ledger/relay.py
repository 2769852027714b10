"""The relay: a durable outbox of signed messages, batched into transactions.

A message is verified (signature, role, roll, window) and then written to SQLite (WAL,
synchronous=FULL) *before* it is acknowledged. Writes are group-committed by one writer thread,
so one fsync covers every message that arrived meanwhile. A sender thread batches queued
messages by kind and target, signs each transaction, records it (hash, raw bytes, nonce) and
only then broadcasts it; after a restart it rebroadcasts or requeues whatever was acknowledged
but not yet included. Every kind is idempotent on-chain (one ballot per voter, per-record
nonces, forwarder nonces), so a requeued message can land at most once.

Receipt status: queued -> sent -> included (block, tx) -> counted | rejected (reason).
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxReceipt

from ledger.errors import QueueFull, RelayError, UnknownReceipt
from ledger.hashing import keccak
from ledger.transport import log_retry
from ledger.tx import ErrorDecoder, fetch_receipt, revert_data

log = logging.getLogger("ledger.relay")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,          -- receipt id: keccak(kind, canonical payload)
    seq INTEGER NOT NULL,         -- acceptance order
    kind TEXT NOT NULL,
    grp TEXT NOT NULL,            -- batch target (e.g. a proposal id)
    payload TEXT NOT NULL,
    signer TEXT NOT NULL,
    status TEXT NOT NULL,         -- queued | sent | included | counted | rejected
    tx_hash TEXT,
    block INTEGER,
    detail TEXT,
    accepted_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,  -- batches of this message alone that failed to go out
    ack TEXT                     -- the signed acknowledgement given for it (JSON)
);
CREATE INDEX IF NOT EXISTS messages_status ON messages (status, kind, grp, seq);
CREATE INDEX IF NOT EXISTS messages_tx ON messages (tx_hash);
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY,
    nonce INTEGER NOT NULL,
    raw BLOB NOT NULL,
    status TEXT NOT NULL,         -- sent | mined | dropped
    sent_at REAL NOT NULL
);
"""

BUSY_PAUSE_S = 0.02
QUEUED, SENT, INCLUDED, COUNTED, REJECTED = "queued", "sent", "included", "counted", "rejected"
# A settled batch is watched this many blocks deep for a reorg that takes it off the chain (a
# managed anvil keeps this many recent states: it cannot reorg deeper).
REORG_DEPTH = 64
REORG_CHECK_INTERVAL_S = 0.25
# EIP-7825's cap on one transaction's gas: a batch is bounded by it on every network, and by the
# node's block gas limit where that is lower.
TX_GAS_CAP = 16_777_216
# A message that fails this many times alone, for no reason the contract names, is parked
# (rejected with the last reason) rather than retried for ever; between tries its group waits
# RETRY_BASE_S, doubled each time.
MAX_ATTEMPTS = 5
RETRY_BASE_S = 1.0


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Message:
    """A verified message ready for the outbox."""

    kind: str
    group: str
    payload: dict[str, Any]
    signer: str
    # The relay's signed acknowledgement (JSON), stored with the message: not part of its id.
    ack: str | None = field(default=None, compare=False)

    # Cached: the hot path asks for both several times (checks, the write, the receipt).
    @cached_property
    def receipt_id(self) -> str:
        return "0x" + keccak(_canonical([self.kind, self.payload]).encode()).hex()

    @cached_property
    def payload_json(self) -> str:
        return _canonical(self.payload)


@dataclass(frozen=True)
class Receipt:
    id: str
    kind: str
    group: str
    signer: str
    status: str
    tx_hash: str | None
    block: int | None
    detail: str | None
    accepted_at: float
    updated_at: float
    ack: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What the chain said about one message in a mined batch."""

    status: str  # COUNTED, REJECTED, or INCLUDED when the receipt could not be read
    detail: str | None = None


@dataclass(frozen=True)
class BatchCall:
    """A contract call as raw calldata: ABI-encoding a hundred structs through web3's generic
    machinery would cost more than everything else the relay does."""

    to: str
    data: bytes
    gas: int | None = None  # a safe upper bound, when the kind knows one; else estimated

    @classmethod
    def of(cls, call: ContractFunction) -> BatchCall:
        return cls(call.address, bytes(HexBytes(call._encode_transaction_data())))


class MessageRelay(Protocol):
    """One kind of signed message: how to read it, check it, batch it, and read its outcome."""

    name: str
    max_batch: int
    # Gas a batch of this kind needs besides its messages (the transaction, the call's frame).
    base_gas: int

    def gas_bound(self, payload: dict[str, Any]) -> int:
        """An upper bound on the gas one message adds to its batch: batches are packed by it,
        so that no batch can need more than a transaction may carry."""
        ...

    def parse(self, payload: dict[str, Any]) -> Message:
        """Normalize and check what needs no chain: form, signature. Raise InvalidMessage."""
        ...

    def check(self, message: Message) -> None:
        """Check the rules the chain holds (role, roll, window, nonce) before acknowledging."""
        ...

    def check_is_local(self, message: Message) -> bool:
        """Whether `check` can answer from memory, without asking the chain."""
        ...

    def signed_digest(self, message: Message) -> bytes:
        """The EIP-712 digest the sender signed: what an acknowledgement names."""
        ...

    def release(self, message: Message) -> None:
        """`check` passed but the outbox did not store the message: forget what `check` noted
        of it (a ballot's voter as voted, a record's nonce as held)."""
        ...

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        """The one contract call that carries these messages."""
        ...

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Per message, in order: counted, or rejected with the contract's reason."""
        ...


@dataclass
class _Pending:
    message: Message
    future: Future[Receipt] = field(default_factory=Future)


def _row_to_receipt(row: sqlite3.Row) -> Receipt:
    return Receipt(
        id=row["id"],
        kind=row["kind"],
        group=row["grp"],
        signer=row["signer"],
        status=row["status"],
        tx_hash=row["tx_hash"],
        block=row["block"],
        detail=row["detail"],
        accepted_at=row["accepted_at"],
        updated_at=row["updated_at"],
        ack=row["ack"],
    )


WRITE_WAIT_S = 30.0
# How often a writer tries again for the write lock the other process holds. SQLite's own busy
# handler sleeps 1, 2, 5, 10, 15, 20... ms between tries: a 3 ms commit of the worker's became
# an 18-80 ms wait for an acknowledgement (bench/api_load.py at 1,000 ballots/s).
LOCK_RETRY_S = 0.0005


class Outbox:
    """The SQLite outbox. Thread-safe; `submit` returns once the message is durable."""

    def __init__(
        self,
        path: Path,
        *,
        max_queued: int = 50_000,
        group_window_s: float = 0.002,
        checkpoints: bool = True,
    ) -> None:
        """`checkpoints=False`: this connection's commits never copy the WAL back into the
        database, so an acknowledgement never waits for that; another connection to the file
        (the worker's, whose commits nobody waits on) must keep checkpointing."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_queued = max_queued
        self.group_window_s = group_window_s
        # Two processes write (the API accepts, ledger.worker sends): wait out the other's commit.
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=WRITE_WAIT_S
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        if not checkpoints:
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(SCHEMA)
        # An outbox written before attempts were counted and acknowledgements signed.
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
        for name, declared in (("attempts", "INTEGER NOT NULL DEFAULT 0"), ("ack", "TEXT")):
            if name not in columns:
                self._db.execute(f"ALTER TABLE messages ADD COLUMN {name} {declared}")
        # The connection above writes, under the lock (writer and sender threads). Every other
        # thread reads through its own connection, which WAL never blocks behind a commit.
        self._lock = threading.RLock()
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0]
        self._queued = self.count(QUEUED)
        # SimpleQueue: its put is one C call, where Queue's takes a lock and a condition.
        self._inbox: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="outbox-writer", daemon=True)
        self._writer.start()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction of this process (under its lock): committed, or rolled back
        if the body raises. The other process's write lock is waited for in LOCK_RETRY_S steps,
        up to WRITE_WAIT_S, rather than by SQLite's coarse busy handler."""
        with self._lock:
            self._db.execute("PRAGMA busy_timeout = 0")
            try:
                deadline = time.monotonic() + WRITE_WAIT_S
                while True:
                    try:
                        self._db.execute("BEGIN IMMEDIATE")
                        break
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc) or time.monotonic() > deadline:
                            raise
                    time.sleep(LOCK_RETRY_S)
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {int(WRITE_WAIT_S * 1000)}")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    # --- acceptance -------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            self._readers.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    def submit(self, message: Message) -> Future[Receipt]:
        """Queue `message` for a durable write; the future resolves after the fsync.

        The same message twice resolves to the same receipt (and is stored once).
        """
        pending = _Pending(message)
        if self._queued >= self.max_queued:
            # The sender is usually another process (ledger.worker), so this process's count
            # only knows what it added: ask the database before refusing.
            self._queued = self.count(QUEUED)
            if self._queued >= self.max_queued:
                raise QueueFull(f"{self._queued} messages are waiting to be sent; retry shortly")
        self._inbox.put(pending)
        return pending.future

    def _write_loop(self) -> None:
        while True:
            first = self._inbox.get()
            if first is None:
                return
            group = [first]
            deadline = time.monotonic() + self.group_window_s
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    item = self._inbox.get(timeout=remaining)
                except queue.Empty:
                    break
                if item is None:
                    self._inbox.put(None)
                    break
                group.append(item)
            self._commit_group(group)

    def _commit_group(self, group: list[_Pending]) -> None:
        now = time.time()
        try:
            with self._transaction():
                inserted = []
                for pending in group:
                    m = pending.message
                    self._seq += 1
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO messages (id, seq, kind, grp, payload, signer,"
                        " status, accepted_at, updated_at, ack) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (m.receipt_id, self._seq, m.kind, m.group, m.payload_json,
                         m.signer, QUEUED, now, now, m.ack),
                    )  # fmt: skip
                    inserted.append(cur.rowcount == 1)
                    self._queued += cur.rowcount
            # A new row is what was just written; only a repeat is read back (its status).
            with self._lock:
                receipts = [
                    Receipt(p.message.receipt_id, p.message.kind, p.message.group,
                            p.message.signer, QUEUED, None, None, None, now, now, p.message.ack)
                    if new
                    else self._get(self._db, p.message.receipt_id)
                    for p, new in zip(group, inserted, strict=True)
                ]  # fmt: skip
        except Exception as exc:
            for pending in group:
                pending.future.set_exception(RelayError(f"could not store message: {exc}"))
            return
        for pending, receipt in zip(group, receipts, strict=True):
            pending.future.set_result(receipt)

    # --- reads -----------------------------------------------------------------------------------

    def get(self, receipt_id: str, *, missing_ok: bool = False) -> Receipt:
        return self._get(self._reader(), receipt_id, missing_ok=missing_ok)

    @staticmethod
    def _get(conn: sqlite3.Connection, receipt_id: str, *, missing_ok: bool = False) -> Receipt:
        row = conn.execute("SELECT * FROM messages WHERE id = ?", (receipt_id.lower(),)).fetchone()
        if row is None:
            if missing_ok:
                return None  # type: ignore[return-value]
            raise UnknownReceipt(f"no message with receipt id {receipt_id}")
        return _row_to_receipt(row)

    def released(self, receipt_id: str) -> bool:
        """Whether no live message is stored under `receipt_id`: the relay gave up on it
        (rejected), or never stored it (a check passed but the write was refused — or is still
        under way, a moment in which a second record may take the same nonce; the contract then
        skips one of the two)."""
        receipt = self.get(receipt_id, missing_ok=True)
        return receipt is None or receipt.status == REJECTED

    def count(self, status: str | None = None) -> int:
        db = self._reader()
        if status is None:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        sql = "SELECT COUNT(*) FROM messages WHERE status = ?"
        return int(db.execute(sql, (status,)).fetchone()[0])

    def in_flight(self, kind: str, signer: str) -> list[dict[str, Any]]:
        """Payloads of `signer` acknowledged but not yet settled, oldest first."""
        rows = (
            self._reader()
            .execute(
                "SELECT payload FROM messages WHERE kind = ? AND signer = ? AND status IN (?, ?)"
                " ORDER BY seq",
                (kind, signer, QUEUED, SENT),
            )
            .fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def pending(self, kind: str, newest: int = 100) -> list[dict[str, Any]]:
        """Payloads of `kind` acknowledged but not yet settled, oldest first: the `newest` of
        them (the older ones are the next to go out)."""
        rows = (
            self._reader()
            .execute(
                "SELECT payload FROM (SELECT seq, payload FROM messages WHERE kind = ?"
                " AND status IN (?, ?) ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                (kind, QUEUED, SENT, newest),
            )
            .fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def acknowledged(
        self, since: float, after: int = 0, limit: int = 100
    ) -> list[tuple[int, Receipt, dict[str, Any]]]:
        """Messages acknowledged with a signed acknowledgement at or after unix time `since`,
        in acceptance order after position `after`: each with its position (the next page's
        `after`), receipt and payload. Whatever became of them since, rejected included: an
        export of what the relay promised.

        Paged by rowid, which the one writer assigns in acceptance order: a page reads its rows
        straight off the table's B-tree. `seq` has no index; ordered by it, a page of 1,000 from
        an outbox of 200,000 took 66 ms and all of them 15.8 s; by rowid 11-22 ms and 1.9 s."""
        rows = (
            self._reader()
            .execute(
                "SELECT rowid AS position, * FROM messages WHERE rowid > ? AND ack IS NOT NULL"
                " AND accepted_at >= ? ORDER BY rowid LIMIT ?",
                (after, since, limit),
            )
            .fetchall()
        )
        return [(int(r["position"]), _row_to_receipt(r), json.loads(r["payload"])) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = (
            self._reader()
            .execute("SELECT status, COUNT(*) FROM messages GROUP BY status")
            .fetchall()
        )
        return {status: n for status, n in rows}

    # --- the sender's side ------------------------------------------------------------------------

    def next_batch(
        self, limit_of: Callable[[str, str], int | None], max_wait_s: float = 0.0
    ) -> tuple[str, str, list[tuple[str, dict[str, Any]]]] | None:
        """The oldest queued (kind, group) that `limit_of(kind, group)` lets go (None: not now)
        and up to that many of its messages, oldest first — once it has that many, or its oldest
        message has waited `max_wait_s`."""
        with self._lock:
            heads = self._db.execute(
                "SELECT kind, grp, MIN(seq), MIN(accepted_at), COUNT(*) FROM messages"
                " WHERE status = ? GROUP BY kind, grp ORDER BY MIN(seq)",
                (QUEUED,),
            ).fetchall()
            now = time.time()
            for kind, grp, _, oldest, count in heads:
                limit = limit_of(kind, grp)
                if limit is None or (count < limit and now - oldest < max_wait_s):
                    continue
                rows = self._db.execute(
                    "SELECT id, payload FROM messages WHERE status = ? AND kind = ? AND grp = ?"
                    " ORDER BY seq LIMIT ?",
                    (QUEUED, kind, grp, limit),
                ).fetchall()
                return kind, grp, [(r["id"], json.loads(r["payload"])) for r in rows]
        return None

    def record_attempt(self, receipt_id: str) -> int:
        """One more failed try of this message alone; returns how many there have been."""
        with self._transaction() as db:
            db.execute(
                "UPDATE messages SET attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (time.time(), receipt_id),
            )
            row = db.execute("SELECT attempts FROM messages WHERE id = ?", (receipt_id,)).fetchone()
        return int(row[0])

    def record_sent(self, ids: Sequence[str], tx_hash: str, nonce: int, raw: bytes) -> None:
        """Write the signed tx and mark its messages sent, in one transaction, before broadcast."""
        now = time.time()
        # The lock (re-entrant) spans the count too: the writer thread changes it as well.
        with self._lock:
            with self._transaction() as db:
                db.execute(
                    "INSERT OR REPLACE INTO txs (hash, nonce, raw, status, sent_at)"
                    " VALUES (?,?,?,?,?)",
                    (tx_hash, nonce, raw, SENT, now),
                )
                db.executemany(
                    "UPDATE messages SET status = ?, tx_hash = ?, updated_at = ? WHERE id = ?",
                    [(SENT, tx_hash, now, i) for i in ids],
                )
            self._queued -= len(ids)

    def record_outcomes(self, tx_hash: str, block: int, outcomes: dict[str, Outcome]) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute("UPDATE txs SET status = 'mined' WHERE hash = ?", (tx_hash,))
            db.executemany(
                "UPDATE messages SET status = ?, block = ?, detail = ?, updated_at = ?"
                " WHERE id = ?",
                [(o.status, block, o.detail, now, i) for i, o in outcomes.items()],
            )

    def reject(self, ids: Sequence[str], detail: str) -> None:
        now = time.time()
        with self._lock:
            with self._transaction() as db:
                db.executemany(
                    "UPDATE messages SET status = ?, detail = ?, updated_at = ? WHERE id = ?",
                    [(REJECTED, detail, now, i) for i in ids],
                )
            self._queued -= len(ids)

    def requeue_tx(self, tx_hash: str) -> int:
        """The chain lost this tx: put its messages back in the queue, forget the tx."""
        now = time.time()
        with self._lock:
            with self._transaction() as db:
                cur = db.execute(
                    "UPDATE messages SET status = ?, tx_hash = NULL, updated_at = ?"
                    " WHERE tx_hash = ? AND status = ?",
                    (QUEUED, now, tx_hash, SENT),
                )
                db.execute("UPDATE txs SET status = 'dropped' WHERE hash = ?", (tx_hash,))
            self._queued += cur.rowcount
        return cur.rowcount

    def mined_since(self, block: int) -> list[tuple[str, int]]:
        """(hash, block) of the txs settled at or above `block`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t.hash, MAX(m.block) FROM txs t JOIN messages m ON m.tx_hash = t.hash"
                " WHERE t.status = 'mined' AND m.block >= ? GROUP BY t.hash ORDER BY MAX(m.block)",
                (block,),
            ).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def unsettle_tx(self, tx_hash: str) -> int:
        """A reorg took this mined tx off the chain: it and its messages are 'sent' again, so
        the relayer rebroadcasts it, or requeues its messages, as for any tx it lost."""
        now = time.time()
        with self._transaction() as db:
            db.execute("UPDATE txs SET status = ? WHERE hash = ?", (SENT, tx_hash))
            cur = db.execute(
                "UPDATE messages SET status = ?, block = NULL, detail = NULL, updated_at = ?"
                " WHERE tx_hash = ?",
                (SENT, now, tx_hash),
            )
        return cur.rowcount

    def sent_txs(self) -> list[tuple[str, int, bytes, float]]:
        """Recorded transactions not yet settled: (hash, nonce, raw, sent_at), by nonce."""
        with self._lock:
            rows = self._db.execute(
                "SELECT hash, nonce, raw, sent_at FROM txs WHERE status = ? ORDER BY nonce", (SENT,)
            ).fetchall()
        return [(r["hash"], r["nonce"], bytes(r["raw"]), r["sent_at"]) for r in rows]

    def messages_of(self, tx_hash: str) -> list[tuple[str, str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, payload FROM messages WHERE tx_hash = ? ORDER BY seq", (tx_hash,)
            ).fetchall()
        return [(r["id"], r["kind"], json.loads(r["payload"])) for r in rows]

    def close(self) -> None:
        self._inbox.put(None)
        self._writer.join(timeout=5)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._db.close()


# What a node says when it refuses a transaction for the sender's sake, not for what it does:
# the relayer's balance, nonce or fee, or the node's own load. Anything else it answers to a
# batch's simulation or broadcast is the batch's fault.
_RELAYER_FAULTS = (
    "insufficient funds",
    "nonce",
    "underpriced",
    "fee cap",
    "fee too low",
    "txpool",
    "already known",
    "rate limit",
    "too many requests",
)


def batch_at_fault(exc: Exception) -> bool:
    """Whether a failure to simulate or broadcast a batch is the batch's own (the contract
    reverts, the node refuses what it carries) rather than the relayer's or the node's."""
    if isinstance(exc, ContractCustomError | ContractLogicError):
        return True
    if isinstance(exc, Web3RPCError):
        message = str(exc).lower()
        return not any(fault in message for fault in _RELAYER_FAULTS)
    return False


class Relayer:
    """Batches queued messages into transactions signed by the relayer key; one thread."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        outbox: Outbox,
        kinds: Sequence[MessageRelay],
        *,
        decoder: ErrorDecoder | None = None,
        tx_gas_cap: int = TX_GAS_CAP,
        max_wait_s: float = 0.0,
        patience_s: float = 3.0,
        on_included: Callable[[str, int], None] | None = None,
    ) -> None:
        # Up to max_wait_s a message waits for company: full batches cost far less per message.
        self.max_wait_s = max_wait_s
        self.patience_s = patience_s
        self.w3 = w3
        self.account = account
        self.outbox = outbox
        self.kinds = {k.name: k for k in kinds}
        self.decoder = decoder or ErrorDecoder([])
        self.on_included = on_included
        self.chain_id = w3.eth.chain_id
        # No batch may need more gas than one transaction can carry on this node.
        self.tx_gas_cap = min(tx_gas_cap, int(w3.eth.get_block("latest")["gasLimit"]))
        self._nonce: int | None = None
        # A (kind, group) whose batch failed as a whole goes on in smaller batches (the sizes
        # to take next, halving toward the message at fault) and is simulated before each send
        # until one lands; a group whose lone message failed waits until its retry time.
        self._splits: dict[tuple[str, str], list[int]] = {}
        self._retry_at: dict[tuple[str, str], float] = {}
        # (number, hash) of the block of the newest settled batch: while that block is still on
        # the chain, so is every older one (each block commits to its parent).
        self._anchor: tuple[int, bytes] | None = None
        self._anchor_checked_at = -REORG_CHECK_INTERVAL_S
        self._reorg_checked = False

    def _next_nonce(self) -> int:
        # Asked of the chain only after a failure reset it; otherwise counted here.
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        return self._nonce

    def reconcile(self) -> int:
        """Settle every recorded tx: mined -> outcomes; lost -> rebroadcast or requeue. A
        settled tx that a reorg took off the chain counts as lost again."""
        self._undo_reorged()
        settled = 0
        chain_nonce: int | None = None
        now = time.time()
        for tx_hash, nonce, raw, sent_at in self.outbox.sent_txs():
            receipt = fetch_receipt(self.w3, tx_hash)
            if receipt is not None:
                self._settle(tx_hash, receipt)
                settled += 1
                continue
            if now - sent_at < self.patience_s:
                continue  # just sent: give the node time to mine it before suspecting a loss
            try:
                self.w3.eth.get_transaction(HexBytes(tx_hash))
                continue  # still pending in the node's pool
            except TransactionNotFound:
                pass
            if chain_nonce is None:
                chain_nonce = self.w3.eth.get_transaction_count(self.account.address, "latest")
            if nonce >= chain_nonce:
                try:
                    self.w3.eth.send_raw_transaction(raw)
                    log.info("rebroadcast %s (nonce %d)", tx_hash, nonce)
                    continue
                except Exception as exc:
                    log.warning("rebroadcast of %s failed: %s", tx_hash, exc)
            n = self.outbox.requeue_tx(tx_hash)
            self._nonce = None
            log.info("requeued %d messages of lost tx %s", n, tx_hash)
        return settled

    def _undo_reorged(self) -> None:
        """Find settled batches the chain no longer holds and put them back to 'sent'.

        One block lookup per check in the common case (the newest settled batch's block is
        unchanged); the receipts of the recent batches are read again only after a change, and
        once at start (a reorg may have happened while the relay was down)."""
        if time.monotonic() - self._anchor_checked_at < REORG_CHECK_INTERVAL_S:
            return
        self._anchor_checked_at = time.monotonic()
        if self._reorg_checked:
            if self._anchor is None:
                return
            number, block_hash = self._anchor
            try:
                if bytes(self.w3.eth.get_block(number)["hash"]) == block_hash:
                    return
            except BlockNotFound:
                pass  # the chain is now shorter than the anchor: a rewind
        # The walk can fail half way (the node goes away again: seen with a kill -9 during it).
        # Until it completes, the check stays due: the old anchor is restored on failure, and
        # the start-up walk is not marked done.
        previous = self._anchor
        self._anchor = None
        try:
            head = self.w3.eth.block_number
            for tx_hash, block in self.outbox.mined_since(max(0, head - REORG_DEPTH)):
                receipt = fetch_receipt(self.w3, tx_hash)
                if receipt is None:
                    n = self.outbox.unsettle_tx(tx_hash)
                    self._nonce = None
                    log.warning("batch %s (block %d) left the chain in a reorg: %d messages",
                                tx_hash, block, n)  # fmt: skip
                elif receipt["blockNumber"] != block:
                    self._settle(tx_hash, receipt)  # mined again, in another block
                else:
                    self._note_settled(receipt)
        except BaseException:
            self._anchor = previous
            raise
        self._reorg_checked = True

    def _note_settled(self, receipt: TxReceipt) -> None:
        number = int(receipt["blockNumber"])
        if self._anchor is None or number >= self._anchor[0]:
            self._anchor = (number, bytes(receipt["blockHash"]))

    def _settle(self, tx_hash: str, receipt: TxReceipt) -> None:
        self._note_settled(receipt)
        rows = self.outbox.messages_of(tx_hash)
        if receipt["status"] != 1:
            self._reverted(tx_hash, receipt, rows)
            return
        by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for i, kind, payload in rows:
            by_kind.setdefault(kind, []).append((i, payload))
        outcomes = {}
        for kind, items in by_kind.items():
            try:
                results = self.kinds[kind].outcomes(receipt, [p for _, p in items])
            except Exception as exc:
                log.exception("cannot read outcomes of %s in %s", kind, tx_hash)
                results = [Outcome(INCLUDED, f"included; outcome unreadable: {exc}")] * len(items)
            outcomes.update({i: o for (i, _), o in zip(items, results, strict=True)})
        self.outbox.record_outcomes(tx_hash, receipt["blockNumber"], outcomes)
        if self.on_included is not None:
            self.on_included(tx_hash, receipt["blockNumber"])

    def _reverted(
        self, tx_hash: str, receipt: TxReceipt, rows: list[tuple[str, str, dict[str, Any]]]
    ) -> None:
        """A batch mined but reverted as a whole: the messages it carried go back to the queue,
        to be sent again in halves simulated first, so the revert costs this one transaction and
        the message at fault is found for free; a lone message is rejected with the reason."""
        if len(rows) == 1:
            reason = self._revert_reason(tx_hash, receipt)
            self.outbox.record_outcomes(
                tx_hash, receipt["blockNumber"], {rows[0][0]: Outcome(REJECTED, reason)}
            )
            return
        self.outbox.requeue_tx(tx_hash)
        kind, group = rows[0][1], self._group_of(rows[0][0])
        self._split((kind, group), len(rows))
        log.warning(
            "batch %s of %d %s messages reverted on-chain (block %d); sending it in halves",
            tx_hash, len(rows), kind, receipt["blockNumber"],
        )  # fmt: skip

    def _revert_reason(self, tx_hash: str, receipt: TxReceipt) -> str:
        """The contract's reason for a reverted transaction, by replaying it on the state it
        met (the previous block's), else a plain statement."""
        try:
            tx = self.w3.eth.get_transaction(HexBytes(tx_hash))
            call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
            self.w3.eth.call(call, int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            data = revert_data(exc)
            decoded = self.decoder.decode(data) if data else None
            if decoded is not None:
                return f"transaction reverted: {decoded[0]}"
        except Exception:  # the replay is only a courtesy
            pass
        return "transaction reverted"

    def _group_of(self, receipt_id: str) -> str:
        return self.outbox.get(receipt_id).group

    # --- batches that fail ----------------------------------------------------------------------

    def _limit_of(self, kind: str, group: str) -> int | None:
        """How many of the group's oldest messages the next batch takes; None: not now."""
        key = (kind, group)
        if self._retry_at.get(key, 0.0) > time.monotonic():
            return None
        sizes = self._splits.get(key)
        return sizes[0] if sizes else self.kinds[kind].max_batch

    def _split(self, key: tuple[str, str], size: int) -> None:
        """A batch of `size` taken from the group failed: its halves go next."""
        self._splits[key] = [size // 2, size - size // 2, *self._splits.get(key, [])]

    def _failed(self, key: tuple[str, str], ids: list[str], reason: str, *, ruled: bool) -> None:
        """A batch could not be simulated, sent or mined. More than one message: split it. One
        message: the contract's own reason (`ruled`) rejects it at once; anything else is tried
        again later, and parked (rejected) after MAX_ATTEMPTS."""
        kind, group = key
        if len(ids) > 1:
            self._split(key, len(ids))
            log.warning("batch of %d %s (%s) failed: %s; splitting it", len(ids), kind, group,
                        reason)  # fmt: skip
            return
        attempts = MAX_ATTEMPTS if ruled else self.outbox.record_attempt(ids[0])
        if attempts >= MAX_ATTEMPTS:
            detail = reason if ruled else f"parked after {attempts} failed attempts: {reason}"
            self.outbox.reject(ids, detail)
            log.warning("%s message %s rejected: %s", kind, ids[0], detail)
            return
        delay = RETRY_BASE_S * 2 ** (attempts - 1)
        self._retry_at[key] = time.monotonic() + delay
        log.warning("%s message %s failed (%d of %d tries): %s; again in %.0f s",
                    kind, ids[0], attempts, MAX_ATTEMPTS, reason, delay)  # fmt: skip

    def send_one_batch(self) -> str | None:
        """Send the next batch. Returns its tx hash; "" when the batch failed (it was split,
        deferred or rejected, and the next one may go); None when nothing is ready to go."""
        batch = self.outbox.next_batch(self._limit_of, self.max_wait_s)
        if batch is None:
            return None
        kind_name, group, items = batch
        kind = self.kinds[kind_name]
        key = (kind_name, group)
        # Packed by the gas its messages may need: never more than a transaction can carry.
        bound, fits = kind.base_gas, 0
        for _, payload in items:
            need = kind.gas_bound(payload)
            if bound + need > self.tx_gas_cap and fits:
                break
            bound += need
            fits += 1
        items = items[:fits]
        bisecting = key in self._splits
        if bisecting:
            self._splits[key].pop(0)
            if not self._splits[key]:
                del self._splits[key]
        ids = [i for i, _ in items]
        call = kind.batch_call(group, [p for _, p in items])
        tx: dict[str, Any] = {"from": self.account.address, "to": call.to, "data": call.data}
        if call.gas is not None and not bisecting:
            # A known bound: no second execution of the batch just to size it.
            gas = call.gas
        else:
            try:
                gas = self.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
            except Exception as exc:
                if not batch_at_fault(exc):
                    raise
                ruled, reason = self._reason(exc)
                self._failed(key, ids, f"simulation failed: {reason}", ruled=ruled)
                return ""
            gas = gas * 5 // 4 + 50_000
        nonce = self._next_nonce()
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        tip = self.w3.eth.max_priority_fee if base_fee else 0
        tx |= {
            "nonce": nonce,
            "chainId": self.chain_id,
            # Never below the bound: a simulation meets the chain as it is now, and a message
            # that was stale then (a forward request whose nonce a pending batch is about to
            # use) may need all its gas once mined — short of it, the forwarder reverts it all.
            "gas": min(self.tx_gas_cap, max(gas, bound)),
            "maxFeePerGas": 2 * base_fee + tip,
            "maxPriorityFeePerGas": tip,
        }
        del tx["from"]
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        self.outbox.record_sent(ids, tx_hash, nonce, bytes(signed.raw_transaction))
        try:
            self._broadcast(bytes(signed.raw_transaction))
        except Exception as exc:
            self._nonce = None
            if not batch_at_fault(exc):
                # The relayer's own trouble (the node away, out of gas money): the recorded tx
                # is broadcast again, or its messages requeued, by reconcile.
                log.warning("broadcast of %s failed: %s", tx_hash, exc)
                return tx_hash
            # The node refuses this transaction for what it carries: it will never go.
            self.outbox.requeue_tx(tx_hash)
            self._failed(key, ids, f"the node refused the batch: {exc}", ruled=False)
            return ""
        self._nonce = nonce + 1
        return tx_hash

    def _reason(self, exc: Exception) -> tuple[bool, str]:
        """(whether the contract named the rule, the reason) of a failed simulation."""
        reverted = isinstance(exc, ContractCustomError | ContractLogicError)
        data = revert_data(exc) if reverted else None
        decoded = self.decoder.decode(data) if data else None
        if decoded is not None:
            return True, decoded[0]
        return False, str(exc)

    def _broadcast(self, raw: bytes) -> None:
        self.w3.eth.send_raw_transaction(raw)

    def step(self, max_batches: int = 4) -> int:
        """One round: settle what was sent, then send up to `max_batches` of what is queued.
        Bounded, so that under sustained load settling keeps pace with sending."""
        self.reconcile()
        sent = 0
        while sent < max_batches and self.send_one_batch() is not None:
            sent += 1
        return sent

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        failures = 0
        while not stop.is_set():
            try:
                busy = self.step() > 0
            except Exception as exc:
                failures += 1
                log_retry(log, "relay step", failures, 1.0, exc)
                stop.wait(1.0)
                continue
            failures = 0
            # Even when busy, pause a little: what was just sent needs a moment to be mined, and
            # asking for its receipt at once only spends the GIL the API needs.
            stop.wait(min(interval, BUSY_PAUSE_S) if busy else interval)
