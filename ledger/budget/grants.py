"""A budget project's id outside its round: IParticipatoryBudget.grantIdOf, `2^255 | roundId << 8
| index`. CommunityFund keys the project's grant by it and Ratings its ratings; the top bit keeps
it apart from every council proposal id."""

from __future__ import annotations

from typing import Final

GRANT_FLAG: Final = 1 << 255


def grant_id(round_id: int, index: int) -> int:
    return GRANT_FLAG | round_id << 8 | index


def is_project(subject_id: int) -> bool:
    """Whether a grant or ratings id names a budget project (not a council proposal)."""
    return bool(subject_id & GRANT_FLAG)


def project_of(subject_id: int) -> tuple[int, int]:
    """(round id, project index) of a budget project's id."""
    return (subject_id ^ GRANT_FLAG) >> 8, subject_id & 0xFF
