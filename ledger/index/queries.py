"""What the API reads from the index: events filtered by contract, name, args and blocks."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ledger.index.codec import (
    UNKNOWN,
    UNKNOWN_INPUTS,
    AbiItem,
    IndexedEvent,
    arg_name,
    from_json,
    json_text,
    to_json,
)
from ledger.index.store import EVENT_COLUMNS, IndexStore

EventNames = str | Sequence[str] | None

_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class IndexQueries(IndexStore):
    """Reads of the stored events; each refuses while the index is marked inconsistent."""

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
            f"SELECT {EVENT_COLUMNS} FROM events{clause} "
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
                digest.update(json_text(list(row)).encode() + b"\n")
            digest.update(b"events\n")
            events = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events ORDER BY block_number, log_index"
            )
            for row in events:
                digest.update(json_text(list(row)).encode() + b"\n")
        return digest.hexdigest()

    def _event(self, row: tuple[Any, ...]) -> IndexedEvent:
        (number, log_index, block_hash, tx, tx_index, timestamp, key, address, name, sig, args) = (
            row
        )
        stored = json.loads(args)
        decoder = self._decoders.get(key)
        inputs = decoder.stored_inputs(sig) if decoder is not None else UNKNOWN_INPUTS
        values = {
            arg_name(item, i): from_json(item, stored[arg_name(item, i)])
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
            items += [i for i in UNKNOWN_INPUTS if i["name"] == arg]
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
                    value_json = to_json(item, value)
                except (ValueError, TypeError):
                    continue
                # json_extract gives objects and arrays as JSON text, true/false as 1/0.
                sql_value = (
                    json_text(value_json) if isinstance(value_json, dict | list) else value_json
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
