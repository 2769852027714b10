"""The admin role handed over in two steps, as `commons admin transfer-admin / accept-admin /
cancel-admin-transfer` does it:

    brownie run scripts/transfer_admin.py main COMMUNITY NEW_ADMIN [SIGNER]   # the admin offers
    brownie run scripts/transfer_admin.py accept COMMUNITY [SIGNER]           # NEW_ADMIN accepts
    brownie run scripts/transfer_admin.py cancel COMMUNITY [SIGNER]           # the admin withdraws

Nothing moves until the new admin accepts, so a mistyped address loses nothing."""

from __future__ import annotations

from ledger import admin
from scripts.admin_acts import run_act


def main(community: str, new_admin: str, signer: str = "0") -> None:
    run_act(admin.transfer_admin(int(community), new_admin), signer)


def accept(community: str, signer: str = "0") -> None:
    run_act(admin.accept_admin(int(community)), signer)


def cancel(community: str, signer: str = "0") -> None:
    run_act(admin.cancel_admin_transfer(int(community)), signer)
