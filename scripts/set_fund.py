"""`brownie run scripts/set_fund.py main COMMUNITY CURRENCY THRESHOLD [SIGNER]`: the fund's
currency (set once; "-" to leave it) and the payout approval threshold (at most the
committee's size; "-" to leave it). Admin only."""

from __future__ import annotations

from ledger import admin
from scripts.admin_acts import run_act


def main(community: str, currency: str, threshold: str, signer: str = "0") -> None:
    if currency != "-":
        run_act(admin.set_currency(int(community), admin.currency_code(currency)), signer)
    if threshold != "-":
        run_act(admin.set_approval_threshold(int(community), int(threshold)), signer)
