"""Encrypted key files: one per name, in a directory of their own.

Each file is a Web3 Secret Storage v3 document (scrypt, AES-128-CTR, keccak MAC) written by
eth-account's `Account.encrypt`: the format brownie keeps in ~/.brownie/accounts/<name>.json
(`accounts.load(path)` opens ours as they are) and ethers reads with `Wallet.fromEncryptedJson`.
A file holds the key's address in the clear, so `list` needs no passphrase; unlocking checks
that the key inside is the address outside.

Files are written 0600 in a 0700 directory, complete or not at all (a temporary file, fsync,
then a hard link to the final name, which also refuses a name already taken), and never
rewritten: a key is replaced by removing its file by hand.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_hex_address, to_checksum_address

from ledger.config import Settings
from ledger.errors import ConfigError, LedgerError
from ledger.files import atomic_write

# The standard scrypt cost (geth, ethers, eth-account): 256 MiB and ~0.5 s per unlock (0.52 s
# measured here, load 3.5), on purpose: as much for each guess at a stolen file.
STANDARD_SCRYPT_N = 262_144
# A file asking for more than this would take minutes and gigabytes to open: refused unread.
MAX_SCRYPT_N = 1 << 20
MAX_SCRYPT_RP = 16
MAX_PBKDF2_ROUNDS = 10_000_000
KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SUFFIX = ".json"


class KeystoreError(LedgerError):
    """A key file could not be found, written, read or opened."""


class BadKeyName(KeystoreError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"bad key name {name!r}: letters, digits, '.', '_' and '-', up to 64, "
            "starting with a letter or digit"
        )


class UnknownKey(KeystoreError):
    def __init__(self, name: str, directory: Path) -> None:
        super().__init__(f"no key named {name!r} in {directory} (`commons key list` shows them)")
        self.name = name


class KeyNameTaken(KeystoreError):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(f"a key named {name!r} already exists ({path}); choose another name")
        self.name = name


class WrongPassphrase(KeystoreError):
    def __init__(self, what: str) -> None:
        super().__init__(f"wrong passphrase for {what}")


class MalformedKeyFile(KeystoreError):
    def __init__(self, path: Path | str, why: str) -> None:
        super().__init__(f"{path} is not a usable key file: {why}")


class MalformedPrivateKey(KeystoreError):
    """What was offered as a private key is not one (its text is never repeated back)."""

    def __init__(self) -> None:
        super().__init__("not a private key: expected 64 hex digits (0x optional) on one line")


@dataclass(frozen=True)
class KeyEntry:
    """A key file as `list` shows it: its name, its address (as the file records it) and path."""

    name: str
    address: str
    path: Path


class Keystore:
    """The named key files in `directory`, encrypted with scrypt cost `scrypt_n`."""

    def __init__(self, directory: Path, scrypt_n: int = STANDARD_SCRYPT_N) -> None:
        if scrypt_n < 2 or scrypt_n & (scrypt_n - 1):
            raise ConfigError(f"scrypt cost n={scrypt_n} is not a power of two")
        self.directory = directory
        self.scrypt_n = scrypt_n

    @classmethod
    def of(cls, settings: Settings) -> Keystore:
        return cls(settings.keystore_dir or settings.data_dir / "keys", settings.keystore_scrypt_n)

    def path(self, name: str) -> Path:
        if not KEY_NAME.fullmatch(name):
            raise BadKeyName(name)
        return self.directory / f"{name}{SUFFIX}"

    def check_free(self, name: str) -> None:
        """Refuse a bad name, or one already taken, before anything secret is asked for."""
        path = self.path(name)
        if path.exists():
            raise KeyNameTaken(name, path)

    def entries(self) -> list[KeyEntry]:
        """Every key file here, by name; a file that is not a key file is a MalformedKeyFile."""
        if not self.directory.is_dir():
            return []
        found = sorted(p for p in self.directory.glob(f"*{SUFFIX}") if KEY_NAME.fullmatch(p.stem))
        return [self._entry(p.stem, p) for p in found]

    def entry(self, name: str) -> KeyEntry:
        path = self.path(name)
        if not path.is_file():
            raise UnknownKey(name, self.directory)
        return self._entry(name, path)

    def _entry(self, name: str, path: Path) -> KeyEntry:
        document = read_key_file(path)
        if "address" not in document:
            raise MalformedKeyFile(path, "it records no address")
        return KeyEntry(name, to_checksum_address(document["address"]), path)

    def create(self, name: str, passphrase: str) -> KeyEntry:
        """A new random key under `name`."""
        return self.add(name, secrets.token_bytes(32), passphrase)

    def add(self, name: str, private_key: bytes, passphrase: str) -> KeyEntry:
        """Keep `private_key` under `name`, encrypted with `passphrase`."""
        self.check_free(name)
        path = self.path(name)
        account = account_of(private_key)
        document = Account.encrypt(account.key, passphrase, kdf="scrypt", iterations=self.scrypt_n)
        document["address"] = account.address[2:].lower()
        try:
            _write_new(path, json.dumps(document, indent=2).encode())
        except OSError as exc:
            raise KeystoreError(f"cannot write {path}: {exc.strerror or exc}") from None
        return KeyEntry(name, account.address, path)

    def unlock(self, name: str, passphrase: str) -> LocalAccount:
        entry = self.entry(name)
        return open_key_file(read_key_file(entry.path), passphrase, f"key {name!r}", entry.path)


def account_of(private_key: bytes) -> LocalAccount:
    try:
        account: LocalAccount = Account.from_key(private_key)
    except (ValueError, TypeError):
        raise MalformedPrivateKey() from None
    return account


def parse_private_key(text: str) -> bytes:
    """A private key typed or piped in: 64 hex digits, 0x optional, surrounding space ignored."""
    digits = text.strip().removeprefix("0x").removeprefix("0X")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", digits):
        raise MalformedPrivateKey()
    key = bytes.fromhex(digits)
    account_of(key)  # zero or beyond the curve order
    return key


def read_key_file(path: Path) -> dict[str, Any]:
    """A Secret Storage v3 document, checked for shape and for a cost it is reasonable to pay."""
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise MalformedKeyFile(path, exc.strerror or str(exc)) from None
    except ValueError:
        raise MalformedKeyFile(path, "not JSON") from None
    return checked_document(document, path)


def checked_document(document: Any, where: Path | str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise MalformedKeyFile(where, "not a JSON object")
    if document.get("version") != 3:
        raise MalformedKeyFile(where, "not a version 3 keystore")
    # geth and eth-account write "crypto", ethers and older clients "Crypto".
    crypto = document.get("crypto", document.get("Crypto"))
    if not isinstance(crypto, dict):
        raise MalformedKeyFile(where, "no crypto section")
    for field in ("ciphertext", "cipherparams", "kdf", "kdfparams", "mac"):
        if field not in crypto:
            raise MalformedKeyFile(where, f"crypto section lacks {field!r}")
    if crypto.get("cipher") != "aes-128-ctr":
        raise MalformedKeyFile(where, f"unsupported cipher {crypto.get('cipher')!r}")
    _check_cost(crypto["kdf"], crypto["kdfparams"], where)
    address = document.get("address")
    if address is not None and not (
        isinstance(address, str) and is_hex_address("0x" + address.removeprefix("0x"))
    ):
        raise MalformedKeyFile(where, "its address is not an address")
    return document


def _check_cost(kdf: Any, params: Any, where: Path | str) -> None:
    if not isinstance(params, dict):
        raise MalformedKeyFile(where, "kdfparams is not an object")
    try:
        if kdf == "scrypt":
            n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
            if not (2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r * p <= MAX_SCRYPT_RP):
                raise MalformedKeyFile(where, f"unreasonable scrypt parameters n={n} r={r} p={p}")
        elif kdf == "pbkdf2":
            if not 1 <= int(params["c"]) <= MAX_PBKDF2_ROUNDS:
                raise MalformedKeyFile(where, f"unreasonable pbkdf2 rounds {params['c']}")
        else:
            raise MalformedKeyFile(where, f"unsupported key derivation {kdf!r}")
        if int(params["dklen"]) != 32:
            raise MalformedKeyFile(where, "derived key length is not 32")
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedKeyFile(where, f"bad kdfparams ({type(exc).__name__})") from None


def open_key_file(
    document: dict[str, Any], passphrase: str, what: str, where: Path | str
) -> LocalAccount:
    """The account in a checked document. The MAC tells a wrong passphrase from a right one;
    a recorded address that is not the key's means the file was tampered with."""
    try:
        key = Account.decrypt(document, passphrase)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPassphrase(what) from None
        raise MalformedKeyFile(where, "its crypto section does not decode") from None
    except (KeyError, TypeError, NotImplementedError):
        raise MalformedKeyFile(where, "its crypto section does not decode") from None
    account = account_of(bytes(key))
    recorded = document.get("address")
    if recorded is not None and account.address.lower() != "0x" + recorded.lower().removeprefix(
        "0x"
    ):
        raise MalformedKeyFile(where, "the address it records is not its key's")
    return account


def _write_new(path: Path, data: bytes) -> None:
    """Write `path` 0600, whole, once: never over an existing file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        atomic_write(path, data, once=True)
    except FileExistsError:
        raise KeyNameTaken(path.stem, path) from None
