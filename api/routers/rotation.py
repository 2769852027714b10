"""A member's time-bank history across key rotations (a lost or replaced phone)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import MemberHistoryOut, OnChainId
from api.services import rotation

router = APIRouter(tags=["timebank"])


@router.get(
    "/communities/{community_id}/members/{account}/history",
    response_model=MemberHistoryOut,
    responses=responses(404, 422, 503),
)
def member_history(
    community_id: OnChainId, account: str, services: ServicesDep
) -> MemberHistoryOut:
    """`account`'s balance and its time-bank records, with those of every key it replaced:
    each balance carried over names the old key, the minutes and when."""
    return rotation.member_history(services, community_id, account)
