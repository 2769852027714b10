"""Council proposals decided by secret ballot: the link to their secret vote judged again, and
the tally their outcome must follow.

A link (`SecretVoteLinked`) holds only if a committee member of the proposal's community made
it, before the proposal opened, between a secret proposal and a secret vote that no other
proposal has, of the same community, with the proposal's text hash as its question, the same
option count, opening and closing times and roll snapshot (the secret votes rebuilt by
ledger.audit.secret). A secret proposal counts no open ballot; it is finalized on its vote's
finalized tally, or on an empty one when nobody could vote (no link, or a failed key), or, once
its vote has gone SECRET_TALLY_GRACE past its challenge window without a tally, as
TallyNeverPublished.
"""

from __future__ import annotations

from typing import Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.state import Proposal, SecretVote
from ledger.ballot_kinds import is_secret
from ledger.protocol.generated import BallotKind, Constants

# SecretVote.schedule positions
OPENS_AT, CLOSES_AT, CHALLENGES_UNTIL = 4, 5, 6
SECRET_TALLY_GRACE: Final = Constants.SECRET_TALLY_GRACE


def _mismatch(p: Proposal, vote: SecretVote) -> str | None:
    """The first of ICouncil.SecretLinkField's conditions the vote fails, in its order."""
    if vote.community != p.community:
        return f"community {vote.community}, not {p.community}"
    if vote.question != p.text_hash:
        return f"question 0x{vote.question.hex()}, not the text hash 0x{p.text_hash.hex()}"
    if vote.options != p.option_count:
        return f"{vote.options} options, not {p.option_count}"
    if (vote.schedule[OPENS_AT], vote.schedule[CLOSES_AT]) != (p.opens_at, p.closes_at):
        return (
            f"open {vote.schedule[OPENS_AT]}..{vote.schedule[CLOSES_AT]}, "
            f"not {p.opens_at}..{p.closes_at}"
        )
    if vote.roll_version != p.roll_version:
        return f"roll v{vote.roll_version}, not v{p.roll_version}"
    return None


def _link_fault(ctx: Ctx, call: Call, p: Proposal, vid: int, linker: bytes) -> str | None:
    community = ctx.state.communities.get(p.community)
    if community is None or not community.has("COMMITTEE", linker):
        return f"linked by {linker.hex()}, outside the committee"
    if not is_secret(p.kind):
        return f"a proposal of kind {BallotKind(p.kind).name}"
    if call.timestamp >= p.opens_at:
        return f"linked at {call.timestamp}, once the proposal opened at {p.opens_at}"
    if p.secret_vote:
        return f"already decided by secret vote {p.secret_vote}"
    taken = next((q.id for q in ctx.state.proposals.values() if q.secret_vote == vid), None)
    if taken is not None:
        return f"secret vote {vid} already decides proposal {taken}"
    vote = ctx.state.secret_votes.get(vid)
    if vote is None:
        return f"secret vote {vid} was never opened"
    return _mismatch(p, vote)


def secret_vote_linked(ctx: Ctx, call: Call, e: Emitted) -> None:
    ev = e.ev
    pid, vid, linker = int(ev["proposalId"]), int(ev["voteId"]), addr(ev["linker"])
    ctx.actor_is(call, linker, "SecretVoteLinked")
    p = ctx.state.proposals.get(pid)
    if p is None:
        ctx.find("council.secret_link", call, "an existing proposal", pid, "secret vote linked")
        return
    named = int(ev["communityId"])
    fault = (
        f"an event naming community {named}, not {p.community}"
        if named != p.community
        else _link_fault(ctx, call, p, vid, linker)
    )
    if fault is not None:
        ctx.find(
            "council.secret_link",
            call,
            "a matching secret vote, linked by the committee before the proposal opens",
            fault,
            f"proposal {pid} linked to secret vote {vid}",
        )
    p.secret_vote = vid


def secret_tally(ctx: Ctx, call: Call, p: Proposal) -> tuple[list[int], bool]:
    """The tally a secret proposal must be finalized with: its vote's finalized tally, or an
    empty one when nobody could vote; and whether the tally was published (False: the vote went
    SECRET_TALLY_GRACE past its challenge window without one). A vote still without its tally
    before then is a finding."""
    empty = [0] * p.option_count
    vote = ctx.state.secret_votes.get(p.secret_vote) if p.secret_vote else None
    if vote is None or vote.key_state == "failed":
        return empty, True
    if vote.tally is None:
        deadline = vote.schedule[CHALLENGES_UNTIL] + SECRET_TALLY_GRACE
        if call.timestamp >= deadline:
            return empty, False
        ctx.find(
            "council.secret_tally",
            call,
            f"secret vote {vote.id} finalized, or its tally never published by {deadline}",
            "no tally yet",
            f"proposal {p.id} finalized before the tally of its secret vote",
        )
        return empty, True
    return list(vote.tally), True
