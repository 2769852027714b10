"""Whose signature a report carries: the auditor who registered its key on-chain.

A valid Ed25519 signature says only that the report was not edited after someone signed it;
anyone can re-sign an edited report with a key of their own. A report counts as an auditor's
when its key's fingerprint — sha256 of the raw 32-byte public key, as IRegistry defines it — is
registered in the Registry by an AUDITOR (`registerAuditorKey`), was not revoked at or before
the last block the report audits, and its auditor still held AUDITOR at that block (or, for a
report of blocks before the key was registered, when it registered it): an auditor let go, like
a key revoked, signs no report of the blocks from then on. The answer names that auditor, its
community and the block it registered the key in, or says plainly why the report is not one.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from eth_utils.address import to_checksum_address

from ledger.protocol.generated import Functions, Roles

AUDITOR_KEY_SELECTOR: Final = Functions.auditorKey.selector
HAS_ROLE_SELECTOR: Final = Functions.hasRole.selector
AUDITOR_ROLE: Final = Roles.AUDITOR

# (contract address, calldata, block or None for the latest) -> return data
EthCall = Callable[[str, bytes, int | None], bytes]


def fingerprint(raw_public_key: bytes) -> bytes:
    """The on-chain fingerprint of an Ed25519 key: sha256 of its raw 32 bytes."""
    return hashlib.sha256(raw_public_key).digest()


def document_fingerprint(document: dict[str, Any]) -> bytes | None:
    """The fingerprint of the key a signed report carries (None: unsigned or malformed)."""
    signature = document.get("signature")
    if not isinstance(signature, dict):
        return None
    try:
        raw = base64.b64decode(signature["public_key"], validate=True)
    except (KeyError, ValueError, TypeError):
        return None
    return fingerprint(raw) if len(raw) == 32 else None


@dataclass(frozen=True)
class Registration:
    community: int
    auditor: str  # checksummed
    registered_at: int  # block
    revoked_at: int  # block; 0 while in force


@dataclass(frozen=True)
class Signer:
    """`registered`: the key was registered by an auditor and in force for the report's blocks."""

    registered: bool
    fingerprint: str | None  # 0x… (None: no key to look up)
    registration: Registration | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        r = self.registration
        return {
            "registered": self.registered,
            "key_fingerprint": self.fingerprint,
            "auditor": r.auditor if r else None,
            "community": r.community if r else None,
            "registered_at_block": r.registered_at if r else None,
            "revoked_at_block": (r.revoked_at or None) if r else None,
            "detail": self.reason,
        }


def lookup(eth_call: EthCall, registry: str, key_fingerprint: bytes) -> Registration | None:
    """The Registry's record of `key_fingerprint` (None: never registered)."""
    out = eth_call(registry, AUDITOR_KEY_SELECTOR + key_fingerprint, None)
    if len(out) < 128:
        raise ValueError(f"auditorKey answered {len(out)} bytes, not 128")
    words = [int.from_bytes(out[i : i + 32], "big") for i in range(0, 128, 32)]
    community, auditor, registered_at, revoked_at = words
    if auditor == 0:
        return None
    return Registration(
        community, to_checksum_address(auditor.to_bytes(20, "big")), registered_at, revoked_at
    )


def held_auditor_role(
    eth_call: EthCall, registry: str, registration: Registration, block: int
) -> bool:
    data = (
        HAS_ROLE_SELECTOR
        + registration.community.to_bytes(32, "big")
        + AUDITOR_ROLE
        + bytes.fromhex(registration.auditor[2:]).rjust(32, b"\x00")
    )
    out = eth_call(registry, data, block)
    if len(out) < 32:
        raise ValueError(f"hasRole answered {len(out)} bytes, not 32")
    return int.from_bytes(out[:32], "big") != 0


def audited_block(document: dict[str, Any]) -> int | None:
    report = document.get("report")
    chain = report.get("chain") if isinstance(report, dict) else None
    block = chain.get("to_block") if isinstance(chain, dict) else None
    return block if isinstance(block, int) else None


def judge(document: dict[str, Any], eth_call: EthCall, registry: str) -> Signer:
    """Who signed `document`, by the keys registered in `registry`."""
    fp = document_fingerprint(document)
    if fp is None:
        return Signer(False, None, None, "the report carries no key to look up")
    shown = "0x" + fp.hex()
    registration = lookup(eth_call, registry, fp)
    if registration is None:
        return Signer(False, shown, None, f"signed by an unregistered key {shown[:18]}…")
    who = (
        f"auditor {registration.auditor} of community {registration.community} "
        f"(key registered in block {registration.registered_at})"
    )
    revoked, last = registration.revoked_at, audited_block(document)
    if revoked and (last is None or revoked <= last):
        return Signer(
            False,
            shown,
            registration,
            f"signed by a key of {who} revoked in block {revoked}, "
            f"at or before the audited block {last}",
        )
    at = max(last if last is not None else registration.registered_at, registration.registered_at)
    if not held_auditor_role(eth_call, registry, registration, at):
        return Signer(
            False,
            shown,
            registration,
            f"signed by a key of {who}, which no longer held AUDITOR at block {at}",
        )
    later = f"; revoked in block {revoked}, after the audited blocks" if revoked else ""
    return Signer(True, shown, registration, f"signed by registered {who}{later}")
