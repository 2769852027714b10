"""Where a passphrase comes from: a descriptor's first line, or the terminal (twice for a new
key, never echoed); never asked when there is neither; and a pipe that hands one to a child."""

from __future__ import annotations

import os

import pytest

from ledger.passphrase import (
    NoPassphrase,
    PassphraseMismatch,
    PassphraseTooLong,
    WeakPassphrase,
    handed_over,
    read_from_fd,
    read_passphrase,
)

PASSPHRASE = "correct horse battery staple"


def test_passphrase_is_the_first_line_of_its_descriptor() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"first line\nsecond line\n")
    os.close(write_end)
    assert read_from_fd(read_end) == "first line"
    with pytest.raises(OSError):
        os.fstat(read_end)  # closed after reading


def test_passphrase_handed_over_reads_back_once() -> None:
    with handed_over(PASSPHRASE) as fd:
        assert read_passphrase("unused", os.dup(fd)) == PASSPHRASE


def test_new_passphrase_shorter_than_eight_characters_is_refused() -> None:
    with handed_over("short") as fd, pytest.raises(WeakPassphrase):
        read_passphrase("unused", os.dup(fd), confirm=True)


def test_a_passphrase_longer_than_a_kilobyte_is_refused() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"x" * 5000 + b"\n")
    os.close(write_end)
    with pytest.raises(PassphraseTooLong):
        read_passphrase("unused", read_end)


def test_without_a_terminal_or_descriptor_nothing_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_tty(path: str, flags: int) -> int:
        raise OSError("no tty")

    monkeypatch.setattr("ledger.passphrase.os.open", no_tty)
    with pytest.raises(NoPassphrase, match="--passphrase-fd"):
        read_passphrase("passphrase: ", None)


def test_two_different_passphrases_at_the_terminal_write_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter([PASSPHRASE, PASSPHRASE + "!"])
    monkeypatch.setattr("ledger.passphrase._ask", lambda prompt: next(answers))
    with pytest.raises(PassphraseMismatch):
        read_passphrase("passphrase: ", None, confirm=True)
