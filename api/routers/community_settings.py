"""A community's administrative settings, for the admin's screen (the acts themselves are
signed forward requests through the relay)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import CommunitySettingsOut, OnChainId
from api.services.community_settings import community_settings

router = APIRouter(tags=["communities"])


@router.get(
    "/communities/{community_id}/settings",
    response_model=CommunitySettingsOut,
    responses=responses(404, 422, 503),
    summary="Role holders, pending admin transfer, fund currency and threshold, time-bank limits",
)
def get_settings(community_id: OnChainId, services: ServicesDep) -> CommunitySettingsOut:
    return community_settings(services, community_id)
