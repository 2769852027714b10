"""A trustee's secrets for one secret vote, kept in a local file encrypted with a passphrase:
its communication key's secret, its dealing polynomial, the shares it received. Whoever holds
the file and the passphrase holds the trustee's part of the election key, so the file is
written 0600, whole or not at all, and nothing in it is ever printed or logged.

Format (JSON): {"version": 1, "kdf": "scrypt", "n", "r", "p", "salt", "nonce", "ciphertext"},
AES-256-GCM over the state's JSON with the vote's place (chain, contract, vote, trustee) as
associated data, so a file cannot be passed off as another vote's.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import LedgerError
from ledger.files import atomic_write

SCRYPT_N: Final = 2**17
SCRYPT_R, SCRYPT_P = 8, 1


class TrusteeFileError(LedgerError):
    """The file is missing, unreadable, for another vote, or the passphrase is wrong."""


@dataclass
class TrusteeState:
    """What one trustee must remember between its steps of one vote."""

    chain_id: int
    contract: str
    vote_id: int
    number: int  # 1-based place among the vote's trustees
    secret: int  # the communication key's secret e_k
    coefficients: list[int] = field(default_factory=list)  # its polynomial, once it dealt
    received: dict[int, int] = field(default_factory=dict)  # dealer -> share s_ik, checked

    def place(self) -> bytes:
        return f"{self.chain_id}:{self.contract.lower()}:{self.vote_id}:{self.number}".encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "contract": self.contract,
            "voteId": self.vote_id,
            "number": self.number,
            "secret": hex(self.secret),
            "coefficients": [hex(c) for c in self.coefficients],
            "received": {str(k): hex(v) for k, v in self.received.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrusteeState:
        return cls(
            int(data["chainId"]),
            str(data["contract"]),
            int(data["voteId"]),
            int(data["number"]),
            int(data["secret"], 16),
            [int(c, 16) for c in data["coefficients"]],
            {int(k): int(v, 16) for k, v in data["received"].items()},
        )


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        passphrase.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def seal(state: TrusteeState, passphrase: str, n: int = SCRYPT_N) -> bytes:
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    plain = json.dumps(state.to_json()).encode()
    sealed = AESGCM(_key(passphrase, salt, n, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, plain, state.place()
    )
    document = {
        "version": 1,
        "kdf": "scrypt",
        "n": n,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": salt.hex(),
        "nonce": nonce.hex(),
        "place": state.place().decode(),
        "ciphertext": sealed.hex(),
    }
    return json.dumps(document).encode()


def unseal(data: bytes, passphrase: str, where: Path | str) -> TrusteeState:
    try:
        document = json.loads(data)
        salt, nonce = bytes.fromhex(document["salt"]), bytes.fromhex(document["nonce"])
        n, r, p = int(document["n"]), int(document["r"]), int(document["p"])
        place, sealed = str(document["place"]).encode(), bytes.fromhex(document["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        raise TrusteeFileError(f"{where} is not a trustee file: {exc}") from exc
    if document.get("version") != 1 or not 2**14 <= n <= 2**20:
        raise TrusteeFileError(f"{where}: unknown version or scrypt cost")
    try:
        plain = AESGCM(_key(passphrase, salt, n, r, p)).decrypt(nonce, sealed, place)
    except InvalidTag:
        raise TrusteeFileError(f"wrong passphrase for {where} (or the file was altered)") from None
    state = TrusteeState.from_json(json.loads(plain))
    if state.place() != place:
        raise TrusteeFileError(f"{where} names another vote than it holds")
    return state


def load(path: Path, passphrase: str) -> TrusteeState:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrusteeFileError(f"cannot read the trustee file {path}: {exc.strerror}") from exc
    return unseal(data, passphrase, path)


def save(path: Path, state: TrusteeState, passphrase: str, *, new: bool = False) -> None:
    """Write `path` 0600 whole (a temporary file renamed over it); `new`: never over a file."""
    data = seal(state, passphrase)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        atomic_write(path, data, once=new)
    except FileExistsError:
        raise TrusteeFileError(
            f"{path} exists: it may hold a trustee's secrets; choose another"
        ) from None
