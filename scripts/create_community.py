"""`brownie run scripts/create_community.py main "DESCRIPTION" [NEW_ADMIN] [SIGNER]`: create a
community whose admin is SIGNER; with NEW_ADMIN (an address, or "-" for none), also offer
them the admin role, which they take with `commons admin accept-admin --community ID`."""

from __future__ import annotations

from brownie import web3

from ledger import admin
from scripts.admin_acts import run_act


def main(description: str, new_admin: str = "-", signer: str = "0") -> None:
    done = run_act(admin.create_community(web3.keccak(text=description)), signer)
    community = int(done.event["communityId"])
    print(f"community {community} created, admin {done.event['admin']}")
    if new_admin != "-":
        run_act(admin.transfer_admin(community, new_admin), signer)
