"""A community's administrative settings for its admin's screen: role holders replayed from the
index, the rest read from the contracts' views by name."""

from __future__ import annotations

from api.schemas import CommunitySettingsOut
from api.services.communities import require_community, roles_of
from api.services.container import Services
from ledger.protocol.generated import FundView
from ledger.tx import view


def community_settings(services: Services, community_id: int) -> CommunitySettingsOut:
    admin = require_community(services, community_id)
    contracts = services.deployment
    registry = contracts.registry.functions
    pending: str = registry.pendingAdmin(community_id).call()
    fund = FundView(**contracts.fund.functions.fundOf(community_id).call()._asdict())
    limits = view(contracts.timebank.functions.limitsOf(community_id))
    return CommunitySettingsOut(
        id=community_id,
        admin=admin,
        pending_admin=None if int(pending, 16) == 0 else pending,
        roles=roles_of(services, community_id),
        committee_size=registry.committeeSize(community_id).call(),
        currency=bytes(fund.currency).decode("ascii", "replace").strip("\x00"),
        approval_threshold=fund.approvalThreshold,
        floor_minutes=limits["floor"],
        ceiling_minutes=limits["ceiling"],
    )
