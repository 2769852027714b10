"""Sign-in with Ethereum (EIP-4361 style): challenge -> personal_sign -> short-lived token.

Reads of private off-chain data need a token, and so does writing into someone's pending-service
inbox (only its provider may); every state change on the chain is authorised by the actor's own
signature on the message itself, never by a session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_address, to_checksum_address

CHALLENGE_TTL_S = 300
MAC_BYTES = hashlib.sha256().digest_size


@dataclass(frozen=True)
class Challenge:
    address: str
    nonce: str
    message: str
    expires_at: float


class TokenAuthority:
    """Issues and checks HMAC tokens bound to an address; keeps outstanding challenges."""

    def __init__(
        self,
        secret: bytes,
        *,
        domain: str,
        chain_id: int,
        token_ttl_s: int,
        max_challenges: int = 10_000,
    ) -> None:
        self._secret = secret
        self.domain = domain
        self.chain_id = chain_id
        self.token_ttl_s = token_ttl_s
        self.max_challenges = max_challenges
        # Insertion order is expiry order (one TTL for all): the oldest is always first.
        self._challenges: dict[str, Challenge] = {}
        self._lock = threading.Lock()

    def challenge(self, address: str) -> Challenge:
        if not is_address(address):
            raise ValueError("not an Ethereum address")
        address = to_checksum_address(address)
        nonce = secrets.token_hex(12)
        now = time.time()
        expires = now + CHALLENGE_TTL_S
        message = (
            f"{self.domain} wants you to sign in with your Ethereum account:\n{address}\n\n"
            "Sign in to Commons Ledger to read the community's private records.\n\n"
            f"URI: http://{self.domain}\nVersion: 1\nChain ID: {self.chain_id}\nNonce: {nonce}\n"
            f"Issued At: {_iso(now)}\nExpiration Time: {_iso(expires)}"
        )
        challenge = Challenge(address, nonce, message, expires)
        with self._lock:
            # Expired ones go; past the cap the oldest outstanding one goes too (its holder asks
            # again), so the map stays bounded whoever asks how often. Each client's rate is
            # bounded at the route (api/routers/auth.py).
            while self._challenges:
                oldest = next(iter(self._challenges.values()))
                if oldest.expires_at > now and len(self._challenges) < self.max_challenges:
                    break
                del self._challenges[oldest.nonce]
            self._challenges[nonce] = challenge
        return challenge

    def outstanding(self) -> int:
        """How many challenges wait to be signed."""
        with self._lock:
            return len(self._challenges)

    def login(self, nonce: str, signature: str) -> tuple[str, str, float]:
        """Check the signed challenge (single use); return (address, token, expires_at)."""
        with self._lock:
            challenge = self._challenges.pop(nonce, None)
        if challenge is None or challenge.expires_at < time.time():
            raise PermissionError("unknown or expired challenge: ask for a new one")
        try:
            signer = Account.recover_message(
                encode_defunct(text=challenge.message), signature=signature
            )
        except Exception as exc:
            raise PermissionError("malformed signature") from exc
        if signer != challenge.address:
            raise PermissionError("the signature is not from the challenged address")
        expires = time.time() + self.token_ttl_s
        return signer, self._token(signer, expires), expires

    def _token(self, address: str, expires: float) -> str:
        body = f"{address}:{int(expires)}".encode()
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(body + b"." + mac).decode()

    def verify(self, token: str) -> str:
        """The address a token stands for; PermissionError if forged or expired."""
        try:
            raw = base64.urlsafe_b64decode(token.encode())
            # The MAC is raw bytes (any of them may be b"."): split by its fixed length.
            body, separator, mac = (
                raw[: -MAC_BYTES - 1],
                raw[-MAC_BYTES - 1 : -MAC_BYTES],
                raw[-MAC_BYTES:],
            )
            if separator != b"." or len(mac) != MAC_BYTES:
                raise ValueError("bad layout")
            address, expires = body.decode().split(":")
            expires_at = int(expires)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PermissionError("malformed token") from exc
        expected = hmac.new(self._secret, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise PermissionError("forged token")
        if expires_at < time.time():
            raise PermissionError("token expired: sign in again")
        return address


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
