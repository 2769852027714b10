"""Will the relayer's balance last the day? Said once, as a warning, when the relay starts.

The rate is what the relayer actually paid over the last hour: the fees (gas used times the
effective gas price, from the receipts) of the transactions the outbox records as sent and
mined in that hour, by this relayer — at most the newest MAX_SAMPLED_TXS of them, the window
then shrinking to the time they span. An hour is recent enough to follow today's load and
long enough to smooth a burst; it says nothing about a vote tomorrow that brings ten times
the ballots, so the warning is a floor, not a forecast. A relayer that sent nothing in the
hour has no rate: it is then only checked against one full batch (EIP-7825's gas cap at the
fee the relay would offer now, which a node requires the balance to cover before it takes the
transaction). A chain without fees (the managed anvil) never warns.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.exceptions import TransactionNotFound

log = logging.getLogger("ledger.runway")

DAY_S = 86_400.0
WINDOW_S = 3_600.0
MAX_SAMPLED_TXS = 200
FULL_BATCH_GAS = 16_777_216  # EIP-7825: no transaction may ask for more gas
WEI_PER_ETH = 10**18


@dataclass(frozen=True)
class Runway:
    """The relayer's balance against its recent spending and against one full batch."""

    address: str
    balance_wei: int
    spent_wei: int  # fees paid over window_s
    txs: int  # how many transactions spent it
    window_s: float
    full_batch_wei: int

    @property
    def wei_per_hour(self) -> float | None:
        if self.spent_wei == 0 or self.window_s <= 0:
            return None
        return self.spent_wei * 3_600.0 / self.window_s

    @property
    def lasts_s(self) -> float | None:
        """How long the balance lasts at the measured rate; None without a rate."""
        rate = self.wei_per_hour
        return None if rate is None else self.balance_wei / rate * 3_600.0

    def warning(self) -> str | None:
        """What to tell the operator, or None when the balance lasts the day."""
        held = f"the relayer {self.address} holds {_eth(self.balance_wei)} ETH"
        lasts, rate = self.lasts_s, self.wei_per_hour
        if lasts is not None and rate is not None and lasts < DAY_S:
            return (
                f"{held}: at the last hour's spending ({_eth(int(rate))} ETH an hour, "
                f"{self.txs} transactions) that lasts about {lasts / 3_600:.1f} h, less than a "
                "day; fund it"
            )
        if self.balance_wei < self.full_batch_wei:
            return (
                f"{held}, less than one full batch costs at the current fee "
                f"({_eth(self.full_batch_wei)} ETH for {FULL_BATCH_GAS:,} gas); fund it"
            )
        return None


def _eth(wei: int) -> str:
    return f"{wei / WEI_PER_ETH:.6g}"


def relayer_runway(w3: Web3, address: str, outbox: Path, *, now: float | None = None) -> Runway:
    """Measure the runway of `address` from the chain and the outbox at `outbox`."""
    now = time.time() if now is None else now
    hashes, window_s = _recent_txs(outbox, now)
    spent = txs = 0
    for tx_hash in hashes:
        try:
            receipt = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:  # gone with a chain rewound past it: it cost nothing
            continue
        if str(receipt["from"]).lower() != address.lower():
            continue  # sent by an earlier relayer key from the same data dir
        spent += int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
        txs += 1
    block = w3.eth.get_block("latest")
    base_fee = int(block.get("baseFeePerGas") or 0)
    tip = int(w3.eth.max_priority_fee) if base_fee else 0
    return Runway(
        address=address,
        balance_wei=int(w3.eth.get_balance(address)),  # type: ignore[arg-type]
        spent_wei=spent,
        txs=txs,
        window_s=window_s,
        full_batch_wei=FULL_BATCH_GAS * (2 * base_fee + tip),
    )


def _recent_txs(outbox: Path, now: float) -> tuple[list[str], float]:
    """Hashes of mined transactions sent within the hour (the newest MAX_SAMPLED_TXS), and the
    window they cover."""
    if not outbox.exists():
        return [], WINDOW_S
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute(
            "SELECT hash, sent_at FROM txs WHERE status = 'mined' AND sent_at >= ?"
            " ORDER BY sent_at DESC LIMIT ?",
            (now - WINDOW_S, MAX_SAMPLED_TXS),
        ).fetchall()
    except sqlite3.Error:
        return [], WINDOW_S
    finally:
        db.close()
    window = WINDOW_S if len(rows) < MAX_SAMPLED_TXS else max(1.0, now - float(rows[-1][1]))
    return [str(h) for h, _ in rows], window


def warn_if_short(w3: Web3, address: str, outbox: Path) -> Runway | None:
    """Log a warning when the relayer's balance will not last the day; never fails the relay
    (a node that does not answer is the relay's own business)."""
    try:
        runway = relayer_runway(w3, address, outbox)
    except Exception as exc:  # a warning must not stop the relay, whatever went wrong
        log.warning("could not measure the relayer's runway: %s", exc)
        return None
    message = runway.warning()
    if message is not None:
        log.warning("%s", message)
    return runway
