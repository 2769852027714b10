"""`brownie run scripts/set_limits.py main COMMUNITY FLOOR CEILING [SIGNER]`: the time bank's
balance limits in minutes (FLOOR at most 0, CEILING at least 0). Admin only."""

from __future__ import annotations

from ledger import admin
from scripts.admin_acts import run_act


def main(community: str, floor: str, ceiling: str, signer: str = "0") -> None:
    run_act(admin.set_limits(int(community), int(floor), int(ceiling)), signer)
