"""The relayer: queued messages batched by kind and target into transactions.

One thread takes the oldest ready group from the outbox, packs it under the gas a transaction
may carry, signs the transaction, records it (hash, raw bytes, nonce) and only then broadcasts
it; after a restart it rebroadcasts or requeues whatever was acknowledged but not yet included.
Every kind is idempotent on-chain (one ballot per voter, per-record nonces, forwarder nonces),
so a requeued message can land at most once. A batch that fails as a whole is split until the
message at fault stands alone; a batch a reorg takes off the chain is sent again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxReceipt

from ledger.config import Settings
from ledger.relay.message import INCLUDED, REJECTED, MessageRelay, Outcome
from ledger.relay.outbox import Batched, Outbox
from ledger.transport import log_retry
from ledger.tx import (
    TX_GAS_CAP,
    ErrorDecoder,
    broadcast,
    fees,
    fetch_receipt,
    pending_nonce,
    revert_data,
    sign,
)

log = logging.getLogger("ledger.relay")

# What a node says when it refuses a transaction for the sender's sake, not for what it does:
# the relayer's balance, nonce or fee, or the node's own load. Anything else it answers to a
# batch's simulation or broadcast is the batch's fault.
_RELAYER_FAULTS = (
    "insufficient funds",
    "nonce",
    "underpriced",
    "fee cap",
    "fee too low",
    "txpool",
    "already known",
    "rate limit",
    "too many requests",
)


def batch_at_fault(exc: Exception) -> bool:
    """Whether a failure to simulate or broadcast a batch is the batch's own (the contract
    reverts, the node refuses what it carries) rather than the relayer's or the node's."""
    if isinstance(exc, ContractCustomError | ContractLogicError):
        return True
    if isinstance(exc, Web3RPCError):
        message = str(exc).lower()
        return not any(fault in message for fault in _RELAYER_FAULTS)
    return False


class Relayer:
    """Batches queued messages into transactions signed by the relayer key; one thread."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        outbox: Outbox,
        kinds: Sequence[MessageRelay],
        settings: Settings,
        *,
        decoder: ErrorDecoder | None = None,
        tx_gas_cap: int = TX_GAS_CAP,
        on_included: Callable[[str, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.w3 = w3
        self.account = account
        self.outbox = outbox
        self.kinds = {k.name: k for k in kinds}
        self.decoder = decoder or ErrorDecoder([])
        self.on_included = on_included
        self.chain_id = w3.eth.chain_id
        # No batch may need more gas than one transaction can carry on this node.
        self.tx_gas_cap = min(tx_gas_cap, int(w3.eth.get_block("latest")["gasLimit"]))
        self._nonce: int | None = None
        # A (kind, group) whose batch failed as a whole goes on in smaller batches (the sizes
        # to take next, halving toward the message at fault) and is simulated before each send
        # until one lands; a group whose lone message failed waits until its retry time.
        self._splits: dict[tuple[str, str], list[int]] = {}
        self._retry_at: dict[tuple[str, str], float] = {}
        # (number, hash) of the block of the newest settled batch: while that block is still on
        # the chain, so is every older one (each block commits to its parent).
        self._anchor: tuple[int, bytes] | None = None
        self._anchor_checked_at = -settings.relay_reorg_check_s
        self._reorg_checked = False

    def _next_nonce(self) -> int:
        # Asked of the chain only after a failure reset it; otherwise counted here.
        if self._nonce is None:
            self._nonce = pending_nonce(self.w3, self.account.address)
        return self._nonce

    def reconcile(self) -> int:
        """Settle every recorded tx: mined -> outcomes; lost -> rebroadcast or requeue. A
        settled tx that a reorg took off the chain counts as lost again."""
        self._undo_reorged()
        settled = 0
        chain_nonce: int | None = None
        now = time.time()
        for tx_hash, nonce, raw, sent_at in self.outbox.sent_txs():
            receipt = fetch_receipt(self.w3, tx_hash)
            if receipt is not None:
                self._settle(tx_hash, receipt)
                settled += 1
                continue
            if now - sent_at < self.settings.relay_patience_s:
                continue  # just sent: give the node time to mine it before suspecting a loss
            try:
                self.w3.eth.get_transaction(HexBytes(tx_hash))
                continue  # still pending in the node's pool
            except TransactionNotFound:
                pass
            if chain_nonce is None:
                chain_nonce = self.w3.eth.get_transaction_count(self.account.address, "latest")
            if nonce >= chain_nonce:
                try:
                    broadcast(self.w3, raw)
                    log.info("rebroadcast %s (nonce %d)", tx_hash, nonce)
                    continue
                except Exception as exc:
                    log.warning("rebroadcast of %s failed: %s", tx_hash, exc)
            n = self.outbox.requeue_tx(tx_hash)
            self._nonce = None
            log.info("requeued %d messages of lost tx %s", n, tx_hash)
        return settled

    def _undo_reorged(self) -> None:
        """Find settled batches the chain no longer holds and put them back to 'sent'.

        One block lookup per check in the common case (the newest settled batch's block is
        unchanged); the receipts of the recent batches are read again only after a change, and
        once at start (a reorg may have happened while the relay was down)."""
        if time.monotonic() - self._anchor_checked_at < self.settings.relay_reorg_check_s:
            return
        self._anchor_checked_at = time.monotonic()
        if self._reorg_checked:
            if self._anchor is None:
                return
            number, block_hash = self._anchor
            try:
                if bytes(self.w3.eth.get_block(number)["hash"]) == block_hash:
                    return
            except BlockNotFound:
                pass  # the chain is now shorter than the anchor: a rewind
        # The walk can fail half way (the node goes away again: seen with a kill -9 during it).
        # Until it completes, the check stays due: the old anchor is restored on failure, and
        # the start-up walk is not marked done.
        previous = self._anchor
        self._anchor = None
        try:
            head = self.w3.eth.block_number
            for tx_hash, block in self.outbox.mined_since(
                max(0, head - self.settings.relay_reorg_depth)
            ):
                receipt = fetch_receipt(self.w3, tx_hash)
                if receipt is None:
                    n = self.outbox.unsettle_tx(tx_hash)
                    self._nonce = None
                    log.warning("batch %s (block %d) left the chain in a reorg: %d messages",
                                tx_hash, block, n)  # fmt: skip
                elif receipt["blockNumber"] != block:
                    self._settle(tx_hash, receipt)  # mined again, in another block
                else:
                    self._note_settled(receipt)
        except BaseException:
            self._anchor = previous
            raise
        self._reorg_checked = True

    def _note_settled(self, receipt: TxReceipt) -> None:
        number = int(receipt["blockNumber"])
        if self._anchor is None or number >= self._anchor[0]:
            self._anchor = (number, bytes(receipt["blockHash"]))

    def _settle(self, tx_hash: str, receipt: TxReceipt) -> None:
        self._note_settled(receipt)
        rows = self.outbox.messages_of(tx_hash)
        if receipt["status"] != 1:
            self._reverted(tx_hash, receipt, rows)
            return
        by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for row in rows:
            by_kind.setdefault(row.kind, []).append((row.id, row.payload))
        outcomes = {}
        for kind, items in by_kind.items():
            try:
                results = self.kinds[kind].outcomes(receipt, [p for _, p in items])
            except Exception as exc:
                log.exception("cannot read outcomes of %s in %s", kind, tx_hash)
                results = [Outcome(INCLUDED, f"included; outcome unreadable: {exc}")] * len(items)
            outcomes.update({i: o for (i, _), o in zip(items, results, strict=True)})
        self.outbox.record_outcomes(tx_hash, receipt["blockNumber"], outcomes)
        if self.on_included is not None:
            self.on_included(tx_hash, receipt["blockNumber"])

    def _reverted(self, tx_hash: str, receipt: TxReceipt, rows: list[Batched]) -> None:
        """A batch mined but reverted as a whole: the messages it carried go back to the queue,
        to be sent again in halves simulated first, so the revert costs this one transaction and
        the message at fault is found for free; a lone message is rejected with the reason."""
        if len(rows) == 1:
            reason = self._revert_reason(tx_hash, receipt)
            self.outbox.record_outcomes(
                tx_hash, receipt["blockNumber"], {rows[0].id: Outcome(REJECTED, reason)}
            )
            return
        self.outbox.requeue_tx(tx_hash)
        kind = rows[0].kind
        self._split((kind, rows[0].group), len(rows))
        log.warning(
            "batch %s of %d %s messages reverted on-chain (block %d); sending it in halves",
            tx_hash, len(rows), kind, receipt["blockNumber"],
        )  # fmt: skip

    def _revert_reason(self, tx_hash: str, receipt: TxReceipt) -> str:
        """The contract's reason for a reverted transaction, by replaying it on the state it
        met (the previous block's), else a plain statement."""
        try:
            tx = self.w3.eth.get_transaction(HexBytes(tx_hash))
            call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
            self.w3.eth.call(call, int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            data = revert_data(exc)
            decoded = self.decoder.decode(data) if data else None
            if decoded is not None:
                return f"transaction reverted: {decoded.name}"
        except Exception:  # the replay is only a courtesy
            pass
        return "transaction reverted"

    # --- batches that fail ----------------------------------------------------------------------

    def _limit_of(self, kind: str, group: str) -> int | None:
        """How many of the group's oldest messages the next batch takes; None: not now."""
        key = (kind, group)
        if self._retry_at.get(key, 0.0) > time.monotonic():
            return None
        sizes = self._splits.get(key)
        return sizes[0] if sizes else self.kinds[kind].max_batch

    def _split(self, key: tuple[str, str], size: int) -> None:
        """A batch of `size` taken from the group failed: its halves go next."""
        self._splits[key] = [size // 2, size - size // 2, *self._splits.get(key, [])]

    def _failed(self, key: tuple[str, str], ids: list[str], reason: str, *, ruled: bool) -> None:
        """A batch could not be simulated, sent or mined. More than one message: split it. One
        message: the contract's own reason (`ruled`) rejects it at once; anything else is tried
        again later, and parked (rejected) after `relay_max_attempts`."""
        kind, group = key
        if len(ids) > 1:
            self._split(key, len(ids))
            log.warning("batch of %d %s (%s) failed: %s; splitting it", len(ids), kind, group,
                        reason)  # fmt: skip
            return
        most = self.settings.relay_max_attempts
        attempts = most if ruled else self.outbox.record_attempt(ids[0])
        if attempts >= most:
            detail = reason if ruled else f"parked after {attempts} failed attempts: {reason}"
            self.outbox.reject(ids, detail)
            log.warning("%s message %s rejected: %s", kind, ids[0], detail)
            return
        delay = self.settings.relay_retry_base_s * 2 ** (attempts - 1)
        self._retry_at[key] = time.monotonic() + delay
        log.warning("%s message %s failed (%d of %d tries): %s; again in %.0f s",
                    kind, ids[0], attempts, most, reason, delay)  # fmt: skip

    def send_one_batch(self) -> str | None:
        """Send the next batch. Returns its tx hash; "" when the batch failed (it was split,
        deferred or rejected, and the next one may go); None when nothing is ready to go."""
        # Up to relay_max_wait_s a message waits for company: full batches cost far less a message.
        batch = self.outbox.next_batch(self._limit_of, self.settings.relay_max_wait_s)
        if batch is None:
            return None
        kind_name, group, items = batch
        kind = self.kinds[kind_name]
        key = (kind_name, group)
        # Packed by the gas its messages may need: never more than a transaction can carry.
        bound, fits = kind.base_gas, 0
        for _, payload in items:
            need = kind.gas_bound(payload)
            if bound + need > self.tx_gas_cap and fits:
                break
            bound += need
            fits += 1
        items = items[:fits]
        bisecting = key in self._splits
        if bisecting:
            self._splits[key].pop(0)
            if not self._splits[key]:
                del self._splits[key]
        ids = [i for i, _ in items]
        call = kind.batch_call(group, [p for _, p in items])
        tx: dict[str, Any] = {"from": self.account.address, "to": call.to, "data": call.data}
        if call.gas is not None and not bisecting:
            # A known bound: no second execution of the batch just to size it.
            gas = call.gas
        else:
            try:
                gas = self.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
            except Exception as exc:
                if not batch_at_fault(exc):
                    raise
                ruled, reason = self._reason(exc)
                self._failed(key, ids, f"simulation failed: {reason}", ruled=ruled)
                return ""
            gas = gas * 5 // 4 + 50_000
        nonce = self._next_nonce()
        tx |= {
            "nonce": nonce,
            "chainId": self.chain_id,
            # Never below the bound: a simulation meets the chain as it is now, and a message
            # that was stale then (a forward request whose nonce a pending batch is about to
            # use) may need all its gas once mined — short of it, the forwarder reverts it all.
            "gas": min(self.tx_gas_cap, max(gas, bound)),
            **fees(self.w3),
        }
        del tx["from"]
        signed = sign(self.account, tx)
        tx_hash = signed.hash
        self.outbox.record_sent(ids, tx_hash, nonce, signed.raw)
        try:
            self._broadcast(signed.raw)
        except Exception as exc:
            self._nonce = None
            if not batch_at_fault(exc):
                # The relayer's own trouble (the node away, out of gas money): the recorded tx
                # is broadcast again, or its messages requeued, by reconcile.
                log.warning("broadcast of %s failed: %s", tx_hash, exc)
                return tx_hash
            # The node refuses this transaction for what it carries: it will never go.
            self.outbox.requeue_tx(tx_hash)
            self._failed(key, ids, f"the node refused the batch: {exc}", ruled=False)
            return ""
        self._nonce = nonce + 1
        return tx_hash

    def _reason(self, exc: Exception) -> tuple[bool, str]:
        """(whether the contract named the rule, the reason) of a failed simulation."""
        reverted = isinstance(exc, ContractCustomError | ContractLogicError)
        data = revert_data(exc) if reverted else None
        decoded = self.decoder.decode(data) if data else None
        if decoded is not None:
            return True, decoded.name
        return False, str(exc)

    def _broadcast(self, raw: bytes) -> None:
        broadcast(self.w3, raw)

    def step(self, max_batches: int = 4) -> int:
        """One round: settle what was sent, then send up to `max_batches` of what is queued.
        Bounded, so that under sustained load settling keeps pace with sending."""
        self.reconcile()
        sent = 0
        while sent < max_batches and self.send_one_batch() is not None:
            sent += 1
        return sent

    def run(self, stop: threading.Event) -> None:
        interval, busy_pause = self.settings.relay_interval_s, self.settings.relay_busy_pause_s
        failures = 0
        while not stop.is_set():
            try:
                busy = self.step() > 0
            except Exception as exc:
                failures += 1
                pause = self.settings.relay_failure_pause_s
                log_retry(log, "relay step", failures, pause, exc)
                stop.wait(pause)
                continue
            failures = 0
            stop.wait(min(interval, busy_pause) if busy else interval)
