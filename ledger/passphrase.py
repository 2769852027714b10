"""Where a key's passphrase comes from: the terminal, or a file descriptor; and how a process
hands one to a child it starts.

Never from an environment variable (anyone who can read /proc/<pid>/environ reads it, and
children inherit it), never from the command line (`ps` shows it), never printed or logged.
A script or a test gives it on a descriptor: `commons key new admin --passphrase-fd 3
3<passphrase-file`, or a pipe.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ledger.keystore import KeystoreError

MIN_PASSPHRASE_CHARS = 8
# Well inside a pipe's 64 KiB, so handing one over never blocks.
MAX_PASSPHRASE_BYTES = 1024


class NoPassphrase(KeystoreError):
    """Neither a terminal to ask nor a descriptor to read."""


class WeakPassphrase(KeystoreError):
    def __init__(self) -> None:
        super().__init__(f"a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")


class PassphraseTooLong(KeystoreError):
    def __init__(self) -> None:
        super().__init__(f"a passphrase may have at most {MAX_PASSPHRASE_BYTES} bytes")


class PassphraseMismatch(KeystoreError):
    def __init__(self) -> None:
        super().__init__("the two passphrases differ; nothing was written")


def read_passphrase(prompt: str, fd: int | None, *, confirm: bool = False) -> str:
    """The passphrase from descriptor `fd` (its first line; a descriptor above 2 is closed
    after), else asked at the terminal without echo, twice when `confirm`. At most
    MAX_PASSPHRASE_BYTES; a new one (`confirm`) at least MIN_PASSPHRASE_CHARS long."""
    if fd is not None:
        passphrase = read_from_fd(fd)
    else:
        passphrase = _ask(prompt)
        if confirm and _ask("again: ") != passphrase:
            raise PassphraseMismatch()
    if len(passphrase.encode()) > MAX_PASSPHRASE_BYTES:
        raise PassphraseTooLong()
    if confirm and len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise WeakPassphrase()
    return passphrase


def read_from_fd(fd: int) -> str:
    """The first line on `fd` (read no further than a passphrase may be long)."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_PASSPHRASE_BYTES:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if b"\n" in chunk:
                break
    except OSError as exc:
        raise NoPassphrase(
            f"cannot read a passphrase from descriptor {fd}: {exc.strerror}"
        ) from None
    finally:
        if fd > 2:
            os.close(fd)
    line = b"".join(chunks).split(b"\n", 1)[0].removesuffix(b"\r")
    try:
        return line.decode()
    except UnicodeDecodeError:
        raise NoPassphrase(f"the passphrase on descriptor {fd} is not UTF-8") from None


def _ask(prompt: str) -> str:
    # getpass falls back to reading stdin with echo when there is no terminal: refuse instead.
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        raise NoPassphrase(
            "no terminal to ask for the passphrase: give it on a descriptor (--passphrase-fd N)"
        ) from None
    return getpass.getpass(prompt)


@contextmanager
def handed_over(passphrase: str) -> Iterator[int]:
    """A descriptor a child process started within may read `passphrase` from (pass it in
    `pass_fds`): a pipe holding it, written and closed before the child starts, so the child
    reads it and then EOF. Our end is closed on leaving."""
    data = passphrase.encode() + b"\n"
    read_end, write_end = os.pipe()
    try:
        # A pipe holds 64 KiB; a passphrase is far smaller, so this never blocks.
        os.write(write_end, data)
    finally:
        os.close(write_end)
    try:
        yield read_end
    finally:
        os.close(read_end)
