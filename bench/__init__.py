"""Benchmarks (`make bench`); what they share."""

from __future__ import annotations

from ledger.node import cpu_seconds


def process_cpu(pid: int) -> float:
    """CPU seconds `pid` has used so far; a process gone mid-benchmark ends the benchmark."""
    used = cpu_seconds(pid)
    if used is None:
        raise SystemExit(f"error: process {pid} ended during the benchmark")
    return used
