"""Join requests: a resident asks, with their own key, to be put on a community's roll.

The page makes the key and signs; the resident brings the request to the community office as a
short code and a QR code, and the registrar, having checked the person, adds the address. The
signature proves the person at the desk holds the key being added (a registrar cannot be handed
someone else's address by mistake or by a trick), and the QR code carries the whole signed
request, so the registrar's page checks it without trusting the API that stored it.

EIP-712 under its own domain (name "CommonsJoin", version "1", the chain id, the deployment's
Registry as verifying contract), so another chain's or deployment's request is refused:

    JoinRequest(uint256 communityId, address resident, uint64 issuedAt)

`issuedAt` is unix seconds; it makes each request distinct (a resident who asks again gets a new
code) and lets a registrar see how old one is. Its short code is the digest's first 40 bits in
Crockford's base32, 8 characters shown as XXXX-XXXX: easy to read aloud and type, with no
I/L/O/U to mistake. 40 bits is for finding a request, not for proving it: the signature does
that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from ledger.hashing import checksum_address
from ledger.protocol.generated import Domains, Types
from ledger.signing.eip712 import (
    SignatureError,
    digest,
    domain_for,
    recover_address_bytes,
    sign_typed_data,
    to_compact,
)

JOIN_TYPES: Final = Types.JoinRequest.eip712_types()
CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# What a person may type for a code: any case, dashes and spaces, O for 0 and I or L for 1.
_READ_AS: Final = {**{c: c for c in CROCKFORD}, "O": "0", "I": "1", "L": "1"}
CODE_BITS: Final = 40
UINT64: Final = 2**64


def join_domain(chain_id: int, registry: str) -> dict[str, Any]:
    return domain_for(Domains.Join.name, Domains.Join.version, chain_id, registry)


def short_code(message_digest: bytes) -> str:
    """The digest's first 40 bits as 8 Crockford base32 characters, XXXX-XXXX."""
    bits = int.from_bytes(message_digest[: CODE_BITS // 8], "big")
    chars = "".join(CROCKFORD[(bits >> shift) & 31] for shift in range(CODE_BITS - 5, -1, -5))
    return f"{chars[:4]}-{chars[4:]}"


def read_code(text: str) -> str:
    """A code as typed (any case, with or without the dash, O for 0...) in its XXXX-XXXX form;
    ValueError when it is not one."""
    chars = [_READ_AS.get(c) for c in text.upper() if c not in "- "]
    if len(chars) != CODE_BITS // 5 or None in chars:
        raise ValueError(f"{text!r} is not a join code (8 letters and digits, XXXX-XXXX)")
    joined = "".join(c for c in chars if c is not None)
    return f"{joined[:4]}-{joined[4:]}"


@dataclass(frozen=True)
class JoinRequest:
    community_id: int
    resident: str
    issued_at: int
    signature: bytes

    def message(self) -> dict[str, Any]:
        return {
            "communityId": self.community_id,
            "resident": self.resident,
            "issuedAt": self.issued_at,
        }

    def digest(self, chain_id: int, registry: str) -> bytes:
        return digest(join_domain(chain_id, registry), JOIN_TYPES, "JoinRequest", self.message())

    def code(self, chain_id: int, registry: str) -> str:
        return short_code(self.digest(chain_id, registry))

    def to_json(self) -> dict[str, Any]:
        """What the QR code carries: the message's EIP-712 field names and the signature."""
        return {**self.message(), "signature": "0x" + self.signature.hex()}

    def compact(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Any) -> JoinRequest:
        """A request as the page or the API gives it; SignatureError when it is not one."""
        try:
            community_id, issued_at = int(data["communityId"]), int(data["issuedAt"])
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            resident = checksum_address(str(data["resident"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"not a join request: {exc}") from exc
        if not (0 < community_id < 2**256 and 0 <= issued_at < UINT64):
            raise SignatureError("not a join request: a value is out of range")
        return cls(community_id, resident, issued_at, signature)


def sign_join(
    account: Any, community_id: int, issued_at: int, chain_id: int, registry: str
) -> JoinRequest:
    """A join request signed by `account` (a LocalAccount): what the page does, for tests and
    the CLI."""
    request = JoinRequest(community_id, checksum_address(account.address), issued_at, b"")
    signature = sign_typed_data(
        account, join_domain(chain_id, registry), JOIN_TYPES, "JoinRequest", request.message()
    )
    return JoinRequest(community_id, request.resident, issued_at, signature)


def verify_join(request: JoinRequest, chain_id: int, registry: str) -> bytes:
    """The request's digest, once its signature is known to be the resident's own (low s, as
    every signer makes); SignatureError otherwise."""
    to_compact(request.signature)  # the length, the recovery id and a low s
    message_digest = request.digest(chain_id, registry)
    try:
        signer = checksum_address(recover_address_bytes(message_digest, request.signature))
    except ValueError as exc:
        raise SignatureError(f"unreadable join request signature: {exc}") from exc
    if signer != request.resident:
        raise SignatureError(
            f"the join request is signed by {signer}, not by the resident {request.resident}"
        )
    return message_digest
