"""The fund's trail: the CommunityFund events a reader follows the money by, as the API serves
them (`/v1/communities/{id}/fund/trail`). The audit names them again on its own
(ledger/audit/funds.py): it checks what is served, so it does not borrow the list."""

from __future__ import annotations

from typing import Final

TRAIL_EVENTS: Final = (
    "IncomeRecorded",
    "GrantOpened",
    "GrantClosed",
    "PayoutRequested",
    "PayoutApproved",
    "PayoutCancelled",
    "PayoutExecuted",
)
