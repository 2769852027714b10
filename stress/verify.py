"""After the run: what the chain itself says, against what was acknowledged.

Nothing here trusts the API or its databases for landing: ballots are BallotCast events read per
proposal, service records ServiceRecorded events read per community, straight from the node.
The relay's outbox is read only to check its claims (a receipt that says "counted" must name the
transaction the chain has) and the API's index only to check it rolled back with the chain.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from ledger.deploy import Deployment
from ledger.protocol.generated import Events
from stress.workload import SERVICE_MINUTES, Key, Message

BALLOT_CAST = HexBytes(Events.BallotCast.topic)
SERVICE_RECORDED = HexBytes(Events.ServiceRecorded.topic)
LOG_CHUNK = 2000
HEADER_BATCH = 200


@dataclass
class Landing:
    block: int
    tx: str


@dataclass
class ChainView:
    head: int
    landed: dict[Key, list[Landing]] = field(default_factory=lambda: defaultdict(list))
    batches: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # tx -> block, kind, n
    block_time: dict[int, int] = field(default_factory=dict)


def _logs(w3: Web3, address: Any, topics: list[Any], start: int, end: int) -> list[Any]:
    out: list[Any] = []
    for low in range(start, end + 1, LOG_CHUNK):
        high = min(end, low + LOG_CHUNK - 1)
        out += w3.eth.get_logs(
            {"address": address, "fromBlock": low, "toBlock": high, "topics": topics}
        )
    return out


def read_chain(w3: Web3, d: Deployment, community: int, proposals: Sequence[int]) -> ChainView:
    head = w3.eth.block_number
    view = ChainView(head)
    start = d.start_block
    sizes: Counter[str] = Counter()
    kinds: dict[str, tuple[int, str]] = {}
    for proposal in proposals:
        topic = HexBytes(proposal.to_bytes(32, "big"))
        for entry in _logs(w3, d.council.address, [BALLOT_CAST, topic], start, head):
            voter = to_checksum_address(bytes(entry["topics"][2])[12:])
            tx = "0x" + bytes(entry["transactionHash"]).hex()
            view.landed[("ballot", proposal, voter)].append(Landing(entry["blockNumber"], tx))
            sizes[tx] += 1
            kinds[tx] = (entry["blockNumber"], "ballot")
    topic = HexBytes(community.to_bytes(32, "big"))
    for entry in _logs(w3, d.timebank.address, [SERVICE_RECORDED, topic], start, head):
        provider = to_checksum_address(bytes(entry["topics"][2])[12:])
        nonce = int.from_bytes(bytes(entry["data"])[96:128], "big")
        tx = "0x" + bytes(entry["transactionHash"]).hex()
        view.landed[("service", provider, nonce)].append(Landing(entry["blockNumber"], tx))
        sizes[tx] += 1
        kinds[tx] = (entry["blockNumber"], "service")
    view.batches = {tx: (kinds[tx][0], kinds[tx][1], n) for tx, n in sizes.items()}
    view.block_time = block_times(w3, sorted({b for b, _, _ in view.batches.values()}))
    return view


def block_times(w3: Web3, numbers: Sequence[int]) -> dict[int, int]:
    """Timestamps of the given blocks, by JSON-RPC batches (anvil stamps wall-clock seconds)."""
    out: dict[int, int] = {}
    for i in range(0, len(numbers), HEADER_BATCH):
        chunk = numbers[i : i + HEADER_BATCH]
        responses: Any = w3.provider.make_batch_request(  # type: ignore[attr-defined]
            [("eth_getBlockByNumber", [hex(n), False]) for n in chunk]
        )
        for n, response in zip(chunk, responses, strict=True):
            block = response.get("result")
            if block:
                out[n] = int(block["timestamp"], 16)
    return out


@dataclass
class Accounting:
    offered: int
    acknowledged: int
    landed: int
    duplicated: int
    lost: int
    refused: int
    unacknowledged: int
    landed_unacknowledged: int
    phantom: int
    lost_keys: list[str]
    duplicated_keys: list[str]

    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.phantom == 0


def account(
    messages: Sequence[Message],
    offered: Iterable[int],
    acked: dict[int, str],
    refused: Iterable[int],
    view: ChainView,
) -> Accounting:
    offered_set = set(offered)
    offered_keys = {messages[i].key for i in offered_set}
    acked_keys = {messages[i].key for i in acked}
    landed = {k for k, where in view.landed.items() if where}
    duplicated = sorted(str(k) for k, where in view.landed.items() if len(where) > 1)
    lost = sorted(str(k) for k in acked_keys - landed)
    unacked = offered_keys - acked_keys
    return Accounting(
        offered=len(offered_set),
        acknowledged=len(acked_keys),
        landed=len(acked_keys & landed),
        duplicated=len(duplicated),
        lost=len(lost),
        refused=len(set(refused)),
        unacknowledged=len(unacked),
        landed_unacknowledged=len(unacked & landed),
        phantom=len(landed - offered_keys),
        lost_keys=lost[:20],
        duplicated_keys=duplicated[:20],
    )


def outbox_claims(
    db_path: Path, messages: Sequence[Message], acked: dict[int, str], view: ChainView
) -> dict[str, Any]:
    """The relay's own view of every acknowledged message, checked against the chain: a
    receipt that says counted must name the transaction that carries it on-chain."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = {
            rid: (status, tx, detail)
            for rid, status, tx, detail in db.execute(
                "SELECT id, status, tx_hash, detail FROM messages"
            )
        }
        txs = Counter(s for (s,) in db.execute("SELECT status FROM txs"))
    finally:
        db.close()
    statuses: Counter[str] = Counter()
    not_counted: Counter[str] = Counter()
    not_counted_examples: list[dict[str, Any]] = []
    wrong_tx: list[str] = []
    missing: list[int] = []
    for index, rid in acked.items():
        row = rows.get(rid)
        if row is None:
            missing.append(index)
            continue
        status, tx, detail = row
        statuses[status] += 1
        if status != "counted":
            not_counted[f"{status}: {detail}"] += 1
            if len(not_counted_examples) < 5:
                not_counted_examples.append(
                    {
                        "key": str(messages[index].key),
                        "receipt": rid,
                        "status": status,
                        "detail": detail,
                        "tx": tx,
                    }
                )
        where = view.landed.get(messages[index].key, [])
        if status == "counted" and (not where or where[0].tx != tx):
            wrong_tx.append(rid)
    return {
        "receipt_status": dict(statuses),
        "acknowledged_but_not_in_outbox": len(missing),
        "counted_but_not_that_tx_on_chain": len(wrong_tx),
        "examples": wrong_tx[:5],
        "not_counted": dict(not_counted),
        "not_counted_examples": not_counted_examples,
        "relay_txs": dict(txs),
    }


