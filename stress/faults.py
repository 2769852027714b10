"""The faults, each injected into the running stack while the load goes on.

Each returns what it did and what it found (how many blocks the chain lost, how long a process
was away); the run records when it started and how long the system took to catch up afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.node import rpc
from stress.system import RELAYER_FUNDS_WEI, Stack, log

API_DOWN_S = 3.0
BALLAST_CHUNK = 1 << 20
SHRINK_SLACK_MB = 8


def _restart_chain(stack: Stack, head_before: int) -> dict[str, Any]:
    stack.start_chain()
    head_after = stack.w3.eth.block_number
    return {"head_before": head_before, "head_after_restart": head_after,
            "blocks_rewound": head_before - head_after}  # fmt: skip


def chain_kill(stack: Stack, hold_s: float) -> dict[str, Any]:
    """kill -9 of anvil under load: it comes back from its last snapshot, i.e. it rewinds."""
    head = stack.w3.eth.block_number
    t = time.monotonic()
    stack.kill_chain()
    out = _restart_chain(stack, head)
    out["chain_down_s"] = round(time.monotonic() - t, 2)
    return out


def api_kill(stack: Stack, hold_s: float) -> dict[str, Any]:
    """kill -9 of the API (relay, outbox, index and all) under load; restarted 3 s later."""
    t = time.monotonic()
    stack.kill_api()
    time.sleep(API_DOWN_S)
    stack.start_api()
    return {"api_down_s": round(time.monotonic() - t, 2)}


def both_kill(stack: Stack, hold_s: float) -> dict[str, Any]:
    """kill -9 of the API and of anvil at once; chain restarted, then the API."""
    head = stack.w3.eth.block_number
    t = time.monotonic()
    stack.kill_api()
    stack.kill_chain()
    out = _restart_chain(stack, head)
    stack.start_api()
    out["down_s"] = round(time.monotonic() - t, 2)
    return out


def torn_snapshot(stack: Stack, hold_s: float) -> dict[str, Any]:
    """kill -9 of anvil, then the newest snapshot torn in half (as a write without fsync would
    leave it): the node must skip it for the one before, and so rewinds further."""
    head = stack.w3.eth.block_number
    t = time.monotonic()
    stack.kill_chain()
    newest = stack.snapshots()[0]
    size = newest.stat().st_size
    with open(newest, "r+b") as fh:
        fh.truncate(size // 2)
    out = _restart_chain(stack, head)
    out.update(
        {
            "torn": newest.name,
            "skipped_as_torn": newest.with_suffix(".torn").exists(),
            "chain_down_s": round(time.monotonic() - t, 2),
        }
    )
    return out


def disk_full(stack: Stack, hold_s: float) -> dict[str, Any]:
    """The data directory (chain snapshots, outbox, index) runs out of space for `hold_s`: its
    tmpfs is shrunk to what it holds (plus a few MiB, filled at once), then grown back."""
    if not stack.mounted:
        return {"skipped": "no tmpfs could be mounted for the data dir (needs root)"}
    ballast = [stack.data_dir / "ballast", stack.data_dir / "ballast-tail"]
    written = 0
    try:
        stack.shrink_tmpfs(slack_mb=SHRINK_SLACK_MB)
        # Big chunks, then small ones, so that not even a page is left free.
        for path, chunk in zip(ballast, (BALLAST_CHUNK, 4096), strict=True):
            written += _fill(path, chunk)
        stat = os.statvfs(stack.data_dir)
        log(f"data dir full ({stat.f_bavail * stat.f_frsize} bytes free); holding {hold_s:.0f}s")
        time.sleep(hold_s)
        chain_alive = stack.chain is not None and stack.chain.alive()
        api_alive = stack.api is not None and stack.api.alive()
    finally:
        for path in ballast:
            path.unlink(missing_ok=True)
        stack.grow_tmpfs()
    out: dict[str, Any] = {
        "ballast_mb": round(written / 2**20, 1),
        "full_s": hold_s,
        "chain_survived": chain_alive,
        "api_survived": api_alive,
    }
    # A process that died of the full disk is a finding; bring it back so the run can go on.
    if not chain_alive:
        out.update(_restart_chain(stack, -1))
    if not api_alive:
        stack.start_api()
    return out


def _fill(path: Path, chunk: int) -> int:
    """Write zeros to `path` until the file system is full; returns the bytes written."""
    written = 0
    block = b"\0" * chunk
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                written += os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return written
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def gas_out(stack: Stack, hold_s: float) -> dict[str, Any]:
    """The relayer runs out of gas money: a base fee appears and its balance drops to zero;
    refilled `hold_s` later. Messages must wait, not be lost or rejected."""
    w3 = stack.w3
    relayer = stack.relayer.address
    rpc(w3, "anvil_setBalance", [relayer, "0x0"])
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(10**9)])
    # Mined at once, so the head carries the fee: a relayer pricing its next batch from the head
    # must now pay, and cannot. (Left for the next relay block, the fee went unseen: at 600/s
    # the relayer's nonce moved 54 times in a "dry" 10 s.)
    rpc(w3, "evm_mine")
    nonce_before = w3.eth.get_transaction_count(relayer)
    time.sleep(hold_s)
    nonce_during = w3.eth.get_transaction_count(relayer)
    rpc(w3, "anvil_setBalance", [relayer, hex(RELAYER_FUNDS_WEI)])
    return {
        "dry_s": hold_s,
        "relayer_txs_while_dry": nonce_during - nonce_before,
    }


FAULTS: dict[str, Callable[[Stack, float], dict[str, Any]]] = {
    "chain_kill9": chain_kill,
    "api_kill9": api_kill,
    "chain_and_api_kill9": both_kill,
    "torn_snapshot": torn_snapshot,
    "disk_full": disk_full,
    "relayer_out_of_gas": gas_out,
}
