"""The durable outbox: signed messages in SQLite, acknowledged only once written.

A message is verified (signature, role, roll, window) and then written to SQLite (WAL,
synchronous=FULL) *before* it is acknowledged. Writes are group-committed by one writer thread,
so one fsync covers every message that arrived meanwhile. The relayer (ledger/relay/relayer.py)
takes queued messages from here in batches and records each transaction before it broadcasts it.

Receipt status: queued -> sent -> included (block, tx) -> counted | rejected (reason).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ledger.config import Settings
from ledger.errors import QueueFull, RelayError, UnknownReceipt
from ledger.relay.message import QUEUED, REJECTED, SENT, Message, Outcome, Receipt

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


class Batched(NamedTuple):
    """A message as a sent transaction carries it."""

    id: str
    kind: str
    group: str
    payload: dict[str, Any]


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


class Outbox:
    """The SQLite outbox. Thread-safe; `submit` returns once the message is durable."""

    def __init__(
        self,
        path: Path,
        settings: Settings,
        *,
        checkpoints: bool = True,
    ) -> None:
        """`checkpoints=False`: this connection's commits never copy the WAL back into the
        database, so an acknowledgement never waits for that; another connection to the file
        (the worker's, whose commits nobody waits on) must keep checkpointing."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_queued = settings.relay_max_queued
        self.group_window_s = settings.relay_group_commit_s
        self.write_wait_s = settings.relay_write_wait_s
        self.lock_retry_s = settings.relay_lock_retry_s
        # Two processes write (the API accepts, ledger.worker sends): wait out the other's commit.
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=self.write_wait_s
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
        if the body raises. The other process's write lock is waited for in `lock_retry_s` steps,
        up to `write_wait_s`, rather than by SQLite's coarse busy handler."""
        with self._lock:
            self._db.execute("PRAGMA busy_timeout = 0")
            try:
                deadline = time.monotonic() + self.write_wait_s
                while True:
                    try:
                        self._db.execute("BEGIN IMMEDIATE")
                        break
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc) or time.monotonic() > deadline:
                            raise
                    time.sleep(self.lock_retry_s)
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {int(self.write_wait_s * 1000)}")
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

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._reader().execute(sql, params).fetchall()

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self._read("SELECT COUNT(*) AS n FROM messages")[0]["n"])
        return int(
            self._read("SELECT COUNT(*) AS n FROM messages WHERE status = ?", (status,))[0]["n"]
        )

    def in_flight(self, kind: str, signer: str) -> list[dict[str, Any]]:
        """Payloads of `signer` acknowledged but not yet settled, oldest first."""
        rows = self._read(
            "SELECT payload FROM messages WHERE kind = ? AND signer = ? AND status IN (?, ?)"
            " ORDER BY seq",
            (kind, signer, QUEUED, SENT),
        )
        return [json.loads(r["payload"]) for r in rows]

    def pending(self, kind: str, newest: int = 100) -> list[dict[str, Any]]:
        """Payloads of `kind` acknowledged but not yet settled, oldest first: the `newest` of
        them (the older ones are the next to go out)."""
        rows = self._read(
            "SELECT payload FROM (SELECT seq, payload FROM messages WHERE kind = ?"
            " AND status IN (?, ?) ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (kind, QUEUED, SENT, newest),
        )
        return [json.loads(r["payload"]) for r in rows]

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
        rows = self._read(
            "SELECT rowid AS position, * FROM messages WHERE rowid > ? AND ack IS NOT NULL"
            " AND accepted_at >= ? ORDER BY rowid LIMIT ?",
            (after, since, limit),
        )
        return [(int(r["position"]), _row_to_receipt(r), json.loads(r["payload"])) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._read("SELECT status, COUNT(*) AS n FROM messages GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

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

    def messages_of(self, tx_hash: str) -> list[Batched]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, grp, payload FROM messages WHERE tx_hash = ? ORDER BY seq",
                (tx_hash,),
            ).fetchall()
        return [Batched(r["id"], r["kind"], r["grp"], json.loads(r["payload"])) for r in rows]

    def close(self) -> None:
        self._inbox.put(None)
        self._writer.join(timeout=5)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._db.close()
