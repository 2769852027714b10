"""The fund's trail: the CommunityFund events a reader follows the money by (served by the API
as `/v1/communities/{id}/fund/trail`, compared with the chain by `commons audit --api`)."""

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
