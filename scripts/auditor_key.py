"""An auditor's report key, as `commons admin register-auditor-key / revoke-auditor-key` does it:

    brownie run scripts/auditor_key.py main COMMUNITY FINGERPRINT [SIGNER]   # the AUDITOR registers
    brownie run scripts/auditor_key.py revoke FINGERPRINT [SIGNER]           # its auditor or admin

FINGERPRINT is 0x and 64 hex digits: the sha256 of the raw Ed25519 report key, as
`commons audit keygen` prints it."""

from __future__ import annotations

from ledger import admin
from scripts.admin_acts import one_line_errors, run_act


def _fingerprint(text: str) -> bytes:
    with one_line_errors():
        if len(text) != 66 or not text.startswith("0x"):
            raise admin.AdminRefused(f"FINGERPRINT must be 0x and 64 hex digits, got {text!r}")
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise admin.AdminRefused(f"FINGERPRINT is not hex: {text!r}") from None


def main(community: str, fingerprint: str, signer: str = "0") -> None:
    run_act(admin.register_auditor_key(int(community), _fingerprint(fingerprint)), signer)


def revoke(fingerprint: str, signer: str = "0") -> None:
    run_act(admin.revoke_auditor_key(_fingerprint(fingerprint)), signer)
