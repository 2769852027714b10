"""Proxies: appointing and revoking a proxy, a proxy's ballots, who holds whose mandate, and how
many of a proposal's ballots were cast by proxy."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.proxy_schemas import (
    ElectionProxyBallotIn,
    HeldOut,
    MandateIn,
    MandateOut,
    ProxyBallotIn,
    ProxyCountOut,
)
from api.schemas import Address, OnChainId, ReceiptOut
from api.services import proxies
from api.services.relay import accept

router = APIRouter(tags=["proxies"])


@router.post(
    "/mandates",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Appoint or revoke a proxy (signed by the resident, gasless)",
)
async def post_mandate(body: MandateIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the resident), nonce not used, and
    for an appointment the scope, a proxy other than the resident, both on the roll, the proxy
    under the community's limit; for a revocation a live mandate. Landed by Mandates.appoint /
    revoke, whose skip reason a rejected receipt carries."""
    return await accept(services, "mandate", body.model_dump(exclude_none=True))


@router.post(
    "/proxy-ballots",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Cast a ballot for a resident as their proxy (signed by the proxy, gasless)",
)
async def post_proxy_ballot(body: ProxyBallotIn, services: ServicesDep) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the proxy), proposal open, option
    valid, voter and proxy on the roll at the proposal's snapshot, the voter's live mandate naming
    the proxy for this proposal, the voter not yet voted. The resident's own ballot, before or
    after, always wins."""
    return await accept(services, "proxy-ballot", body.model_dump())


@router.post(
    "/election-proxy-ballots",
    status_code=202,
    response_model=ReceiptOut,
    responses=responses(409, 413, 422, 429, 503),
    summary="Cast an election ballot for a resident as their proxy (signed by the proxy, gasless)",
)
async def post_election_proxy_ballot(
    body: ElectionProxyBallotIn, services: ServicesDep
) -> ReceiptOut:
    """Checked before acknowledgement: signature (low-s, by the proxy), election open, choices
    valid for its kind, voter and proxy on the roll at the election's snapshot, the voter in no
    paper box, the voter's live mandate naming the proxy for this election, the voter not voted
    themself, one proxy ballot per voter, the proxy under the community's limit. Landed by
    ElectionProxies.castElectionProxyBallots; a rejected receipt carries the skip reason. The
    resident's own ballot, before or after, always wins: after, it replaces the proxy's on the
    chain (whose receipt stays counted)."""
    return await accept(services, "election-proxy-ballot", body.model_dump())


@router.get(
    "/communities/{community_id}/mandates/{resident}",
    response_model=MandateOut,
    responses=responses(422, 503),
    summary="Who holds this resident's mandate",
)
def get_mandate(community_id: OnChainId, resident: Address, services: ServicesDep) -> MandateOut:
    return proxies.mandate_of(services, community_id, resident)


@router.get(
    "/communities/{community_id}/proxies/{proxy}",
    response_model=HeldOut,
    responses=responses(422, 503),
    summary="Whose mandates this resident holds",
)
def get_held(community_id: OnChainId, proxy: Address, services: ServicesDep) -> HeldOut:
    return proxies.held_by(services, community_id, proxy)


@router.get(
    "/proposals/{proposal_id}/proxy-ballots",
    response_model=ProxyCountOut,
    responses=responses(404, 503),
    summary="How many of a proposal's counted ballots were cast by proxy",
)
def get_proxy_count(proposal_id: OnChainId, services: ServicesDep) -> ProxyCountOut:
    return proxies.proxy_count(services, proposal_id)
