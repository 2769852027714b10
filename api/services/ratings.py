"""Ratings of a completed proposal or budget project: count and average as the chain keeps them,
the histogram from its Rated events."""

from __future__ import annotations

from api.schemas import RatingsOut
from api.services.container import Services
from ledger.hashing import checksum_address
from ledger.relay.ratings import MAX_SCORE, ratings_summary


def ratings(services: Services, proposal_id: int, rater: str | None = None) -> RatingsOut:
    """A proposal's or budget project's ratings so far (all zero before the first is relayed, or
    for work never completed)."""
    contract = services.deployment.ratings
    summary = ratings_summary(contract, proposal_id)
    histogram = [0] * MAX_SCORE
    for e in services.index.events(
        contract="ratings", event="Rated", where={"proposalId": proposal_id}, limit=None
    ):
        histogram[int(e.args["score"]) - 1] += 1
    opened = summary.communityId != 0
    rated = None
    if rater is not None:
        rated = bool(contract.functions.hasRated(proposal_id, checksum_address(rater)).call())
    return RatingsOut(
        proposal_id=proposal_id,
        id=str(proposal_id),
        opened=opened,
        closes_at=summary.closesAt if opened else None,
        roll_version=summary.rollVersion if opened else None,
        count=summary.count,
        average=summary.average / 100 if summary.count else None,
        histogram=histogram,
        rated=rated,
    )
