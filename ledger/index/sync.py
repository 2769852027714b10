"""Following the chain into the index: appending ranges, rolling back reorgs, and the watch
that checks what is stored against the chain.

The index must never show what the chain no longer says:

- Every indexed block is stored with its hash and parent hash. Before a range is appended its
  first block must link to the stored head, and on every round the stored head must still be
  on the chain; otherwise the index walks back to the highest stored block the chain still has
  (the fork point), deletes everything above it and indexes the new history. This covers a
  reorg, and the embedded anvil restarting from an older snapshot and growing a different
  history (which is what a reorg looks like from here), including a head now *below* ours.
- A range (its blocks and their events) is written in one SQLite transaction, so a crash leaves

Block headers are read with JSON-RPC batch requests, which web3's request cache never serves:
with `cache_allowed_requests=True` (see `node.make_web3`) web3 caches `eth_getBlockByNumber`
for blocks stamped more than an hour ago (its threshold for chain ids it does not know), and a
cached hash would hide a rewind below them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

from hexbytes import HexBytes

from ledger.errors import IndexerError, NodeError
from ledger.hashing import checksum_address, keccak
from ledger.index.codec import json_text
from ledger.index.store import EVENT_COLUMNS, INCONSISTENT, IndexStore
from ledger.node import rpc
from ledger.transport import log_retry

log = logging.getLogger("ledger.index")


class _ChainMoved(Exception):
    """The chain changed while a range was being read; read it again."""


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


class IndexSync(IndexStore):
    """Brings the index up to the chain (one thread at a time) and checks it against the chain."""

    def sync(self, to_block: int | None = None, batch: int | None = None) -> SyncResult:
        """Catch up with the chain (up to `to_block` if given), first undoing any blocks the
        chain no longer has. Safe to call again after any failure."""
        batch = batch or self.settings.index_sync_batch
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
                    if moves > self.settings.index_max_chain_moves:
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

    def rebuild(self, batch: int | None = None) -> SyncResult:
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

    def follow(self, stop: threading.Event) -> None:
        """Sync every `index_interval_s` until `stop` is set (run it in a background thread).

        A failed round (node down, RPC error) is logged and retried with backoff: the API must
        keep serving what is indexed while the chain is away.
        """
        failures = 0
        while not stop.is_set():
            interval = delay = self.settings.index_interval_s
            try:
                self.sync()
                failures = 0
            except Exception as exc:
                failures += 1
                delay = min(interval * 2 ** min(failures, 8), self.settings.index_max_backoff_s)
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
            low = max(self.start_block, high - self.settings.index_fork_window + 1)
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
        step = self.settings.index_header_batch
        for chunk_start in range(numbers.start, numbers.stop, step):
            chunk = range(chunk_start, min(chunk_start + step, numbers.stop))
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
                json_text(decoded.args),
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
                f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows(),
            )
        return stored

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
            f"SELECT {EVENT_COLUMNS} FROM events WHERE block_number BETWEEN ? AND ? "
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
        most `index_check_events` events (a block more if one block holds more); returns (what
        differs or None, the cursor for the next round, wrapping round to the start)."""
        head = self.head()
        if head is None:
            return None, self.start_block
        events = self.settings.index_check_events
        with self._db_lock:
            beyond_recent = self._conn.execute(
                "SELECT block_number FROM events ORDER BY block_number DESC, log_index DESC "
                "LIMIT 1 OFFSET ?",
                (events,),
            ).fetchone()
            beyond_sweep = self._conn.execute(
                "SELECT block_number FROM events WHERE block_number >= ? "
                "ORDER BY block_number, log_index LIMIT 1 OFFSET ?",
                (cursor, events),
            ).fetchone()
        low = max(self.start_block, head - self.settings.index_check_recent_blocks + 1)
        if beyond_recent is not None:
            low = min(head, max(low, int(beyond_recent[0]) + 1))
        problem = self.check(low, head)
        if problem is None:
            end = min(cursor + self.settings.index_check_sweep_blocks - 1, head)
            if beyond_sweep is not None:
                end = max(cursor, min(end, int(beyond_sweep[0]) - 1))
            problem = self.check(cursor, end)
            cursor = end + 1 if end < head else self.start_block
        return problem, cursor

    def watch(self, stop: threading.Event) -> None:
        """Check the index against the chain every `index_check_s` until `stop`: a
        disagreement is marked at once (reads then answer `IndexInconsistent`), and the next
        round rebuilds the index from the chain, which clears the mark."""
        cursor, failures = self.start_block, 0
        interval = self.settings.index_check_s
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


def _digests(rows: Iterable[tuple[Any, ...]]) -> dict[int, tuple[int, str]]:
    """Per block: (events, keccak over their rows in order)."""
    out: dict[int, tuple[int, bytes]] = {}
    for row in rows:
        count, digest = out.get(row[0], (0, b""))
        out[row[0]] = (count + 1, keccak(digest + json_text(list(row)).encode()))
    return {n: (c, "0x" + d.hex()) for n, (c, d) in out.items()}
