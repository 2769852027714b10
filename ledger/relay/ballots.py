"""The relay's kind for council ballots: checked from memory, batched per proposal.

What it caches can't change under it (a proposal's schedule and options, the roll at a
published version, who already voted only grows), and a "not on the roll" from a cache is
confirmed on-chain before anything is refused. The contract is the final judge: a ballot that
slips through is skipped there, with its reason, and its receipt says so.
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

from ledger.ballot_kinds import SECRET_KINDS
from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import Events, Functions, ProposalView, SkipReason
from ledger.relay.ballot_events import outcomes_by_voter
from ledger.relay.clock import ChainClock
from ledger.relay.message import (
    BatchCall,
    Message,
    Outcome,
    fixed_bytes,
)
from ledger.relay.once_each import OnceEach
from ledger.relay.rolls import RollCache
from ledger.signing.ballots import BallotDomain, make_ballot
from ledger.signing.digests import ballot_digest
from ledger.signing.eip712 import domain_separator, recover_address_bytes, to_compact
from ledger.signing.secp256k1 import HALF_N

BALLOT_CAST, BALLOT_SKIPPED = Events.BallotCast.topic, Events.BallotSkipped.topic


@dataclass(frozen=True)
class _Schedule:
    community_id: int
    opens_at: int
    closes_at: int
    option_count: int
    roll_version: int
    secret: bool  # decided by its secret vote: no open ballot counts


class BallotRelay:
    """Signed council ballots, batched per proposal into `castBallots`."""

    name = "ballot"

    def __init__(
        self,
        w3: Web3,
        council: Contract,
        registry: Contract,
        settings: Settings,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.gas = settings.relay_ballot_gas
        self.w3 = w3
        self.council = council
        self.registry = registry
        self.domain = BallotDomain(w3.eth.chain_id, checksum_address(council.address))
        self._separator = domain_separator(self.domain.as_dict())
        self.clock = ChainClock(w3, settings)
        self._schedules: dict[int, _Schedule] = {}
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)
        self.voted = OnceEach(w3, council.address, BALLOT_CAST)

    # --- verification ---------------------------------------------------------------------------

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            ballot = make_ballot(
                int(payload["proposalId"]), str(payload["voter"]), int(payload["option"])
            )
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad ballot: {exc}") from exc
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        try:
            signer = recover_address_bytes(
                self.digest(ballot.proposal_id, ballot.voter, ballot.option), signature
            )
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(ballot.voter[2:]):
            raise InvalidMessage(
                "BadSignature",
                f"signature is by {checksum_address(signer)}, not the voter {ballot.voter}",
            )
        payload = {
            "proposalId": ballot.proposal_id,
            "voter": ballot.voter,
            "option": ballot.option,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(ballot.proposal_id), payload, ballot.voter)

    def check(self, message: Message) -> None:
        proposal_id, voter, option = (message.payload[k] for k in ("proposalId", "voter", "option"))
        schedule = self._schedule(proposal_id)
        now = self.clock.now()
        if now < schedule.opens_at:
            # Not open yet by a reading up to a second old: the chain's clock may have moved
            # since (anvil's can be): asked again before refusing, as any "no" from memory is.
            now = self.clock.confirmed()
        if not schedule.opens_at <= now < schedule.closes_at:
            raise InvalidMessage(
                "ProposalNotOpen",
                f"proposal {proposal_id} takes ballots from {schedule.opens_at} "
                f"until {schedule.closes_at}",
            )
        if schedule.secret:
            raise InvalidMessage(
                "BallotsAreSecret", f"proposal {proposal_id} is decided by its secret vote"
            )
        if option >= schedule.option_count:
            raise InvalidMessage("InvalidOption", f"option {option} of {schedule.option_count}")
        if not self._eligible(schedule, voter):
            raise InvalidMessage(
                "VoterNotOnRoll",
                f"{voter} was not on the roll (version {schedule.roll_version}) "
                f"when proposal {proposal_id} opened",
            )
        self.voted.claim(
            proposal_id,
            voter,
            message.receipt_id,
            lambda: InvalidMessage(
                "AlreadyVoted", f"{voter} already voted on proposal {proposal_id}"
            ),
        )

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        return self.digest(p["proposalId"], p["voter"], p["option"])

    def release(self, message: Message) -> None:
        """The outbox did not store this ballot: its voter has not voted after all."""
        p = message.payload
        self.voted.release(p["proposalId"], p["voter"], message.receipt_id)

    def check_is_local(self, message: Message) -> bool:
        proposal_id = message.payload["proposalId"]
        schedule = self._schedules.get(proposal_id)
        if schedule is None:
            return False
        roll = self.rolls.cached(schedule.community_id, schedule.roll_version)
        return (
            roll is not None
            and self.voted.loaded(proposal_id)
            and message.payload["voter"].lower() in roll
            and self.clock.fresh()
        )

    def warm(self, recent: int = 50) -> list[int]:
        """Load what checking a ballot needs (schedule, roll, who voted) for the open proposals
        among the newest `recent`, so the first ballots after a start are checked inline like
        every later one instead of queueing behind a roll download. Returns their ids."""
        count: int = self.council.functions.proposalCount().call()
        now = self.clock.now()
        warmed = []
        for proposal_id in range(max(1, count - recent + 1), count + 1):
            schedule = self._schedule(proposal_id)
            if schedule.opens_at <= now < schedule.closes_at:
                self.rolls.members(schedule.community_id, schedule.roll_version)
                self.voted.load(proposal_id)
                warmed.append(proposal_id)
        return warmed

    def digest(self, proposal_id: int, voter: str, option: int) -> bytes:
        """The ballot's EIP-712 digest, laid out by hand (the relay's hot path)."""
        return ballot_digest(self._separator, proposal_id, bytes.fromhex(voter[2:]), option)

    def _schedule(self, proposal_id: int) -> _Schedule:
        cached = self._schedules.get(proposal_id)
        if cached is not None:
            return cached
        try:
            view = ProposalView(*self.council.functions.getProposal(proposal_id).call())
        except (ContractCustomError, ContractLogicError) as exc:
            raise InvalidMessage("UnknownProposal", f"no proposal {proposal_id}") from exc
        schedule = _Schedule(
            view.communityId,
            view.opensAt,
            view.closesAt,
            view.optionCount,
            view.rollVersion,
            view.kind in SECRET_KINDS,
        )
        self._schedules[proposal_id] = schedule
        return schedule

    def _eligible(self, schedule: _Schedule, voter: str) -> bool:
        return self.rolls.was_resident(schedule.community_id, schedule.roll_version, voter)

    # --- batching --------------------------------------------------------------------------------

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return self.gas

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        ballots = [
            (p["voter"], p["option"], *to_compact(fixed_bytes(p["signature"]))) for p in payloads
        ]
        args = abi_encode(["uint256", "(address,uint8,bytes32,bytes32)[]"], [int(group), ballots])
        return BatchCall(
            self.council.address,
            Functions.castBallots.selector + args,
            self.base_gas + self.gas * len(ballots),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        return outcomes_by_voter(
            receipt,
            self.council.address,
            BALLOT_CAST,
            BALLOT_SKIPPED,
            lambda data: "0x" + data[32:64].hex(),
            lambda code: SkipReason(code).name,
            payloads,
        )
