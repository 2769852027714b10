"""The relayer's runway: what it paid over the last hour (from the outbox and the receipts),
against its balance; a nearly-empty relayer is warned about, a free chain never."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.node import rpc
from ledger.relay.outbox import Outbox
from ledger.runway import DAY_S, FULL_BATCH_GAS, Runway, relayer_runway, warn_if_short

GWEI = 10**9
ETH = 10**18


@pytest.fixture
def fees(w3: Web3) -> Iterator[int]:
    """A chain that charges 10 gwei a gas from the next block on (the managed anvil charges 0).
    Free again afterwards: reverting to a snapshot does not restore anvil's next base fee."""
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(10 * GWEI)])
    rpc(w3, "evm_mine")
    yield 10 * GWEI
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", ["0x0"])


def _funded(w3: Web3, wei: int) -> LocalAccount:
    account: LocalAccount = Account.create()
    rpc(w3, "anvil_setBalance", [account.address, hex(wei)])
    return account


def _transfer(w3: Web3, sender: LocalAccount, nonce: int) -> str:
    tx = {
        "to": "0x" + "22" * 20,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 100 * GWEI,
        "maxPriorityFeePerGas": GWEI,
        "nonce": nonce,
        "chainId": w3.eth.chain_id,
    }
    tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    w3.eth.wait_for_transaction_receipt(tx_hash)
    return "0x" + bytes(tx_hash).hex()


def _outbox_with(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    Outbox(path, Settings()).close()  # the relay's own schema
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO txs (hash, nonce, raw, status, sent_at) VALUES (?, 0, x'', ?, ?)", rows
        )
    db.close()
    return path


def test_a_nearly_empty_relayer_is_warned_it_cannot_pay_one_full_batch(
    w3: Web3, fees: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    relayer = _funded(w3, ETH // 100)
    with caplog.at_level(logging.WARNING, logger="ledger.runway"):
        runway = warn_if_short(w3, relayer.address, tmp_path / "relay.sqlite")
    assert runway is not None and runway.balance_wei == ETH // 100
    assert runway.full_batch_wei >= FULL_BATCH_GAS * 2 * fees
    [record] = caplog.records
    assert relayer.address in record.getMessage()
    assert "less than one full batch" in record.getMessage()


def test_a_chain_without_fees_never_warns(
    w3: Web3, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    relayer = _funded(w3, 0)
    with caplog.at_level(logging.WARNING, logger="ledger.runway"):
        runway = warn_if_short(w3, relayer.address, tmp_path / "relay.sqlite")
    assert runway is not None and runway.full_batch_wei == 0
    assert caplog.records == []


def test_spending_is_what_the_relayers_mined_transactions_of_the_last_hour_cost(
    w3: Web3, fees: int, tmp_path: Path
) -> None:
    relayer, stranger = _funded(w3, ETH), _funded(w3, ETH)
    ours = [_transfer(w3, relayer, n) for n in range(3)]
    theirs = _transfer(w3, stranger, 0)
    now = time.time()
    outbox = _outbox_with(
        tmp_path / "relay.sqlite",
        [
            *[(h, "mined", now - 60) for h in ours[:2]],
            (ours[2], "mined", now - 7_200),  # two hours ago: outside the window
            (theirs, "mined", now - 30),  # an earlier relayer key's transaction
            ("0x" + "ab" * 32, "sent", now - 10),  # not mined yet
        ],
    )
    runway = relayer_runway(w3, relayer.address, outbox, now=now)
    receipts = [w3.eth.get_transaction_receipt(h) for h in ours[:2]]  # type: ignore[arg-type]
    expected = sum(int(r["gasUsed"]) * int(r["effectiveGasPrice"]) for r in receipts)
    assert expected > 0
    assert (runway.spent_wei, runway.txs, runway.window_s) == (expected, 2, 3_600.0)
    assert runway.balance_wei == w3.eth.get_balance(relayer.address)
    assert runway.wei_per_hour == expected


def test_a_balance_that_lasts_less_than_a_day_at_the_hours_rate_is_warned() -> None:
    rich_but_spending = Runway(
        address="0xR", balance_wei=10 * ETH, spent_wei=ETH, txs=40, window_s=3_600.0,
        full_batch_wei=ETH // 2,
    )  # fmt: skip
    assert rich_but_spending.lasts_s == pytest.approx(10 * 3_600)
    warning = rich_but_spending.warning()
    assert warning is not None
    assert "lasts about 10.0 h, less than a day" in warning and "40 transactions" in warning
    lasting = Runway("0xR", 100 * ETH, ETH, 40, 3_600.0, ETH // 2)
    assert lasting.lasts_s is not None and lasting.lasts_s > DAY_S
    assert lasting.warning() is None
    idle = Runway("0xR", ETH, 0, 0, 3_600.0, ETH // 2)
    assert idle.lasts_s is None and idle.warning() is None
