"""Off-chain records the chain only holds hashes of: proposal texts, and the registrar's link
between roll addresses and people; the residents' signed requests to join a roll, until the
registrar adds them; and members' display names (personal data: never on-chain, never in logs)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from ledger.names import search_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS texts (
    hash TEXT PRIMARY KEY, body TEXT NOT NULL, stored_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_services (
    id TEXT PRIMARY KEY,          -- the record id (EIP-712 struct hash)
    community INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,           -- the provider-signed record, as JSON
    created_at REAL NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pending_by_recipient ON pending_services (recipient, confirmed);
CREATE INDEX IF NOT EXISTS pending_by_provider
    ON pending_services (json_extract(body, '$.record.provider'), confirmed);
CREATE TABLE IF NOT EXISTS people (
    community INTEGER NOT NULL,
    address TEXT NOT NULL,
    person TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (community, address)
);
CREATE TABLE IF NOT EXISTS display_names (
    community INTEGER NOT NULL,
    address TEXT NOT NULL,        -- checksummed
    name TEXT NOT NULL,           -- as its owner set it (ledger/names.py normalise_name)
    search TEXT NOT NULL,         -- ledger/names.py search_key(name)
    updated_at REAL NOT NULL,
    PRIMARY KEY (community, address)
);
"""


def text_hash(body: str) -> str:
    """keccak256 of the UTF-8 text: what a proposal's textHash commits to."""
    return "0x" + keccak(text=body).hex()


@dataclass(frozen=True)
class Person:
    community: int
    address: str
    person: str
    recorded_by: str
    recorded_at: float


JOINS_SCHEMA = """
CREATE TABLE IF NOT EXISTS joins (
    digest TEXT PRIMARY KEY,      -- the EIP-712 digest the resident signed
    code TEXT NOT NULL,           -- its short code, XXXX-XXXX
    community INTEGER NOT NULL,
    resident TEXT NOT NULL,       -- checksummed
    issued_at INTEGER NOT NULL,
    signature TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS joins_by_code ON joins (community, code);
"""


@dataclass(frozen=True)
class StoredJoin:
    """A join request as stored: whether it is still pending is the roll's to say."""

    digest: str
    code: str
    community: int
    resident: str
    issued_at: int
    signature: str
    received_at: float


@dataclass(frozen=True)
class DisplayName:
    community: int
    address: str
    name: str
    updated_at: float


class OffchainStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._db.executescript(JOINS_SCHEMA)
        self._text_bytes: int | None = None
        self._lock = threading.Lock()

    def put_text(self, body: str) -> str:
        digest = text_hash(body)
        with self._lock:
            added = self._db.execute(
                "INSERT OR IGNORE INTO texts (hash, body, stored_at) VALUES (?,?,?)",
                (digest, body, time.time()),
            ).rowcount
            if added and self._text_bytes is not None:
                self._text_bytes += len(body.encode("utf-8", "surrogatepass"))
        return digest

    def text_bytes(self) -> int:
        """The UTF-8 size of every stored text (counted once, then kept up to date)."""
        with self._lock:
            if self._text_bytes is None:
                row = self._db.execute(
                    "SELECT COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0) FROM texts"
                ).fetchone()
                self._text_bytes = int(row[0])
            return self._text_bytes

    def get_text(self, digest: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM texts WHERE hash = ?", (digest.lower(),)
            ).fetchone()
        return None if row is None else str(row[0])

    def put_person(self, community: int, address: str, person: str, recorded_by: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO people VALUES (?,?,?,?,?)",
                (community, address, person, recorded_by, time.time()),
            )

    def get_person(self, community: int, address: str) -> Person | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM people WHERE community = ? AND address = ?", (community, address)
            ).fetchone()
        return None if row is None else Person(*row)

    def people(self, community: int, limit: int, offset: int) -> tuple[list[Person], int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM people WHERE community = ? ORDER BY address LIMIT ? OFFSET ?",
                (community, limit, offset),
            ).fetchall()
            total = self._db.execute(
                "SELECT COUNT(*) FROM people WHERE community = ?", (community,)
            ).fetchone()[0]
        return [Person(*r) for r in rows], int(total)

    def put_pending(
        self, record_id: str, community: int, recipient: str, body: dict[str, Any]
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO pending_services"
                " (id, community, recipient, body, created_at) VALUES (?,?,?,?,?)",
                (record_id, community, recipient, json.dumps(body), time.time()),
            )

    def get_pending(self, record_id: str) -> tuple[dict[str, Any], float, bool] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body, created_at, confirmed FROM pending_services WHERE id = ?",
                (record_id.lower(),),
            ).fetchone()
        return None if row is None else (json.loads(row[0]), float(row[1]), bool(row[2]))

    def pending_for(
        self, recipient: str, limit: int, offset: int
    ) -> tuple[list[tuple[str, dict[str, Any], float]], int]:
        """Records waiting for `recipient` to confirm (for the community account: coordinators)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, body, created_at FROM pending_services"
                " WHERE recipient = ? AND confirmed = 0 ORDER BY created_at LIMIT ? OFFSET ?",
                (recipient, limit, offset),
            ).fetchall()
            total = self._db.execute(
                "SELECT COUNT(*) FROM pending_services WHERE recipient = ? AND confirmed = 0",
                (recipient,),
            ).fetchone()[0]
        return [(r[0], json.loads(r[1]), float(r[2])) for r in rows], int(total)

    def pending_counts(self, provider: str, recipient: str) -> tuple[int, int]:
        """Unconfirmed records logged by `provider`, and waiting for `recipient` (both as
        stored: checksummed)."""
        with self._lock:
            by_provider = self._db.execute(
                "SELECT COUNT(*) FROM pending_services"
                " WHERE json_extract(body, '$.record.provider') = ? AND confirmed = 0",
                (provider,),
            ).fetchone()[0]
            by_recipient = self._db.execute(
                "SELECT COUNT(*) FROM pending_services WHERE recipient = ? AND confirmed = 0",
                (recipient,),
            ).fetchone()[0]
        return int(by_provider), int(by_recipient)

    def mark_confirmed(self, record_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE pending_services SET confirmed = 1 WHERE id = ?", (record_id,))

    # --- join requests ---------------------------------------------------------------------

    def put_join(self, join: StoredJoin) -> bool:
        """Store a verified join request; False when its digest was stored before."""
        with self._lock:
            added = self._db.execute(
                "INSERT OR IGNORE INTO joins VALUES (?,?,?,?,?,?,?)",
                (join.digest, join.code, join.community, join.resident, join.issued_at,
                 join.signature, join.received_at),
            ).rowcount  # fmt: skip
        return bool(added)

    def get_join(self, digest: str) -> StoredJoin | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM joins WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else StoredJoin(*row)

    def joins_by_code(self, community: int, code: str) -> list[StoredJoin]:
        """Requests with this short code, newest first (two sharing a code: one in 10^12)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM joins WHERE community = ? AND code = ? ORDER BY received_at DESC",
                (community, code),
            ).fetchall()
        return [StoredJoin(*r) for r in rows]

    def joins(self, community: int) -> list[StoredJoin]:
        """Every stored request of a community, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM joins WHERE community = ? ORDER BY received_at, digest",
                (community,),
            ).fetchall()
        return [StoredJoin(*r) for r in rows]

    # --- display names ------------------------------------------------------------------------

    def put_name(self, community: int, address: str, name: str) -> DisplayName:
        """Set `address`'s name in `community` (already normalised: ledger/names.py)."""
        stored = DisplayName(community, address, name, time.time())
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO display_names VALUES (?,?,?,?,?)",
                (community, address, name, search_key(name), stored.updated_at),
            )
        return stored

    def get_name(self, community: int, address: str) -> DisplayName | None:
        with self._lock:
            row = self._db.execute(
                "SELECT community, address, name, updated_at FROM display_names"
                " WHERE community = ? AND address = ?",
                (community, address),
            ).fetchone()
        return None if row is None else DisplayName(*row)

    def find_names(self, community: int, query: str) -> list[DisplayName]:
        """Every name in `community` holding `query` (compared by search_key), by name then
        address; an empty query lists them all. (A community's names are a neighbourhood's:
        the caller keeps those of current members and pages them.)"""
        # instr, not LIKE: a query's % and _ are characters to find, not patterns.
        with self._lock:
            rows = self._db.execute(
                "SELECT community, address, name, updated_at FROM display_names"
                " WHERE community = ? AND instr(search, ?) > 0 ORDER BY search, address",
                (community, search_key(query)),
            ).fetchall()
        return [DisplayName(*r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
