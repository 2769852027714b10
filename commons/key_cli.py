"""`commons key`: the admin's, officers' and relayer's keys, encrypted in the keystore.

Every failure is one line on stderr and exit status 1. Nothing secret is ever printed: commands
show names, addresses and paths. Passphrases come from the terminal (asked twice for a new key)
or from a descriptor (`--passphrase-fd N`, for scripts), never from the command line.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from commons.errors import one_line_errors
from ledger.config import Settings
from ledger.keystore import (
    STANDARD_SCRYPT_N,
    KeyEntry,
    Keystore,
    open_key_file,
    parse_private_key,
    read_key_file,
)
from ledger.passphrase import read_passphrase

key_app = typer.Typer(
    name="key",
    help="Encrypted key files (Web3 Secret Storage v3, scrypt; the format brownie and ethers "
    "read) in the keystore directory, COMMONS_KEYSTORE_DIR (default <data dir>/keys).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

PASSPHRASE_FD_OPTION = typer.Option(
    "--passphrase-fd",
    metavar="N",
    help="read the passphrase from file descriptor N (its first line) instead of asking at the "
    "terminal",
)
RELAYER_KEY_OPTION = typer.Option(
    "--relayer-key",
    metavar="NAME",
    help="pay gas with key NAME from the keystore (else COMMONS_RELAYER_KEYSTORE); its "
    "passphrase is asked once at the terminal, or read from --passphrase-fd",
)
PassphraseFd = Annotated[int | None, PASSPHRASE_FD_OPTION]
Name = Annotated[str, typer.Argument(metavar="NAME", help="the key's name (its file is NAME.json)")]


def _keystore() -> Keystore:
    return Keystore.of(Settings())


def _say_written(verb: str, entry: KeyEntry, keystore: Keystore) -> None:
    typer.echo(f"{verb} key {entry.name!r}: {entry.address}")
    typer.echo(f"file: {entry.path}")
    if keystore.scrypt_n < STANDARD_SCRYPT_N:
        typer.echo(
            f"warning: scrypt cost n={keystore.scrypt_n} is below the standard "
            f"{STANDARD_SCRYPT_N} (COMMONS_KEYSTORE_SCRYPT_N): for tests only",
            err=True,
        )


@key_app.command()
@one_line_errors(interrupted="interrupted; nothing was written")
def new(name: Name, passphrase_fd: PassphraseFd = None) -> None:
    """Make a new random key NAME and print its address.

    Its passphrase is asked twice at the terminal, or read once from --passphrase-fd."""
    keystore = _keystore()
    keystore.check_free(name)  # before the passphrase is asked
    prompt = f"passphrase for the new key {name!r}: "
    passphrase = read_passphrase(prompt, passphrase_fd, confirm=True)
    _say_written("new", keystore.create(name, passphrase), keystore)


@key_app.command("import")
@one_line_errors(interrupted="interrupted; nothing was written")
def import_key(
    name: Name,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            metavar="FILE",
            help="a keystore file written by brownie (~/.brownie/accounts/NAME.json), ethers or "
            "geth; the key keeps that file's passphrase",
        ),
    ] = None,
    passphrase_fd: PassphraseFd = None,
) -> None:
    """Keep an existing key as NAME: a private key, or a keystore file.

    Without --from-file, a private key (64 hex digits) is read from stdin (asked without echo
    at a terminal) and encrypted with a new passphrase (asked twice). With --from-file, the
    file is opened with its passphrase, which the key keeps."""
    keystore = _keystore()
    keystore.check_free(name)  # before anything secret is read
    if from_file is not None:
        document = read_key_file(from_file)
        passphrase = read_passphrase(f"passphrase of {from_file.name}: ", passphrase_fd)
        account = open_key_file(document, passphrase, str(from_file), from_file)
        key = bytes(account.key)
    else:
        key = parse_private_key(_read_private_key())
        passphrase = read_passphrase(
            f"passphrase for the key {name!r}: ", passphrase_fd, confirm=True
        )
    _say_written("imported", keystore.add(name, key, passphrase), keystore)


def _read_private_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("private key (hex, not echoed): ")
    return sys.stdin.readline()


@key_app.command("list")
@one_line_errors(interrupted="interrupted; nothing was written")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Show every key's name and address (no passphrase needed)."""
    keystore = _keystore()
    entries = keystore.entries()
    if as_json:
        typer.echo(json.dumps([{"name": e.name, "address": e.address} for e in entries]))
        return
    if not entries:
        typer.echo(f"no keys in {keystore.directory} (make one with `commons key new NAME`)")
        return
    width = max(len(e.name) for e in entries)
    for entry in entries:
        typer.echo(f"{entry.name:<{width}}  {entry.address}")


@key_app.command()
@one_line_errors(interrupted="interrupted; nothing was written")
def address(name: Name) -> None:
    """Print the address of key NAME, e.g. to fund it or grant it a role.

    No passphrase is needed: the address is kept in the clear in the key's file."""
    typer.echo(_keystore().entry(name).address)
