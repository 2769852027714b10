"""Proposals (read from the chain by name, with their off-chain text and its hash check) and the
text store's quota."""

from __future__ import annotations

from fastapi import Request
from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.limits import client_key, quotas
from api.schemas import Page, ProposalOut, TextOut
from api.services.container import Services
from ledger.ballot_kinds import is_secret
from ledger.offchain import text_hash as text_hash_of
from ledger.protocol.generated import (
    BallotKind,
    ExecutionStatus,
    Outcome,
    ProposalState,
    ProposalView,
)

# Texts stay open to anyone (the committee stores one before it opens its proposal, from the
# page, without signing in): a sign-in would bound nothing, as a new key costs nothing. What
# bounds them is per client, a byte budget refilled over an hour (each text costs at least
# MIN_TEXT_COST, so a flood of tiny texts runs out as fast as a few big ones), and for
# everyone, the store's total size: past it new texts are refused, stored ones still served.
MIN_TEXT_COST = 1024


def store_text(services: Services, request: Request, text: str) -> TextOut:
    """Store a text; a new one counts against the client's quota and the store's size."""
    if services.store.get_text(text_hash_of(text)) is None:
        size = len(text.encode("utf-8"))
        cap = services.settings.text_store_max_bytes
        if services.store.text_bytes() + size > cap:
            raise ApiError(413, "TextStoreFull", f"the text store is full ({cap} bytes)")
        quotas(request).texts.take(client_key(request), max(size, MIN_TEXT_COST))
    return TextOut(hash=services.store.put_text(text), text=text)


def text(services: Services, text_hash: str) -> TextOut:
    stored = services.store.get_text(text_hash)
    if stored is None:
        raise ApiError(404, "UnknownText", f"no text with hash {text_hash}")
    return TextOut(hash=text_hash.lower(), text=stored)


def _solidity_name(member: BallotKind | ProposalState | Outcome | ExecutionStatus) -> str:
    """An enum member as Solidity names it (`None_` is Python's spelling of `None`)."""
    return member.name.removesuffix("_")


def proposal(services: Services, proposal_id: int) -> ProposalOut:
    """A proposal as the chain has it now; 404 `UnknownProposal` for an id never opened."""
    try:
        view = services.deployment.council.functions.getProposal(proposal_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownProposal", f"no proposal {proposal_id}") from exc
    v = ProposalView(**view._asdict())
    text_hash = "0x" + bytes(v.textHash).hex()
    text = services.store.get_text(text_hash)
    return ProposalOut(
        id=proposal_id,
        community_id=v.communityId,
        proposer=v.proposer,
        text_hash=text_hash,
        text=text,
        text_matches=None if text is None else text_hash_of(text) == text_hash,
        kind=_solidity_name(BallotKind(v.kind)),  # type: ignore[arg-type]
        secret_vote_id=_secret_vote(services, proposal_id, v.kind),
        option_count=v.optionCount,
        opens_at=v.opensAt,
        closes_at=v.closesAt,
        quorum_bps=v.quorumBps,
        threshold_bps=v.thresholdBps,
        budget_amount=v.budgetAmount,
        budget_currency=bytes(v.budgetCurrency).decode("ascii", "replace").strip("\x00"),
        roll_version=v.rollVersion,
        roll_size=v.rollSize,
        state=_solidity_name(ProposalState(v.state)),  # type: ignore[arg-type]
        outcome=_solidity_name(Outcome(v.outcome)),  # type: ignore[arg-type]
        winning_option=v.winningOption,
        tally=list(v.tally),
        turnout=sum(v.tally),
        execution=_solidity_name(ExecutionStatus(v.execution)),  # type: ignore[arg-type]
        milestone_count=v.milestoneCount,
    )


def _secret_vote(services: Services, proposal_id: int, kind: int) -> int | None:
    if not is_secret(kind):
        return None
    vote_id: int = services.deployment.council.functions.secretVoteOf(proposal_id).call()
    return vote_id or None


def proposals(
    services: Services, community: int | None, limit: int, offset: int
) -> Page[ProposalOut]:
    """Proposals, newest first: which ones from the index, each one's state from the chain."""
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
    items = [proposal(services, int(e.args["proposalId"])) for e in opened]
    return Page(items=items, total=total, limit=limit, offset=offset)
