"""Proposals: texts kept off-chain with their hash check, results, ballots, milestones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from web3.exceptions import ContractCustomError, ContractLogicError

from api.deps import ServicesDep
from api.errors import ApiError, responses
from api.limits import client_key, quotas
from api.routers.events import event_out
from api.schemas import MAX_OFFSET, EventOut, OnChainId, Page, ProposalOut, TextIn, TextOut
from api.services import Services
from ledger.offchain import text_hash as text_hash_of

router = APIRouter(tags=["proposals"])

KINDS = ("YesNoAbstain", "MultipleChoice")
STATES = ("Pending", "Open", "Closed", "Finalized")
OUTCOMES = ("None", "Passed", "Rejected", "NoQuorum")
EXECUTION = ("NotStarted", "InProgress", "Completed")
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


# Texts stay open to anyone (the committee stores one before it opens its proposal, from the
# page, without signing in): a sign-in would bound nothing, as a new key costs nothing. What
# bounds them is per client, a byte budget refilled over an hour (each text costs at least
# MIN_TEXT_COST, so a flood of tiny texts runs out as fast as a few big ones), and for
# everyone, the store's total size: past it new texts are refused, stored ones still served.
MIN_TEXT_COST = 1024


@router.post("/texts", status_code=201, response_model=TextOut, responses=responses(413, 422, 429))
def store_text(body: TextIn, request: Request, services: ServicesDep) -> TextOut:
    """Store a proposal's full text; its keccak256 is what the proposal commits to on-chain.
    Storing a text already stored costs nothing; a new one counts against the client's hourly
    quota (429 `TextQuotaExceeded`) and the store's total size (413 `TextStoreFull`)."""
    if services.store.get_text(text_hash_of(body.text)) is None:
        size = len(body.text.encode("utf-8"))
        cap = services.settings.text_store_max_bytes
        if services.store.text_bytes() + size > cap:
            raise ApiError(413, "TextStoreFull", f"the text store is full ({cap} bytes)")
        quotas(request).texts.take(client_key(request), max(size, MIN_TEXT_COST))
    return TextOut(hash=services.store.put_text(body.text), text=body.text)


@router.get("/texts/{text_hash}", response_model=TextOut, responses=responses(404))
def get_text(text_hash: str, services: ServicesDep) -> TextOut:
    text = services.store.get_text(text_hash)
    if text is None:
        raise ApiError(404, "UnknownText", f"no text with hash {text_hash}")
    return TextOut(hash=text_hash.lower(), text=text)


def proposal_out(services: Services, proposal_id: int) -> ProposalOut:
    try:
        v = services.deployment.council.functions.getProposal(proposal_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownProposal", f"no proposal {proposal_id}") from exc
    text_hash = "0x" + bytes(v[2]).hex()
    text = services.store.get_text(text_hash)
    return ProposalOut(
        id=proposal_id,
        community_id=v[0],
        proposer=v[1],
        text_hash=text_hash,
        text=text,
        text_matches=None if text is None else text_hash_of(text) == text_hash,
        kind=KINDS[v[3]],  # type: ignore[arg-type]
        option_count=v[4],
        opens_at=v[5],
        closes_at=v[6],
        quorum_bps=v[7],
        threshold_bps=v[8],
        budget_amount=v[9],
        budget_currency=bytes(v[10]).decode("ascii", "replace").strip("\x00"),
        roll_version=v[11],
        roll_size=v[12],
        state=STATES[v[13]],  # type: ignore[arg-type]
        outcome=OUTCOMES[v[14]],  # type: ignore[arg-type]
        winning_option=v[15],
        tally=list(v[16]),
        turnout=sum(v[16]),
        execution=EXECUTION[v[17]],  # type: ignore[arg-type]
        milestone_count=v[18],
    )


@router.get("/proposals", response_model=Page[ProposalOut], responses=responses(422, 503))
def list_proposals(
    services: ServicesDep,
    community: Annotated[int | None, Query(ge=1, lt=2**256)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ProposalOut]:
    """Proposals, newest first (from the index; each one's state read from the chain)."""
    where = {"communityId": community} if community is not None else None
    opened = services.index.events(
        contract="council",
        event="ProposalOpened",
        where=where,
        limit=limit,
        offset=offset,
        order="desc",
    )
    total = services.index.count(contract="council", event="ProposalOpened", where=where)
    items = [proposal_out(services, int(e.args["proposalId"])) for e in opened]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, responses=responses(404))
def get_proposal(proposal_id: OnChainId, services: ServicesDep) -> ProposalOut:
    """A proposal with its tally and outcome from the chain, and its text with the hash check."""
    return proposal_out(services, proposal_id)


@router.get(
    "/proposals/{proposal_id}/ballots", response_model=Page[EventOut], responses=responses(404)
)
def proposal_ballots(
    proposal_id: OnChainId, services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    """Counted ballots (BallotCast: voter, option, digest) in chain order."""
    where = {"proposalId": proposal_id}
    rows = services.index.events(
        contract="council", event="BallotCast", where=where, limit=limit, offset=offset
    )
    total = services.index.count(contract="council", event="BallotCast", where=where)
    return Page(items=[event_out(e) for e in rows], total=total, limit=limit, offset=offset)


@router.get("/proposals/{proposal_id}/milestones", response_model=Page[EventOut])
def proposal_milestones(
    proposal_id: OnChainId, services: ServicesDep, limit: Limit = 100, offset: Offset = 0
) -> Page[EventOut]:
    """Execution milestones with their evidence hashes, in order."""
    where = {"proposalId": proposal_id}
    rows = services.index.events(
        contract="council", event="MilestoneRecorded", where=where, limit=limit, offset=offset
    )
    total = services.index.count(contract="council", event="MilestoneRecorded", where=where)
    return Page(items=[event_out(e) for e in rows], total=total, limit=limit, offset=offset)
