"""Re-verifying relayed ballot signatures, in worker processes when there are many.

A ballot is verified exactly as Council's batch loop does it: the EIP-712 digest of
Ballot(proposalId, voter, option) under the council's domain, an s in the lower half of the
curve order, and ecrecover of (digest, v from vs's top bit, r, s) equal to the named voter.
The work is pure CPU (two keccaks and one public-key recovery per ballot), so large elections
are split across processes; calldata goes in and packed results come out, nothing else.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Final

from ledger.audit.ethcodec import recover_compact
from ledger.hashing import keccak
from ledger.protocol.generated import SkipReason, Types

BALLOT_BYTES: Final = 128  # SignedBallot: voter, option, r, vs: four static words
RESULT_BYTES: Final = 53  # digest (32), status (1), recovered signer (20)
# A ballot's signature status: OK, or Council's SkipReason for a signature fault.
OK, BAD_SIGNATURE, MALLEABLE = 0, int(SkipReason.BadSignature), int(SkipReason.MalleableSignature)
POOL_THRESHOLD: Final = 4_000
PIECE: Final = 5_000


def parse_batch(data: bytes) -> tuple[int, bytes] | None:
    """(proposal id, the ballots' raw 128-byte records) of castBallots calldata, or None."""
    if len(data) < 100:
        return None
    proposal_id = int.from_bytes(data[4:36], "big")
    start = 4 + int.from_bytes(data[36:68], "big")
    if start + 32 > len(data):
        return None
    count = int.from_bytes(data[start : start + 32], "big")
    end = start + 32 + count * BALLOT_BYTES
    if end > len(data):
        return None
    return proposal_id, data[start + 32 : end]


def verify_ballots(domain: bytes, proposal_id: int, raw: bytes) -> bytes:
    """For each 128-byte ballot in `raw`: digest, status (OK, BAD_SIGNATURE, MALLEABLE) and the
    recovered signer (zeros if none), packed."""
    prefix = Types.Ballot.typehash + proposal_id.to_bytes(32, "big")
    out = bytearray()
    for start in range(0, len(raw), BALLOT_BYTES):
        words = raw[start : start + BALLOT_BYTES]
        digest = keccak(b"\x19\x01" + domain + keccak(prefix + words[:64]))
        signer, low_s = recover_compact(digest, words[64:96], words[96:128])
        if not low_s:
            status = MALLEABLE
        elif signer is None or signer != words[12:32]:
            status = BAD_SIGNATURE
        else:
            status = OK
        out += digest + bytes([status]) + (signer or bytes(20))
    return bytes(out)


class BallotVerifier:
    """Runs `verify_ballots` inline for small batches and across a process pool for large ones.

    The pool uses the forkserver start method: the API runs audits in a thread, and forking a
    threaded process can deadlock.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))
        self._pool: ProcessPoolExecutor | None = None
        self.verified = 0

    def submit(
        self, domain: bytes, proposal_id: int, raw: bytes, *, pooled: bool = False
    ) -> Callable[[], bytes]:
        """Start verifying; returns a function that waits for and returns the packed results.

        `pooled`: send it to the worker processes even if this batch alone is small (the caller
        knows many more are coming)."""
        count = len(raw) // BALLOT_BYTES
        self.verified += count
        if (count < POOL_THRESHOLD and not pooled) or self.workers < 2:
            result = verify_ballots(domain, proposal_id, raw)
            return lambda: result
        pool = self._ensure_pool()
        step = PIECE * BALLOT_BYTES
        futures: list[Future[bytes]] = [
            pool.submit(verify_ballots, domain, proposal_id, raw[i : i + step])
            for i in range(0, len(raw), step)
        ]
        return lambda: b"".join(f.result() for f in futures)

    def count(self, ballots: int) -> None:
        """Ballots verified elsewhere (in a chunk worker), for the tally of signatures checked."""
        self.verified += ballots

    def pool(self) -> ProcessPoolExecutor:
        return self._ensure_pool()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
