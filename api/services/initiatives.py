"""Initiatives: read from the chain by name with their off-chain text; a new one's text stored
and its author's signed `submit` relayed as one act."""

from __future__ import annotations

from fastapi import Request
from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.schemas import InitiativeIn, InitiativeOut, Page, ReceiptOut
from api.services.container import Services
from api.services.submissions import submit_text, submitted_args
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.offchain import text_hash as text_hash_of
from ledger.protocol.generated import Functions, InitiativeState
from ledger.relay.cosignatures import initiative_view

STATES = {
    InitiativeState.Collecting: "open",
    InitiativeState.Promoted: "promoted",
    InitiativeState.Expired: "expired",
}


def _cosigned(services: Services, initiative_id: int, signer: str) -> bool | None:
    """Whether `signer` co-signed; None once its bitmap serves a later initiative."""
    call = services.deployment.initiatives.functions.hasCoSigned(
        initiative_id, checksum_address(signer)
    )
    try:
        found: bool = call.call()
    except (ContractCustomError, ContractLogicError):
        return None
    return found


def initiative(services: Services, initiative_id: int, signer: str | None = None) -> InitiativeOut:
    """An initiative as the chain has it now; 404 `UnknownInitiative` for an id never used."""
    try:
        v = initiative_view(services.deployment.initiatives, initiative_id)
    except InvalidMessage as exc:
        raise ApiError(404, exc.code, exc.detail) from exc
    text_hash = "0x" + bytes(v.textHash).hex()
    text = services.store.get_text(text_hash)
    return InitiativeOut(
        id=initiative_id,
        community_id=v.communityId,
        author=v.author,
        text_hash=text_hash,
        text=text,
        text_matches=None if text is None else text_hash_of(text) == text_hash,
        budget_amount=v.budgetAmount,
        budget_currency=bytes(v.budgetCurrency).decode("ascii", "replace").strip("\x00"),
        roll_version=v.rollVersion,
        roll_size=v.rollSize,
        needed=v.needed,
        co_signatures=v.coSignatures,
        opens_at=v.opensAt,
        closes_at=v.closesAt,
        state=STATES[InitiativeState(v.state)],  # type: ignore[arg-type]
        proposal_id=v.proposalId or None,
        cosigned=None if signer is None else _cosigned(services, initiative_id, signer),
    )


def initiatives(
    services: Services, community: int | None, signer: str | None, limit: int, offset: int
) -> Page[InitiativeOut]:
    """Initiatives, newest first: which ones from the index, each one's state from the chain
    (expired ones included: they stay visible with their count)."""
    where = {"communityId": community} if community is not None else None
    submitted = services.index.events(
        contract="initiatives",
        event="InitiativeSubmitted",
        where=where,
        limit=limit,
        offset=offset,
        order="desc",
    )
    total = services.index.count(contract="initiatives", event="InitiativeSubmitted", where=where)
    items = [initiative(services, int(e.args["initiativeId"]), signer) for e in submitted]
    return Page(items=items, total=total, limit=limit, offset=offset)


async def submit(services: Services, request: Request, body: InitiativeIn) -> ReceiptOut:
    """Store the text, then relay the author's signed `submit` of its hash: the text is on the
    service before anyone is asked to co-sign it."""
    forward = body.request.payload()
    target = services.deployment.initiatives.address
    _, text_hash, _, _ = submitted_args(forward, target, Functions.submit)
    return await submit_text(services, request, body.text, forward, text_hash)
