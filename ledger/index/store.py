"""The index's SQLite file: its schema, its one connection, and the mark of an inconsistency.

A range (its blocks and their events) is written in one SQLite transaction, so a crash leaves
the database at a range boundary and the next sync resumes from what is stored. An older layout
or an index built for other contracts is dropped and rebuilt: the index is only a cache of the
chain.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from web3 import Web3

from ledger.config import Settings
from ledger.errors import IndexInconsistent
from ledger.hashing import checksum_address
from ledger.index.codec import AbiItem, EventDecoder, json_text

log = logging.getLogger("ledger.index")

SCHEMA_VERSION = 1
INCONSISTENT = "inconsistent"
ContractSpec = tuple[str, Sequence[AbiItem]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    parent_hash TEXT NOT NULL,
    timestamp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    tx_index INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    contract TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    signature TEXT NOT NULL,
    args TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_contract_event
    ON events (contract, event, block_number, log_index);
CREATE INDEX IF NOT EXISTS events_by_event ON events (event, block_number, log_index);
CREATE INDEX IF NOT EXISTS events_by_tx ON events (tx_hash);
"""

EVENT_COLUMNS = (
    "block_number, log_index, block_hash, tx_hash, tx_index, timestamp, "
    "contract, address, event, signature, args"
)


class IndexStore:
    """The stored blocks and events of the given contracts, from `start_block`.

    `contracts` maps a key ("council", "fund", ...) to (address, abi). Reads and writes share
    one connection under a lock, so a reader never sees a half-written range or a half-done
    rollback.
    """

    def __init__(
        self,
        db_path: Path | str,
        w3: Web3,
        contracts: Mapping[str, ContractSpec],
        start_block: int,
        settings: Settings,
    ) -> None:
        if start_block < 0:
            raise ValueError("start_block must be >= 0")
        self.db_path = Path(db_path)
        self.w3 = w3
        self.start_block = start_block
        self.settings = settings
        self._decoders: dict[str, EventDecoder] = {}
        self._key_by_address: dict[str, str] = {}
        config: dict[str, Any] = {}
        for key, (address, abi) in sorted(contracts.items()):
            checksum = checksum_address(address)
            if checksum.lower() in self._key_by_address:
                raise ValueError(
                    f"{key} and {self._key_by_address[checksum.lower()]} share {address}"
                )
            self._key_by_address[checksum.lower()] = key
            self._decoders[key] = EventDecoder(abi)
            config[key] = {"address": checksum, "abi": list(abi)}
        self._addresses = [checksum_address(a) for a in sorted(self._key_by_address)]
        self._config_hash = hashlib.sha256(
            json_text({"start_block": start_block, "contracts": config}).encode()
        ).hexdigest()
        self._db_lock = threading.RLock()
        self._sync_lock = threading.RLock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: every transaction below is an explicit BEGIN IMMEDIATE ... COMMIT.
        self._conn = sqlite3.connect(
            self.db_path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._open_schema()

    # -- lifecycle --

    def close(self) -> None:
        """Close the database (stop `follow` first)."""
        with self._db_lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands, or none of it."""
        with self._db_lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _open_schema(self) -> None:
        with self._transaction() as conn:
            if _table_exists(conn, "meta"):
                version = meta_value(conn, "schema_version")
                if version != str(SCHEMA_VERSION):
                    # An older layout is only a cache of the chain: drop it and re-index.
                    log.warning("index %s has schema %s; rebuilding", self.db_path, version)
                    for table in ("events", "blocks", "meta"):
                        conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            stored_config = meta_value(conn, "config")
            if stored_config != self._config_hash:
                # Other contracts, ABIs or start block: what is stored answers another question.
                if stored_config is not None:
                    log.warning("index %s was built for other contracts; rebuilding", self.db_path)
                conn.execute("DELETE FROM events")
                conn.execute("DELETE FROM blocks")
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('config', ?)", (self._config_hash,)
                )

    def inconsistency(self) -> str | None:
        """Why the index is known to disagree with the chain, or None."""
        with self._db_lock:
            return meta_value(self._conn, INCONSISTENT)

    def _require_consistent(self) -> None:
        # One primary-key read per query: the worker marks the index from another process.
        reason = meta_value(self._conn, INCONSISTENT)
        if reason is not None:
            raise IndexInconsistent(
                f"the index disagrees with the chain ({reason}); it is being rebuilt"
            )

    def mark_inconsistent(self, reason: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (INCONSISTENT, reason))

    def _stored_hash(self, number: int) -> str | None:
        with self._db_lock:
            row = self._conn.execute("SELECT hash FROM blocks WHERE number = ?", (number,))
            found = row.fetchone()
        return None if found is None else str(found[0])

    def head(self) -> int | None:
        """The last indexed block, or None before the first sync."""
        with self._db_lock:
            row = self._conn.execute("SELECT MAX(number) FROM blocks").fetchone()
        return None if row[0] is None else int(row[0])


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def meta_value(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])
