"""The relay's kind for residents' ratings of completed proposals and budget projects: checked
before acknowledgement by the rules of IRatings, batched per rated id into `rate`.

A proposal's ratings open with the first batch relayed for it (which snapshots the community's
published roll); until then a rating is checked against the roll published now, which is the
one that batch will take unless the registrar publishes another first. Once open, the snapshot
and the window never change. The contract is the final judge: a rating that slips through is
skipped there with its reason, which its receipt carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger.budget.grants import is_project, project_of
from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import address_bytes, checksum_address
from ledger.protocol.generated import (
    Events,
    ExecutionStatus,
    Functions,
    Outcome,
    ProposalView,
    RatingSkipReason,
    RatingSummary,
)
from ledger.relay.ballot_events import outcomes_by_voter
from ledger.relay.clock import ChainClock
from ledger.relay.message import BatchCall, Message, fixed_bytes
from ledger.relay.message import Outcome as Landed
from ledger.relay.once_each import OnceEach
from ledger.relay.rolls import RollCache
from ledger.relay.signatures import require_signed_by
from ledger.signing.digests import rating_digest
from ledger.signing.eip712 import domain_separator, to_compact
from ledger.signing.ratings import RatingDomain
from ledger.tx import view

RATED, SKIPPED = Events.Rated.topic, Events.RatingSkipped.topic
MAX_SCORE = 5


@dataclass(frozen=True)
class _Window:
    """Who rates a proposal and until when: fixed once its ratings opened."""

    community_id: int
    roll_version: int
    closes_at: int


def ratings_summary(ratings: Contract, proposal_id: int) -> RatingSummary:
    return RatingSummary(**ratings.functions.ratingsOf(proposal_id).call()._asdict())


class RatingRelay:
    """Signed ratings, batched per proposal."""

    name = "rating"

    def __init__(
        self,
        w3: Web3,
        ratings: Contract,
        council: Contract,
        budget: Contract,
        registry: Contract,
        settings: Settings,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.gas = settings.relay_rating_gas
        self.w3 = w3
        self.ratings = ratings
        self.council = council
        self.budget = budget
        self.registry = registry
        self.domain = RatingDomain(w3.eth.chain_id, checksum_address(ratings.address))
        self._separator = domain_separator(self.domain.as_dict())
        self.clock = ChainClock(w3, settings)
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)
        self.rated = OnceEach(w3, ratings.address, RATED)
        self._windows: dict[int, _Window] = {}

    def digest(self, proposal_id: int, rater: str, score: int, comment_hash: bytes) -> bytes:
        return rating_digest(
            self._separator, proposal_id, address_bytes(rater), score, comment_hash
        )

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            proposal_id = int(payload["proposalId"])
            rater = checksum_address(str(payload["rater"]))
            score = int(payload["score"])
            comment_hash = fixed_bytes(payload["commentHash"], 32)
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedRating", f"bad rating: {exc}") from exc
        if not 0 < proposal_id < 2**256:
            raise InvalidMessage("MalformedRating", "proposal id out of range")
        if not 1 <= score <= MAX_SCORE:
            raise InvalidMessage("InvalidScore", f"score {score}: a rating is 1 to {MAX_SCORE}")
        require_signed_by(self.digest(proposal_id, rater, score, comment_hash), signature, rater)
        normalized = {
            "proposalId": proposal_id,
            "rater": rater,
            "score": score,
            "commentHash": "0x" + comment_hash.hex(),
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(proposal_id), normalized, rater)

    def check(self, message: Message) -> None:
        proposal_id, rater = message.payload["proposalId"], message.payload["rater"]
        window = self._window(proposal_id)
        # The chain's clock read afresh: a window's end moved past by the chain since the last
        # reading is refused here rather than acknowledged and skipped. Ratings are rare.
        if window.closes_at and self.clock.confirmed() >= window.closes_at:
            raise InvalidMessage(
                "RatingsClosed", f"ratings of proposal {proposal_id} closed at {window.closes_at}"
            )
        if not self.rolls.was_resident(window.community_id, window.roll_version, rater):
            raise InvalidMessage(
                "NotOnRoll",
                f"{rater} is not on the roll (version {window.roll_version}) that rates "
                f"proposal {proposal_id}",
            )
        self.rated.claim(
            proposal_id,
            rater,
            message.receipt_id,
            lambda: InvalidMessage("AlreadyRated", f"{rater} already rated proposal {proposal_id}"),
        )

    def _window(self, proposal_id: int) -> _Window:
        """The snapshot and window once open (cached); before, the proposal must be passed and
        completed, and the roll published now stands in (closes_at 0: not started)."""
        cached = self._windows.get(proposal_id)
        if cached is not None:
            return cached
        summary = ratings_summary(self.ratings, proposal_id)
        if summary.communityId:
            opened = _Window(summary.communityId, summary.rollVersion, summary.closesAt)
            self._windows[proposal_id] = opened
            return opened
        community_id = (
            self._completed_project(proposal_id)
            if is_project(proposal_id)
            else self._completed_proposal(proposal_id)
        )
        version = int(view(self.registry.functions.rollSnapshot(community_id))["version"])
        return _Window(community_id, version, 0)

    def _completed_proposal(self, proposal_id: int) -> int:
        """The community of a passed proposal marked completed; refused otherwise."""
        try:
            p = ProposalView(**self.council.functions.getProposal(proposal_id).call()._asdict())
        except (ContractCustomError, ContractLogicError) as exc:
            raise InvalidMessage("ProposalNotCompleted", f"no proposal {proposal_id}") from exc
        if p.outcome != Outcome.Passed or p.execution != ExecutionStatus.Completed:
            raise InvalidMessage(
                "ProposalNotCompleted",
                f"proposal {proposal_id} is not a passed proposal marked completed",
            )
        return p.communityId

    def _completed_project(self, project_id: int) -> int:
        """The community of a budget project (named by its grant id) a milestone completed;
        refused otherwise."""
        round_id, index = project_of(project_id)
        refused = InvalidMessage(
            "ProjectNotCompleted",
            f"project {index} of budget round {round_id} is not one whose execution a "
            "milestone recorded as completed",
        )
        try:
            project = self.budget.functions.getProject(round_id, index).call()
            round_ = self.budget.functions.getRound(round_id).call()
        except (ContractCustomError, ContractLogicError) as exc:
            raise refused from exc
        if not project.completed:
            raise refused
        return int(round_.communityId)

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        return self.digest(
            p["proposalId"], p["rater"], p["score"], fixed_bytes(p["commentHash"], 32)
        )

    def release(self, message: Message) -> None:
        p = message.payload
        self.rated.release(p["proposalId"], p["rater"], message.receipt_id)

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return self.gas

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        items = [
            (
                p["rater"],
                p["score"],
                fixed_bytes(p["commentHash"], 32),
                *to_compact(fixed_bytes(p["signature"])),
            )
            for p in payloads
        ]
        args = abi_encode(
            ["uint256", "(address,uint8,bytes32,bytes32,bytes32)[]"], [int(group), items]
        )
        return BatchCall(
            self.ratings.address,
            Functions.rate.selector + args,
            self.base_gas + self.gas * len(items),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Landed]:
        return outcomes_by_voter(
            receipt,
            self.ratings.address,
            RATED,
            SKIPPED,
            lambda data: "0x" + data[64:96].hex(),
            lambda code: RatingSkipReason(code).name,
            [{"voter": p["rater"]} for p in payloads],
        )
