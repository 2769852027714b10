"""`brownie run scripts/revoke_role.py main COMMUNITY ROLE ACCOUNT [SIGNER]`: revoke ROLE
(COMMITTEE, REGISTRAR, COORDINATOR, AUDITOR) in COMMUNITY from ACCOUNT. Admin only."""

from __future__ import annotations

from ledger import admin
from scripts.admin_acts import run_act


def main(community: str, role: str, account: str, signer: str = "0") -> None:
    run_act(admin.revoke_role(int(community), admin.role_id(role), account), signer)
