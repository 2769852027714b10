"""Secret votes: one vote read from the chain by name, a community's votes from the index, and
where a resident's ballot was counted (the SecretBallotCast and SecretBatchRecorded events of
its transaction). Nothing that would tell a partial result is shown before ballots close."""

from __future__ import annotations

import dataclasses

from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.schemas import Page
from api.secret_schemas import (
    SecretBallotInclusionOut,
    SecretTallyOut,
    SecretTrusteeOut,
    SecretVoteOut,
)
from api.services.container import Services
from ledger.hashing import checksum_address
from ledger.protocol.generated import SecretVoteState, SecretVoteView
from ledger.secret import progress
from ledger.secret.trustee import TrusteeRefused, read_question, tally_of

CONTRACT = "secret"
# From Challenges on, ballots are closed: counts and the aggregate are no longer partial.
CLOSED = frozenset(
    {SecretVoteState.Challenges, SecretVoteState.Decryption, SecretVoteState.Finalized}
)


def _view(services: Services, vote_id: int) -> SecretVoteView:
    """404 `UnknownSecretVote` for an id no secret vote has."""
    try:
        raw = services.deployment.secret.functions.getSecretVote(vote_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownSecretVote", f"no secret vote {vote_id}") from exc
    return SecretVoteView(**raw._asdict())


def _count(services: Services, vote_id: int, event: str) -> int:
    return services.index.count(contract=CONTRACT, event=event, where={"voteId": vote_id})


def _trustee_steps(services: Services, vote_id: int, trustees: list[str]) -> list[SecretTrusteeOut]:
    events = {
        name: [
            e.args
            for e in services.index.events(
                contract=CONTRACT, event=name, where={"voteId": vote_id}, limit=None
            )
        ]
        for name in progress.EVENTS
    }
    return [
        SecretTrusteeOut(**dataclasses.asdict(p))
        for p in progress.trustee_progress(trustees, events)
    ]


def vote(services: Services, vote_id: int) -> SecretVoteOut:
    v = _view(services, vote_id)
    state = SecretVoteState(v.state)
    closed = state in CLOSED
    keyed = any(v.electionKey)
    question_hash = "0x" + bytes(v.questionHash).hex()
    asked = read_question(services.store.get_text(question_hash))
    steps = _trustee_steps(services, vote_id, list(v.trustees))
    return SecretVoteOut(
        vote_id=vote_id,
        community_id=v.communityId,
        opener=v.opener,
        question_hash=question_hash,
        question=asked[0] if asked else None,
        options=asked[1] if asked else None,
        option_count=v.optionCount,
        trustees=list(v.trustees),
        threshold=v.threshold,
        keys_by=v.keysBy,
        deals_by=v.dealsBy,
        complaints_by=v.complaintsBy,
        answers_by=v.answersBy,
        opens_at=v.opensAt,
        closes_at=v.closesAt,
        challenges_until=v.challengesUntil,
        roll_version=v.rollVersion,
        roll_size=v.rollSize,
        state=state.name,  # type: ignore[arg-type]
        chain_id=services.deployment.chain_id,
        contract=checksum_address(services.deployment.secret.address),
        election_key=[hex(w) for w in v.electionKey] if keyed else None,
        qualified=[k for k in range(1, len(v.trustees) + 1) if v.qualified >> k & 1],
        cast_count=_count(services, vote_id, "SecretBallotCast"),
        voided_count=_count(services, vote_id, "SecretBallotVoided"),
        ballot_count=v.ballotCount if closed else None,
        aggregate=[hex(w) for w in v.aggregate] if closed else None,
        partials_from=[s.trustee for s in steps if s.published_partial],
        trustee_steps=steps,
        tally=list(v.tally) if state == SecretVoteState.Finalized else None,
        proposal_id=services.deployment.council.functions.proposalOfSecretVote(vote_id).call()
        or None,
    )


def votes(
    services: Services, community: int | None, limit: int, offset: int
) -> Page[SecretVoteOut]:
    """Secret votes, newest first: which ones from the index, each one's state from the chain."""
    where = {"communityId": community} if community is not None else None
    opened = services.index.events(
        contract=CONTRACT,
        event="SecretVoteOpened",
        where=where,
        limit=limit,
        offset=offset,
        order="desc",
    )
    total = services.index.count(contract=CONTRACT, event="SecretVoteOpened", where=where)
    items = [vote(services, int(e.args["voteId"])) for e in opened]
    return Page(items=items, total=total, limit=limit, offset=offset)


def found_tally(services: Services, vote_id: int) -> SecretTallyOut:
    """The count from the first t published partial decryptions (their proofs were checked
    on-chain when published) and the aggregate; 409 `TallyNotReady` before there are t."""
    v = _view(services, vote_id)
    state = SecretVoteState(v.state)
    if state not in (SecretVoteState.Decryption, SecretVoteState.Finalized):
        raise ApiError(
            409,
            "TallyNotReady",
            f"secret vote {vote_id} is in {state.name}: its count is found after the challenge "
            f"window, once {v.threshold} trustees have published their parts",
        )
    events = services.index.events(
        contract=CONTRACT,
        event="PartialDecryptionPublished",
        where={"voteId": vote_id},
        limit=None,
    )
    published = {int(e.args["trustee"]): [int(w) for w in e.args["partials"]] for e in events}
    try:
        counts = tally_of(v, published)
    except TrusteeRefused as exc:
        raise ApiError(409, "TallyNotReady", f"secret vote {vote_id}: {exc}") from exc
    return SecretTallyOut(
        vote_id=vote_id,
        tally=counts,
        trustees=sorted(published)[: v.threshold],
        recorded=state == SecretVoteState.Finalized and list(v.tally) == counts,
    )


def inclusion(services: Services, vote_id: int, voter: str) -> SecretBallotInclusionOut:
    _view(services, vote_id)
    voter = checksum_address(voter)
    where = {"voteId": vote_id, "voter": voter}
    cast = services.index.events(contract=CONTRACT, event="SecretBallotCast", where=where, limit=1)
    voided = services.index.count(contract=CONTRACT, event="SecretBallotVoided", where=where) > 0
    if not cast:
        return SecretBallotInclusionOut(
            vote_id=vote_id, voter=voter, voted=False, ballot_hash=None, block=None,
            tx_hash=None, batch=None, position=None, voided=voided,
        )  # fmt: skip
    event = cast[0]
    in_tx = services.index.events(
        contract=CONTRACT, event="SecretBallotCast", tx_hash=event.tx_hash, limit=None
    )
    position = [e.log_index for e in in_tx if int(e.args["voteId"]) == vote_id].index(
        event.log_index
    )
    recorded = services.index.events(
        contract=CONTRACT, event="SecretBatchRecorded", tx_hash=event.tx_hash, limit=None
    )
    batch = next((int(e.args["batch"]) for e in recorded if int(e.args["voteId"]) == vote_id), None)
    return SecretBallotInclusionOut(
        vote_id=vote_id,
        voter=voter,
        voted=True,
        ballot_hash="0x" + bytes(event.args["ballotHash"]).hex(),
        block=event.block_number,
        tx_hash=event.tx_hash,
        batch=batch,
        position=position,
        voided=voided,
    )
