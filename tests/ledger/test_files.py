"""Durable whole-file writes: replace, or write once and never over a file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ledger.files import atomic_write


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "state.json"
    atomic_write(target, "old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_write_once_never_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "key.json"
    atomic_write(target, "first", once=True)
    with pytest.raises(FileExistsError):
        atomic_write(target, "second", once=True)
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]
