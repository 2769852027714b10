"""The community fund: balances, grants, payouts, and the full trail of every cent."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from web3.exceptions import ContractCustomError, ContractLogicError

from api.deps import ServicesDep
from api.errors import ApiError, responses
from api.routers.communities import _require_community
from api.schemas import MAX_OFFSET, FundOut, GrantOut, OnChainId, Page, PayoutOut, TrailEntryOut
from api.services import Services
from ledger.clients.fund import TRAIL_EVENTS
from ledger.index.codec import IndexedEvent

router = APIRouter(tags=["fund"])

GRANT_STATES = ("None", "Open", "Closed")
PAYOUT_STATUSES = ("None", "Pending", "Executed", "Cancelled", "Lapsed")
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _currency(raw: bytes) -> str:
    return bytes(raw).decode("ascii", "replace").strip("\x00")


@router.get("/communities/{community_id}/fund", response_model=FundOut, responses=responses(404))
def get_fund(community_id: OnChainId, services: ServicesDep) -> FundOut:
    _require_community(services, community_id)
    v = services.deployment.fund.functions.fundOf(community_id).call()
    return FundOut(
        community_id=community_id,
        currency=_currency(v[0]),
        approval_threshold=v[1],
        total_income=v[2],
        available=v[3],
        reserved=v[4],
        total_paid=v[5],
    )


@router.get("/grants/{proposal_id}", response_model=GrantOut, responses=responses(404))
def get_grant(proposal_id: OnChainId, services: ServicesDep) -> GrantOut:
    v = services.deployment.fund.functions.grantOf(proposal_id).call()
    if v[3] == 0:
        raise ApiError(404, "UnknownGrant", f"no grant for proposal {proposal_id}")
    state = GRANT_STATES[v[3]] if v[3] < len(GRANT_STATES) else str(v[3])
    return GrantOut(proposal_id=proposal_id, community_id=v[0], amount=v[1], paid=v[2], state=state)


@router.get("/payouts/{request_id}", response_model=PayoutOut, responses=responses(404))
def get_payout(request_id: OnChainId, services: ServicesDep) -> PayoutOut:
    try:
        v = services.deployment.fund.functions.payoutOf(request_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownPayout", f"no payout request {request_id}") from exc
    if v[4] == 0:
        raise ApiError(404, "UnknownPayout", f"no payout request {request_id}")
    status = PAYOUT_STATUSES[v[4]] if v[4] < len(PAYOUT_STATUSES) else str(v[4])
    return PayoutOut(
        request_id=request_id,
        proposal_id=v[0],
        recipient=v[1],
        amount=v[2],
        requester=v[3],
        status=status,
        approvers=list(v[5]),
    )


def trail_entry(e: IndexedEvent) -> TrailEntryOut:
    a = e.args
    party_keys = ("recipient", "approver", "recordedBy", "openedBy", "closedBy", "cancelledBy")
    party = next((a[k] for k in party_keys if k in a), None)
    reference = a.get("documentHash") or a.get("invoiceHash")
    amount = a.get("amount", a.get("released", 0))
    return TrailEntryOut(
        block=e.block_number,
        tx_hash=e.tx_hash,
        step=e.event,
        proposal_id=int(a["proposalId"]) if "proposalId" in a else None,
        request_id=int(a["requestId"]) if "requestId" in a else None,
        amount=int(amount),
        party=party,
        reference=None if reference is None else "0x" + bytes(reference).hex(),
    )


def _trail(
    services: Services, community_id: int, proposal: int | None, recipient: str | None
) -> list[TrailEntryOut]:
    where: dict[str, object] = {"communityId": community_id}
    if proposal is not None:
        where["proposalId"] = proposal
    entries = [
        trail_entry(e)
        for e in services.index.events(contract="fund", event=TRAIL_EVENTS, where=where, limit=None)
    ]
    if recipient is not None:
        requests = {
            t.request_id for t in entries if t.party == recipient and t.request_id is not None
        }
        entries = [t for t in entries if t.request_id in requests]
    return entries


@router.get(
    "/communities/{community_id}/fund/trail",
    response_model=Page[TrailEntryOut],
    responses=responses(404, 422),
)
def fund_trail(
    community_id: OnChainId,
    services: ServicesDep,
    proposal: Annotated[
        int | None, Query(ge=1, lt=2**256, description="only this grant's steps")
    ] = None,
    recipient: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    limit: Limit = 200,
    offset: Offset = 0,
) -> Page[TrailEntryOut]:
    """Every step in chain order: income -> fund -> grant -> payout -> recipient."""
    _require_community(services, community_id)
    entries = _trail(services, community_id, proposal, recipient)
    return Page(
        items=entries[offset : offset + limit], total=len(entries), limit=limit, offset=offset
    )


@router.get(
    "/communities/{community_id}/fund/trail.csv",
    response_class=PlainTextResponse,
    responses={
        **responses(404),
        200: {"content": {"text/csv": {}}, "description": "the trail as CSV"},
    },
)
def fund_trail_csv(
    community_id: OnChainId,
    services: ServicesDep,
    proposal: Annotated[int | None, Query(ge=1, lt=2**256)] = None,
    recipient: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
) -> PlainTextResponse:
    _require_community(services, community_id)
    out = io.StringIO()
    fields = list(TrailEntryOut.model_fields)
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for entry in _trail(services, community_id, proposal, recipient):
        writer.writerow(entry.model_dump())
    disposition = f'attachment; filename="fund-{community_id}.csv"'
    return PlainTextResponse(
        out.getvalue(), media_type="text/csv", headers={"Content-Disposition": disposition}
    )
