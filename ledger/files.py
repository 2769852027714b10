"""Durable whole-file writes: what every file the ledger keeps on disk is written with."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: str | bytes, *, once: bool = False) -> None:
    """Write `path` whole and durably: a crash leaves the old file or the new one, never a part.

    The data goes to a temporary file (0600, as mkstemp makes it), is fsynced, then renamed over
    `path`; with `once`, it is linked to `path` instead, which raises FileExistsError if the name
    is taken (even by a writer that raced this one), so an existing file is never replaced.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    raw = data.encode() if isinstance(data, str) else data
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if once:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