def tallies_match(d: Deployment, proposals: Sequence[int], view: ChainView) -> dict[str, Any]:
    per: dict[str, Any] = {}
    ok = True
    for p in proposals:
        tally = list(d.council.functions.tallyOf(p).call())
        cast = sum(
            1 for k, where in view.landed.items() if k[0] == "ballot" and k[1] == p and where
        )
        per[str(p)] = {"tally": tally, "ballot_events": cast}
        ok &= sum(tally) == cast
    return {"ok": ok, "proposals": per}


def balances_match(
    d: Deployment, community: int, messages: Sequence[Message], view: ChainView
) -> dict[str, Any]:
    """Each ring member's time-bank balance is what the landed records say, and they sum to 0."""
    expected: Counter[str] = Counter()
    by_key = {m.key: m for m in messages if m.key[0] == "service"}
    for key, where in view.landed.items():
        if key[0] != "service" or not where:
            continue
        record = by_key[key].body["record"]
        expected[record["provider"]] += SERVICE_MINUTES * len(where)
        expected[record["recipient"]] -= SERVICE_MINUTES * len(where)
    members = sorted(expected)
    found = {m: int(d.timebank.functions.balanceOf(community, m).call()) for m in members}
    community_balance = int(d.timebank.functions.balanceOf(community, "0x" + "00" * 20).call())
    mismatched = [m for m in members if found[m] != expected[m]]
    return {
        "ok": not mismatched and sum(found.values()) + community_balance == 0,
        "members": len(members),
        "mismatched": mismatched[:5],
        "sum": sum(found.values()) + community_balance,
    }


def index_matches(api_url: str, proposals: Sequence[int], view: ChainView) -> dict[str, Any]:
    """The API's index (rolled back with the chain, then caught up) counts what the chain has."""
    per: dict[str, Any] = {}
    ok = True
    for p in proposals:
        page = httpx.get(f"{api_url}/v1/proposals/{p}/ballots", params={"limit": 1}, timeout=30)
        indexed = int(page.json()["total"])
        cast = sum(
            1 for k, where in view.landed.items() if k[0] == "ballot" and k[1] == p and where
        )
        per[str(p)] = {"indexed": indexed, "chain": cast}
        ok &= indexed == cast
    return {"ok": ok, "proposals": per}
