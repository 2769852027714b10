"""The community fund: its totals, grants and payouts read from the chain by name, and the
trail of every cent replayed from the index."""

from __future__ import annotations

import csv
import io

from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.schemas import FundOut, GrantOut, PayoutOut, TrailEntryOut
from api.services.communities import require_community
from api.services.container import Services
from ledger.fund_trail import TRAIL_EVENTS
from ledger.index.codec import IndexedEvent
from ledger.protocol.generated import FundView, GrantState, GrantView, PayoutStatus, PayoutView


def _currency(raw: bytes) -> str:
    return bytes(raw).decode("ascii", "replace").strip("\x00")


def fund(services: Services, community_id: int) -> FundOut:
    require_community(services, community_id)
    view = services.deployment.fund.functions.fundOf(community_id).call()
    v = FundView(**view._asdict())
    return FundOut(
        community_id=community_id,
        currency=_currency(v.currency),
        approval_threshold=v.approvalThreshold,
        total_income=v.totalIncome,
        available=v.available,
        reserved=v.reserved,
        total_paid=v.totalPaid,
    )


def grant(services: Services, proposal_id: int) -> GrantOut:
    """404 `UnknownGrant` for a proposal the fund opened no grant for."""
    view = services.deployment.fund.functions.grantOf(proposal_id).call()
    v = GrantView(**view._asdict())
    if v.state == GrantState.None_:
        raise ApiError(404, "UnknownGrant", f"no grant for proposal {proposal_id}")
    return GrantOut(
        proposal_id=proposal_id,
        community_id=v.communityId,
        amount=v.amount,
        paid=v.paid,
        state=GrantState(v.state).name,
    )


def payout(services: Services, request_id: int) -> PayoutOut:
    """404 `UnknownPayout` for a request id never made."""
    try:
        view = services.deployment.fund.functions.payoutOf(request_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownPayout", f"no payout request {request_id}") from exc
    v = PayoutView(**view._asdict())
    if v.status == PayoutStatus.None_:
        raise ApiError(404, "UnknownPayout", f"no payout request {request_id}")
    return PayoutOut(
        request_id=request_id,
        proposal_id=v.proposalId,
        recipient=v.recipient,
        amount=v.amount,
        requester=v.requester,
        status=PayoutStatus(v.status).name,
        approvers=list(v.approvers),
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


def trail(
    services: Services, community_id: int, proposal: int | None, recipient: str | None
) -> list[TrailEntryOut]:
    """Every step in chain order, of one grant (`proposal`) or one recipient's payouts."""
    require_community(services, community_id)
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


def trail_csv(entries: list[TrailEntryOut]) -> str:
    """The trail as CSV, its columns named as in the JSON."""
    out = io.StringIO()
    columns = [field.alias or name for name, field in TrailEntryOut.model_fields.items()]
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for entry in entries:
        writer.writerow(entry.model_dump())
    return out.getvalue()
