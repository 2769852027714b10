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

import httpx
from eth_account import Account

from ledger.deploy import load_deployment
from ledger.node import rpc
from ledger.protocol.generated import Roles
from ledger.signing.forwards import sign_forward_request
from ledger.tx import send
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
    # The base fee falls by an eighth in every block under target: on a fast machine the other
    # traffic mined enough blocks in 4 s to bring it to zero, and a relayer with nothing paid
    # nothing (35 of its batches landed "dry"). Set again every tenth of a second, it stays a fee.
    dry_until = time.monotonic() + hold_s
    while time.monotonic() < dry_until:
        rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(10**9)])
        time.sleep(0.1)
    nonce_during = w3.eth.get_transaction_count(relayer)
    rpc(w3, "anvil_setBalance", [relayer, hex(RELAYER_FUNDS_WEI)])
    return {
        "dry_s": hold_s,
        "relayer_txs_while_dry": nonce_during - nonce_before,
    }


JAM_CHUNKS = 4
JAM_CHUNK_SIZE = 380  # ~9.2M gas each: four once made a batch no block could hold
JAM_WAIT_S = 120.0


def jam(stack: Stack, hold_s: float) -> dict[str, Any]:
    """A stranger with no role makes a community of its own, makes itself its registrar, and
    sends four ~9.2M-gas roll updates through the relay within milliseconds (the attack that
    once stopped the relay for good). Each must land, and the load goes on meanwhile."""
    w3 = stack.w3
    outsider = Account.create()
    rpc(w3, "anvil_setBalance", [outsider.address, hex(10**20)])
    deployment = load_deployment(w3, stack.settings)
    registry = deployment.registry
    send(w3, outsider, registry.functions.createCommunity(b"\x7a" * 32))
    community = int(registry.functions.communityCount().call())
    send(w3, outsider, registry.functions.grantRole(community, Roles.REGISTRAR, outsider.address))
    nonce = int(deployment.forwarder.functions.nonces(outsider.address).call())
    t = time.monotonic()
    receipts = []
    for i in range(JAM_CHUNKS):
        roll = [Account.create().address for _ in range(JAM_CHUNK_SIZE)]
        call = registry.functions.updateRoll(community, roll, [], i == JAM_CHUNKS - 1)
        request = sign_forward_request(
            w3, deployment.forwarder, outsider, call, gas=10_000_000, nonce=nonce + i
        )
        response = httpx.post(f"{stack.api_url}/v1/forward", json=request.to_payload(), timeout=30)
        response.raise_for_status()
        receipts.append(response.json()["id"])
    acked_s = time.monotonic() - t
    statuses: list[str] = []
    while time.monotonic() - t < JAM_WAIT_S:
        statuses = [
            httpx.get(f"{stack.api_url}/v1/receipts/{r}", timeout=10).json()["status"]
            for r in receipts
        ]
        if all(s in ("counted", "rejected") for s in statuses):
            break
        time.sleep(0.5)
    return {
        "requests": JAM_CHUNKS,
        "acknowledged_in_s": round(acked_s, 3),
        "statuses": statuses,
        "settled_in_s": round(time.monotonic() - t, 2),
        "roll_size": int(registry.functions.rollSnapshot(community).call().size),
    }


FAULTS: dict[str, Callable[[Stack, float], dict[str, Any]]] = {
    "chain_kill9": chain_kill,
    "api_kill9": api_kill,
    "chain_and_api_kill9": both_kill,
    "torn_snapshot": torn_snapshot,
    "disk_full": disk_full,
    "relayer_out_of_gas": gas_out,
    "relay_jam": jam,
}
