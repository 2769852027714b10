"""Follow our contracts' events into SQLite for fast reads; survive restarts and reorgs.

The index is a cache of the chain, never a source of truth (the audit reads the chain itself),
so it must never show what the chain no longer says:

- Every indexed block is stored with its hash and parent hash. Before a range is appended its
  first block must link to the stored head, and on every round the stored head must still be
  on the chain; otherwise the index walks back to the highest stored block the chain still has
  (the fork point), deletes everything above it and indexes the new history. This covers a
  reorg, and the embedded anvil restarting from an older snapshot and growing a different
  history (which is what a reorg looks like from here), including a head now *below* ours.
- A range (its blocks and their events) is written in one SQLite transaction, so a crash leaves
  the database at a range boundary and the next `sync` resumes from what is stored.
- Decoding is deterministic and the rows carry nothing local (no insertion ids or times), so a
  rebuild and an incremental sync produce identical tables: `fingerprint()` proves it.

Block headers are read with JSON-RPC batch requests, which web3's request cache never serves:
with `cache_allowed_requests=True` (see `node.make_web3`) web3 caches `eth_getBlockByNumber`
for blocks stamped more than an hour ago (its threshold for chain ids it does not know), and a
cached hash would hide a rewind below them.

Args are stored as JSON in ABI order with integers as decimal strings (uint256 does not fit
SQLite's integers or JSON doubles), bytes as 0x-hex, addresses checksummed, structs as objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from hexbytes import HexBytes
from web3 import Web3

from ledger.errors import IndexerError, IndexInconsistent, NodeError
from ledger.hashing import checksum_address, keccak
from ledger.node import rpc
from ledger.transport import log_retry

if TYPE_CHECKING:
    from ledger.deploy import Deployment

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
UNKNOWN = "Unknown"
# Headers per JSON-RPC batch: large enough to be cheap, small enough for any node's limits.
HEADER_BATCH = 500
# Blocks compared per step when walking back to a fork point.
FORK_WINDOW = 128
# A range is retried this many times while the chain moves under it before sync gives up.
MAX_CHAIN_MOVES = 8
MAX_FOLLOW_BACKOFF_S = 30.0
# Each check round compares the newest blocks and the next slice of the whole history, each
# at most CHECK_EVENTS events: ~80 us an event (decoded from the chain's logs, digested on both
# sides), so a round every 10 s (the default) costs a busy index a fiftieth of a core.
CHECK_RECENT_BLOCKS = 64
CHECK_SWEEP_BLOCKS = 512
CHECK_EVENTS = 1000
INCONSISTENT = "inconsistent"

AbiItem = Mapping[str, Any]
ContractSpec = tuple[str, Sequence[AbiItem]]
EventNames = str | Sequence[str] | None

_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNKNOWN_INPUTS: tuple[AbiItem, ...] = (
    {"name": "topics", "type": "bytes32[]"},
    {"name": "data", "type": "bytes"},
)

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

_EVENT_COLUMNS = (
    "block_number, log_index, block_hash, tx_hash, tx_index, timestamp, "
    "contract, address, event, signature, args"
)


class _ChainMoved(Exception):
    """The chain changed while a range was being read; read it again."""


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexedEvent:
    """One decoded log. `args` holds Python values (int, bytes, str, bool, dict for structs,
    list for arrays); `json_args` the same args as stored, safe for JSON (ints as decimal
    strings, bytes as 0x-hex). Unknown logs have `event == "Unknown"` and args `topics`, `data`.
    """

    block_number: int
    log_index: int
    block_hash: str
    tx_hash: str
    tx_index: int
    timestamp: int
    contract: str
    address: str
    event: str
    signature: str
    args: dict[str, Any]
    json_args: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class SyncResult:
    """What one `sync` did: blocks and events appended, blocks rolled back off a dead fork."""

    head: int | None
    blocks: int = 0
    events: int = 0
    rolled_back: int = 0
    ranges: int = 0


class _Header(NamedTuple):
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class DecodedLog(NamedTuple):
    event: str
    signature: str
    args: dict[str, Any]  # JSON form


# -- ABI values <-> JSON ------------------------------------------------------------------------


def _canonical_type(item: AbiItem) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _arg_name(item: AbiItem, position: int) -> str:
    return str(item.get("name") or f"arg{position}")


def _element(item: AbiItem) -> AbiItem:
    kind = str(item["type"])
    return {**item, "type": kind[: kind.rindex("[")]}


def _to_json(item: AbiItem, value: Any) -> Any:
    """An ABI value (as eth_abi decodes it, or as a caller writes it) in its stored JSON form."""
    kind = str(item["type"])
    if kind.endswith("]"):
        if isinstance(value, str | bytes | bytearray) or not isinstance(value, Sequence):
            raise ValueError(f"{kind} needs a list, got {value!r}")
        element = _element(item)
        return [_to_json(element, v) for v in value]
    if kind == "tuple":
        components = item["components"]
        if isinstance(value, Mapping):
            value = [value[_arg_name(c, i)] for i, c in enumerate(components)]
        if len(value) != len(components):
            raise ValueError(f"struct needs {len(components)} fields, got {value!r}")
        return {
            _arg_name(c, i): _to_json(c, v)
            for i, (c, v) in enumerate(zip(components, value, strict=True))
        }
    if kind.startswith(("uint", "int")):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{kind} needs an int, got {value!r}")
        return str(int(value))
    if kind.startswith(("ufixed", "fixed")):
        return str(Decimal(value))
    if kind.startswith("bytes"):
        if not isinstance(value, str | bytes | bytearray):
            raise ValueError(f"{kind} needs bytes, got {value!r}")
        return "0x" + bytes(HexBytes(value)).hex()
    if kind == "address":
        return checksum_address(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"bool needs a bool, got {value!r}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"string needs a str, got {value!r}")
        return value
    raise ValueError(f"unsupported ABI type {kind}")


def _from_json(item: AbiItem, value: Any) -> Any:
    kind = str(item["type"])
    if kind.endswith("]"):
        element = _element(item)
        return [_from_json(element, v) for v in value]
    if kind == "tuple":
        return {
            _arg_name(c, i): _from_json(c, value[_arg_name(c, i)])
            for i, c in enumerate(item["components"])
        }
    if kind.startswith(("uint", "int")):
        return int(value)
    if kind.startswith(("ufixed", "fixed")):
        return Decimal(value)
    if kind.startswith("bytes"):
        return bytes.fromhex(value[2:])
    return value


def _is_dynamic(item: AbiItem) -> bool:
    kind = str(item["type"])
    return kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("tuple")


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- decoding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EventSpec:
    name: str
    signature: str
    topic0: bytes
    # As stored: an indexed dynamic value is only its keccak hash in the topic, hence bytes32.
    stored_inputs: tuple[AbiItem, ...]
    names: tuple[str, ...]
    indexed: tuple[bool, ...]
    topic_types: tuple[str, ...]
    data_types: tuple[str, ...]


class EventDecoder:
    """Decodes the logs of one contract with its ABI; a log it cannot name becomes Unknown."""

    def __init__(self, abi: Sequence[AbiItem]) -> None:
        self._by_topic: dict[tuple[bytes, int], _EventSpec] = {}
        self.specs: dict[str, _EventSpec] = {}
        for item in abi:
            # An anonymous event has no signature topic: nothing identifies its logs.
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            inputs = list(item.get("inputs", []))
            signature = f"{item['name']}({','.join(_canonical_type(i) for i in inputs)})"
            indexed = tuple(bool(i.get("indexed")) for i in inputs)
            spec = _EventSpec(
                name=str(item["name"]),
                signature=signature,
                topic0=keccak(signature.encode()),
                stored_inputs=tuple(
                    {"name": i.get("name", ""), "type": "bytes32"} if x and _is_dynamic(i) else i
                    for i, x in zip(inputs, indexed, strict=True)
                ),
                names=tuple(_arg_name(i, n) for n, i in enumerate(inputs)),
                indexed=indexed,
                topic_types=tuple(
                    "bytes32" if _is_dynamic(i) else _canonical_type(i)
                    for i, x in zip(inputs, indexed, strict=True)
                    if x
                ),
                data_types=tuple(
                    _canonical_type(i) for i, x in zip(inputs, indexed, strict=True) if not x
                ),
            )
            self._by_topic[(spec.topic0, 1 + len(spec.topic_types))] = spec
            self.specs[signature] = spec

    def decode(self, topics: Sequence[bytes], data: bytes) -> DecodedLog:
        spec = self._by_topic.get((bytes(topics[0]), len(topics))) if topics else None
        if spec is not None:
            try:
                topic_values = iter(
                    abi_decode([t], bytes(topic))[0]
                    for t, topic in zip(spec.topic_types, topics[1:], strict=True)
                )
                data_values = iter(abi_decode(list(spec.data_types), bytes(data)))
                args = {
                    name: _to_json(stored, next(topic_values) if x else next(data_values))
                    for name, stored, x in zip(
                        spec.names, spec.stored_inputs, spec.indexed, strict=True
                    )
                }
                return DecodedLog(spec.name, spec.signature, args)
            except DecodingError:
                pass  # same topic, other layout (e.g. a foreign contract's event): Unknown
        return DecodedLog(
            UNKNOWN,
            "0x" + bytes(topics[0]).hex() if topics else "",
            {"topics": ["0x" + bytes(t).hex() for t in topics], "data": "0x" + bytes(data).hex()},
        )

    def stored_inputs(self, signature: str) -> tuple[AbiItem, ...]:
        spec = self.specs.get(signature)
        return _UNKNOWN_INPUTS if spec is None else spec.stored_inputs


# -- the index --------------------------------------------------------------------------------


class EventIndex:
    """Events of the given contracts, from `start_block` to the chain head, in SQLite.

    `contracts` maps a key ("council", "fund", ...) to (address, abi). One thread syncs (or
    `follow`s); any thread may read. Reads and writes share one connection under a lock, so a
    reader never sees a half-written range or a half-done rollback.
    """

    def __init__(
        self,
        db_path: Path | str,
        w3: Web3,
        contracts: Mapping[str, ContractSpec],
        start_block: int,
    ) -> None:
        if start_block < 0:
            raise ValueError("start_block must be >= 0")
        self.db_path = Path(db_path)
        self.w3 = w3
        self.start_block = start_block
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
            _json_text({"start_block": start_block, "contracts": config}).encode()
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

    @classmethod
    def for_deployment(cls, db_path: Path | str, w3: Web3, deployment: Deployment) -> EventIndex:
        """The index of every contract of a deployment, from its first block."""
        contracts: dict[str, ContractSpec] = {
            key: (c.address, list(c.abi)) for key, c in deployment.contracts.items()
        }
        return cls(db_path, w3, contracts, deployment.start_block)

    # -- lifecycle --

    def close(self) -> None:
        """Close the database (stop `follow` first)."""
        with self._db_lock:
            self._conn.close()

    def __enter__(self) -> EventIndex:
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
                version = _meta(conn, "schema_version")
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
            stored_config = _meta(conn, "config")
            if stored_config != self._config_hash:
                # Other contracts, ABIs or start block: what is stored answers another question.
                if stored_config is not None:
                    log.warning("index %s was built for other contracts; rebuilding", self.db_path)
                conn.execute("DELETE FROM events")
                conn.execute("DELETE FROM blocks")
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('config', ?)", (self._config_hash,)
                )

    # -- syncing --

    def sync(self, to_block: int | None = None, batch: int = 2000) -> SyncResult:
        """Catch up with the chain (up to `to_block` if given), first undoing any blocks the
        chain no longer has. Safe to call again after any failure."""
        if batch < 1:
            raise ValueError("batch must be >= 1")
        with self._sync_lock:
            blocks = events = rolled_back = ranges = moves = 0
            while True:
                chain_head = self._chain_head()
                undone = self._reconcile(chain_head)
                rolled_back += undone
                stored = self.head()
                start = self.start_block if stored is None else stored + 1
                target = chain_head if to_block is None else min(to_block, chain_head)
                if start > target:
                    break
                end = min(start + batch - 1, target)
                parent = None if stored is None else self._stored_hash(stored)
                try:
                    headers, logs = self._fetch(start, end, parent)
                except _ChainMoved as moved:
                    moves = 0 if undone else moves + 1
                    if moves > MAX_CHAIN_MOVES:
                        raise IndexerError(
                            f"the chain kept changing while indexing blocks {start}-{end}: {moved}"
                        ) from moved
                    log.info(
                        "chain moved while reading blocks %d-%d (%s); again", start, end, moved
                    )
                    continue
                moves = 0
                events += self._append(headers, logs)
                blocks += len(headers)
                ranges += 1
            return SyncResult(
                head=self.head(),
                blocks=blocks,
                events=events,
                rolled_back=rolled_back,
                ranges=ranges,
            )

    def rebuild(self, batch: int = 2000) -> SyncResult:
        """Forget everything and index from `start_block` again."""
        with self._sync_lock:
            with self._transaction() as conn:
                conn.execute("DELETE FROM events")
                conn.execute("DELETE FROM blocks")
            result = self.sync(batch=batch)
            # Only now do reads resume: until the sync is done the index is not whole.
            with self._transaction() as conn:
                conn.execute("DELETE FROM meta WHERE key = ?", (INCONSISTENT,))
            return result

    def follow(self, stop: threading.Event, interval: float = 0.5, batch: int = 2000) -> None:
        """Sync every `interval` seconds until `stop` is set (run it in a background thread).

        A failed round (node down, RPC error) is logged and retried with backoff: the API must
        keep serving what is indexed while the chain is away.
        """
        failures = 0
        while not stop.is_set():
            delay = interval
            try:
                self.sync(batch=batch)
                failures = 0
            except Exception as exc:
                failures += 1
                delay = min(interval * 2 ** min(failures, 8), MAX_FOLLOW_BACKOFF_S)
                log_retry(log, "index sync", failures, delay, exc)
            stop.wait(delay)

    def _chain_head(self) -> int:
        return int(rpc(self.w3, "eth_blockNumber"), 16)

    def _reconcile(self, chain_head: int) -> int:
        """Roll back to the fork point if the stored head is no longer on the chain; returns
        the number of blocks rolled back."""
        stored = self.head()
        if stored is None:
            return 0
        probe = min(stored, chain_head)
        if probe == stored:
            chain = self._headers(range(stored, stored + 1), required=False)
            if chain and chain[0].hash == self._stored_hash(stored):
                return 0
        fork = self._fork_point(probe)
        with self._transaction() as conn:
            conn.execute("DELETE FROM events WHERE block_number > ?", (fork,))
            undone = conn.execute("DELETE FROM blocks WHERE number > ?", (fork,)).rowcount
        log.warning(
            "chain reorganised: rolled back %d blocks above %d (stored head was %d, chain head %d)",
            undone,
            fork,
            stored,
            chain_head,
        )
        return int(undone)

    def _fork_point(self, top: int) -> int:
        """The highest stored block at or below `top` whose hash the chain still has."""
        high = top
        while high >= self.start_block:
            low = max(self.start_block, high - FORK_WINDOW + 1)
            chain = {h.number: h.hash for h in self._headers(range(low, high + 1), required=False)}
            with self._db_lock:
                stored = dict(
                    self._conn.execute(
                        "SELECT number, hash FROM blocks WHERE number BETWEEN ? AND ?", (low, high)
                    ).fetchall()
                )
            for number in range(high, low - 1, -1):
                if number in stored and chain.get(number) == stored[number]:
                    return number
            high = low - 1
        return self.start_block - 1

    def _fetch(
        self, start: int, end: int, parent: str | None
    ) -> tuple[list[_Header], list[dict[str, Any]]]:
        """Headers and logs of [start, end], checked to be one piece of one chain."""
        headers = self._headers(range(start, end + 1), required=True)
        if parent is not None and headers[0].parent_hash != parent:
            raise _ChainMoved(f"block {start} does not extend the stored block {start - 1}")
        for older, newer in pairwise(headers):
            if newer.parent_hash != older.hash:
                raise _ChainMoved(f"block {newer.number} does not extend block {older.number}")
        logs = self._logs(start, end)
        by_number = {h.number: h.hash for h in headers}
        for entry in logs:
            number = int(entry["blockNumber"], 16)
            if by_number.get(number) != entry["blockHash"].lower():
                raise _ChainMoved(f"a log of block {number} is from another fork")
        # Logs read after the headers: the range is only ours if its last block did not change.
        again = self._headers(range(end, end + 1), required=True)
        if again[0].hash != headers[-1].hash:
            raise _ChainMoved(f"block {end} changed while its range was read")
        return headers, logs

    def _headers(self, numbers: range, *, required: bool) -> list[_Header]:
        """Block headers by number, via batch requests (never served from web3's cache).
        A block the chain does not have is skipped, or raises `_ChainMoved` if `required`."""
        headers: list[_Header] = []
        for chunk_start in range(numbers.start, numbers.stop, HEADER_BATCH):
            chunk = range(chunk_start, min(chunk_start + HEADER_BATCH, numbers.stop))
            for number, block in zip(chunk, self._get_blocks(chunk), strict=True):
                if block is None:
                    if required:
                        raise _ChainMoved(f"block {number} is not on the chain")
                    continue
                headers.append(
                    _Header(
                        number=int(block["number"], 16),
                        hash=str(block["hash"]).lower(),
                        parent_hash=str(block["parentHash"]).lower(),
                        timestamp=int(block["timestamp"], 16),
                    )
                )
        return headers

    def _get_blocks(self, numbers: range) -> list[dict[str, Any] | None]:
        requests: list[tuple[Any, Any]] = [
            ("eth_getBlockByNumber", [hex(n), False]) for n in numbers
        ]
        batch = getattr(self.w3.provider, "make_batch_request", None)
        try:
            if batch is None:
                raise NotImplementedError
            responses: Any = batch(requests)
        except NotImplementedError:
            # Providers without batching (may be served from web3's cache: see module doc).
            return [rpc(self.w3, "eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        if not isinstance(responses, list):
            raise NodeError(f"eth_getBlockByNumber batch failed: {responses.get('error')}")
        results: list[dict[str, Any] | None] = []
        for number, response in zip(numbers, responses, strict=True):
            if "error" in response:
                raise NodeError(f"eth_getBlockByNumber({number}) failed: {response['error']}")
            block = response.get("result")
            if block is not None and int(block["number"], 16) != number:
                raise NodeError(f"asked for block {number}, node answered {block['number']}")
            results.append(block)
        return results

    def _logs(self, start: int, end: int) -> list[dict[str, Any]]:
        query = {"address": self._addresses, "fromBlock": hex(start), "toBlock": hex(end)}
        try:
            logs: list[dict[str, Any]] = rpc(self.w3, "eth_getLogs", [query])
        except NodeError:
            # Nodes cap results per query: halve the range. A query that fails for another
            # reason fails again on its first single block, after log2(range) tries.
            if start == end:
                raise
            middle = (start + end) // 2
            return self._logs(start, middle) + self._logs(middle + 1, end)
        return logs

    def _rows(
        self, timestamps: Mapping[int, int], logs: Sequence[dict[str, Any]]
    ) -> Iterator[tuple[Any, ...]]:
        """The events table's rows for `logs`, in chain order: one function for indexing and
        for checking what is indexed."""
        ordered = sorted(logs, key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16)))
        for entry in ordered:
            address = str(entry["address"]).lower()
            key = self._key_by_address.get(address)
            if key is None:
                continue  # a node that ignores the address filter
            decoded = self._decoders[key].decode(
                [HexBytes(t) for t in entry["topics"]], HexBytes(entry["data"])
            )
            number = int(entry["blockNumber"], 16)
            yield (
                number,
                int(entry["logIndex"], 16),
                str(entry["blockHash"]).lower(),
                str(entry["transactionHash"]).lower(),
                int(entry["transactionIndex"], 16),
                timestamps[number],
                key,
                checksum_address(address),
                decoded.event,
                decoded.signature,
                _json_text(decoded.args),
            )

    def _append(self, headers: list[_Header], logs: list[dict[str, Any]]) -> int:
        """Store a range: its blocks and their events, in one transaction."""
        stored = 0

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal stored
            for row in self._rows({h.number: h.timestamp for h in headers}, logs):
                stored += 1
                yield row

        # Decoding happens inside the transaction: a failure anywhere in the range (a decoder
        # bug, a crash) leaves no block of it stored, so the range is redone as a whole.
        with self._transaction() as conn:
            conn.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?)", headers)
            conn.executemany(
                f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows(),
            )
        return stored

    # -- checking against the chain --

    def check(self, start: int, end: int) -> str | None:
        """None when the stored blocks [start, end] and their events are exactly what the
        chain's headers and logs make now; else what differs, first block first.

        Both sides are digested per block (keccak over the rows); a block the chain no longer
        has is a reorg for `sync` to roll back, not a disagreement. A digest stored beside the
        rows would be edited with them, so the chain's side is always read again."""
        with self._sync_lock:
            with self._db_lock:
                # One read transaction: the API process may write (its sync at start) meanwhile.
                self._conn.execute("BEGIN")
                try:
                    blocks, stored_rows = self._stored(start, end)
                finally:
                    self._conn.execute("COMMIT")
            if not blocks and not stored_rows:
                return None
            low, high = min(blocks, default=start), max(blocks, default=end)
            chain = {h.number: h for h in self._headers(range(low, high + 1), required=False)}
            same = {n for n, (h, _) in blocks.items() if n in chain and chain[n].hash == h}
            if len(same) < len(blocks) and self._head_on_chain():
                # A reorg replaces the blocks above its fork, the head among them: with the
                # head still on the chain, a lower block's other hash was written by hand.
                number = min(set(blocks) - same)
                return f"block {number}: the index stores another hash than the chain"
            for number in sorted(same):
                if blocks[number][1] != chain[number].timestamp:
                    return f"block {number}: the index stores another timestamp than the chain"
            logs = [e for e in self._logs(low, high) if int(e["blockNumber"], 16) in same]
            moved = any(
                str(e["blockHash"]).lower() != blocks[int(e["blockNumber"], 16)][0] for e in logs
            )
            if moved or self._headers(range(high, high + 1), required=False) != (
                [chain[high]] if high in chain else []
            ):
                return None  # the chain moved while it was read: sync's to follow, not ours
            expected = _digests(self._rows({n: chain[n].timestamp for n in same}, logs))
            found = _digests(tuple(r) for r in stored_rows if r[0] in same or r[0] not in blocks)
            for number in sorted(set(expected) | set(found)):
                ours, theirs = found.get(number), expected.get(number)
                if ours != theirs:
                    return (
                        f"block {number}: the index holds {ours[0] if ours else 0} events "
                        f"(digest {ours[1][:18] if ours else '-'}), the chain's logs make "
                        f"{theirs[0] if theirs else 0} (digest {theirs[1][:18] if theirs else '-'})"
                    )
            return None

    def _stored(
        self, start: int, end: int
    ) -> tuple[dict[int, tuple[str, int]], list[tuple[Any, ...]]]:
        blocks = {
            n: (h, t)
            for n, h, t in self._conn.execute(
                "SELECT number, hash, timestamp FROM blocks WHERE number BETWEEN ? AND ?",
                (start, end),
            )
        }
        rows = self._conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE block_number BETWEEN ? AND ? "
            "ORDER BY block_number, log_index",
            (start, end),
        ).fetchall()
        return blocks, rows

    def _head_on_chain(self) -> bool:
        head = self.head()
        if head is None:
            return False
        chain = self._headers(range(head, head + 1), required=False)
        return bool(chain) and chain[0].hash == self._stored_hash(head)

    def check_round(self, cursor: int) -> tuple[str | None, int]:
        """One cheap round: the newest blocks, and the slice of history from `cursor`, each at
        most CHECK_EVENTS events (a block more if one block holds more); returns (what differs
        or None, the cursor for the next round, wrapping round to the start)."""
        head = self.head()
        if head is None:
            return None, self.start_block
        with self._db_lock:
            beyond_recent = self._conn.execute(
                "SELECT block_number FROM events ORDER BY block_number DESC, log_index DESC "
                "LIMIT 1 OFFSET ?",
                (CHECK_EVENTS,),
            ).fetchone()
            beyond_sweep = self._conn.execute(
                "SELECT block_number FROM events WHERE block_number >= ? "
                "ORDER BY block_number, log_index LIMIT 1 OFFSET ?",
                (cursor, CHECK_EVENTS),
            ).fetchone()
        low = max(self.start_block, head - CHECK_RECENT_BLOCKS + 1)
        if beyond_recent is not None:
            low = min(head, max(low, int(beyond_recent[0]) + 1))
        problem = self.check(low, head)
        if problem is None:
            end = min(cursor + CHECK_SWEEP_BLOCKS - 1, head)
            if beyond_sweep is not None:
                end = max(cursor, min(end, int(beyond_sweep[0]) - 1))
            problem = self.check(cursor, end)
            cursor = end + 1 if end < head else self.start_block
        return problem, cursor

    def inconsistency(self) -> str | None:
        """Why the index is known to disagree with the chain, or None."""
        with self._db_lock:
            return _meta(self._conn, INCONSISTENT)

    def _require_consistent(self) -> None:
        # One primary-key read per query: the worker marks the index from another process.
        reason = _meta(self._conn, INCONSISTENT)
        if reason is not None:
            raise IndexInconsistent(
                f"the index disagrees with the chain ({reason}); it is being rebuilt"
            )

    def mark_inconsistent(self, reason: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (INCONSISTENT, reason))

    def watch(self, stop: threading.Event, interval: float) -> None:
        """Check the index against the chain every `interval` seconds until `stop`: a
        disagreement is marked at once (reads then answer `IndexInconsistent`), and the next
        round rebuilds the index from the chain, which clears the mark."""
        cursor, failures = self.start_block, 0
        while not stop.wait(interval):
            try:
                reason = self.inconsistency()
                if reason is not None:
                    log.warning("index disagrees with the chain (%s): rebuilding it", reason)
                    self.rebuild()
                    continue
                reason, cursor = self.check_round(cursor)
                if reason is not None:
                    log.error("index disagrees with the chain: %s", reason)
                    self.mark_inconsistent(reason)
                failures = 0
            except Exception as exc:
                failures += 1
                log_retry(log, "index check", failures, interval, exc)

    def _stored_hash(self, number: int) -> str | None:
        with self._db_lock:
            row = self._conn.execute("SELECT hash FROM blocks WHERE number = ?", (number,))
            found = row.fetchone()
        return None if found is None else str(found[0])

    # -- reads --

    def head(self) -> int | None:
        """The last indexed block, or None before the first sync."""
        with self._db_lock:
            row = self._conn.execute("SELECT MAX(number) FROM blocks").fetchone()
        return None if row[0] is None else int(row[0])

    def events(
        self,
        contract: str | None = None,
        event: EventNames = None,
        where: Mapping[str, Any] | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
        limit: int | None = 100,
        offset: int = 0,
        order: Literal["asc", "desc"] = "asc",
        *,
        tx_hash: str | None = None,
    ) -> list[IndexedEvent]:
        """Events in chain order (or reversed), filtered by contract key, event name, arg
        equality (`where={"communityId": 1, "from": "0x..."}`), block range and tx hash.
        `limit=None` returns all."""
        if order not in ("asc", "desc"):
            raise ValueError("order must be 'asc' or 'desc'")
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("limit and offset must be >= 0")
        clause, params = self._filters(contract, event, where, from_block, to_block, tx_hash)
        direction = order.upper()
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events{clause} "
            f"ORDER BY block_number {direction}, log_index {direction} LIMIT ? OFFSET ?"
        )
        with self._db_lock:
            self._require_consistent()
            rows = self._conn.execute(sql, [*params, -1 if limit is None else limit, offset])
            fetched = rows.fetchall()
        return [self._event(row) for row in fetched]

    def count(
        self,
        contract: str | None = None,
        event: EventNames = None,
        where: Mapping[str, Any] | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
        *,
        tx_hash: str | None = None,
    ) -> int:
        """How many events `events` would return without limit and offset."""
        clause, params = self._filters(contract, event, where, from_block, to_block, tx_hash)
        with self._db_lock:
            self._require_consistent()
            row = self._conn.execute(f"SELECT COUNT(*) FROM events{clause}", params).fetchone()
        return int(row[0])

    def sum_arg(
        self,
        contract: str | None,
        event: EventNames,
        arg: str,
        where: Mapping[str, Any] | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> int:
        """The exact sum of an integer arg over the matching events (0 if none)."""
        kinds = {str(item["type"]) for item in self._arg_items(contract, event, arg)}
        if not kinds or not all(k.startswith(("uint", "int")) and "[" not in k for k in kinds):
            raise ValueError(f"{event}.{arg} is not an integer argument (types: {kinds or '-'})")
        clause, params = self._filters(contract, event, where, from_block, to_block, None)
        sql = f"SELECT json_extract(args, ?) FROM events{clause}"
        with self._db_lock:
            self._require_consistent()
            values = self._conn.execute(sql, [_json_path(arg), *params]).fetchall()
        # Python ints: SQLite's SUM would overflow (or turn to floats) on uint256 amounts.
        return sum(int(v) for (v,) in values if v is not None)

    def fingerprint(self) -> str:
        """sha256 over every stored block and event, in chain order."""
        digest = hashlib.sha256()
        with self._db_lock:
            blocks = self._conn.execute(
                "SELECT number, hash, parent_hash, timestamp FROM blocks ORDER BY number"
            )
            for row in blocks:
                digest.update(_json_text(list(row)).encode() + b"\n")
            digest.update(b"events\n")
            events = self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY block_number, log_index"
            )
            for row in events:
                digest.update(_json_text(list(row)).encode() + b"\n")
        return digest.hexdigest()

    def _event(self, row: tuple[Any, ...]) -> IndexedEvent:
        (number, log_index, block_hash, tx, tx_index, timestamp, key, address, name, sig, args) = (
            row
        )
        stored = json.loads(args)
        decoder = self._decoders.get(key)
        inputs = decoder.stored_inputs(sig) if decoder is not None else _UNKNOWN_INPUTS
        values = {
            _arg_name(item, i): _from_json(item, stored[_arg_name(item, i)])
            for i, item in enumerate(inputs)
        }
        return IndexedEvent(
            block_number=number,
            log_index=log_index,
            block_hash=block_hash,
            tx_hash=tx,
            tx_index=tx_index,
            timestamp=timestamp,
            contract=key,
            address=address,
            event=name,
            signature=sig,
            args=values,
            json_args=stored,
        )

    def _arg_items(self, contract: str | None, event: EventNames, arg: str) -> list[AbiItem]:
        """The ABI inputs named `arg` of the events that match (to encode filter values)."""
        if contract is None:
            decoders = list(self._decoders.values())
        else:
            decoders = [self._decoders[contract]] if contract in self._decoders else []
        items: list[AbiItem] = []
        for decoder in decoders:
            names = _names(event)
            for spec in decoder.specs.values():
                if names is None or spec.name in names:
                    items += [
                        i for n, i in zip(spec.names, spec.stored_inputs, strict=True) if n == arg
                    ]
        if UNKNOWN in (_names(event) or ()):
            items += [i for i in _UNKNOWN_INPUTS if i["name"] == arg]
        return items

    def _filters(
        self,
        contract: str | None,
        event: EventNames,
        where: Mapping[str, Any] | None,
        from_block: int | None,
        to_block: int | None,
        tx_hash: str | None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        names = _names(event)
        if names is not None:
            clauses.append(f"event IN ({', '.join('?' for _ in names)})")
            params += names
        for column, op, value in (
            ("contract", "=", contract),
            ("block_number", ">=", from_block),
            ("block_number", "<=", to_block),
            ("tx_hash", "=", tx_hash.lower() if tx_hash is not None else None),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        for arg, value in (where or {}).items():
            if not _ARG_NAME.match(arg):
                raise ValueError(f"bad argument name {arg!r}")
            items = self._arg_items(contract, event, arg)
            if not items:
                raise ValueError(f"no indexed event {event or '(any)'} has an argument {arg!r}")
            encoded: list[Any] = []
            for item in items:
                try:
                    value_json = _to_json(item, value)
                except (ValueError, TypeError):
                    continue
                # json_extract gives objects and arrays as JSON text, true/false as 1/0.
                sql_value = (
                    _json_text(value_json) if isinstance(value_json, dict | list) else value_json
                )
                if sql_value not in encoded:
                    encoded.append(sql_value)
            if not encoded:
                kinds = sorted({str(i["type"]) for i in items})
                raise ValueError(f"{arg}={value!r} fits none of its types {kinds}")
            marks = ", ".join("?" for _ in encoded)
            clauses.append(f"json_extract(args, ?) IN ({marks})")
            params += [_json_path(arg), *encoded]
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _names(event: EventNames) -> tuple[str, ...] | None:
    """One event name or several (matched as alternatives), or None for any."""
    if event is None:
        return None
    return (event,) if isinstance(event, str) else tuple(event)


def _json_path(arg: str) -> str:
    return f'$."{arg}"'


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _digests(rows: Iterable[tuple[Any, ...]]) -> dict[int, tuple[int, str]]:
    """Per block: (events, keccak over their rows in order)."""
    out: dict[int, tuple[int, bytes]] = {}
    for row in rows:
        count, digest = out.get(row[0], (0, b""))
        out[row[0]] = (count + 1, keccak(digest + _json_text(list(row)).encode()))
    return {n: (c, "0x" + d.hex()) for n, (c, d) in out.items()}


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])
