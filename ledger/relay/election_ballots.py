"""The relay's kind for election ballots: checked before acknowledgement by the rules of
IElections (ledger/audit/election_rules.py), batched per election into castElectionBallots.

As for council ballots, what is cached cannot change under it (an election's schedule,
candidates and snapshot; who voted only grows), a "not on the roll" from the roll cache is
confirmed on-chain before anything is refused, and the contract is the final judge: a ballot
that slips through is skipped there with its reason, which its receipt then carries.
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

from ledger.audit.election_rules import BallotFault, approvals_of, ranking_of
from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import (
    ElectionKind,
    ElectionSkipReason,
    ElectionView,
    Events,
    Functions,
)
from ledger.relay.ballot_events import outcomes_by_voter
from ledger.relay.clock import ChainClock
from ledger.relay.message import BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.once_each import OnceEach
from ledger.relay.paper_rolls import PaperRolls
from ledger.relay.rolls import RollCache
from ledger.signing.eip712 import recover_address_bytes, to_compact
from ledger.signing.election_ballots import ElectionBallot, ElectionDomain, election_ballot_digest
from ledger.signing.secp256k1 import HALF_N

CAST, SKIPPED = Events.ElectionBallotsCast.topic, Events.ElectionBallotSkipped.topic


@dataclass(frozen=True)
class _Election:
    community_id: int
    kind: int
    candidate_count: int
    max_choices: int
    opens_at: int
    closes_at: int
    roll_version: int


class ElectionBallotRelay:
    """Signed election ballots, batched per election (the council ballot's batch size and gas
    bound: a ranked ballot is measured at up to ~25,000 gas in a first batch)."""

    name = "election-ballot"

    def __init__(
        self,
        w3: Web3,
        elections: Contract,
        registry: Contract,
        settings: Settings,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.gas = settings.relay_ballot_gas
        self.w3 = w3
        self.elections = elections
        self.registry = registry
        self.domain = ElectionDomain(w3.eth.chain_id, checksum_address(elections.address))
        self.clock = ChainClock(w3, settings)
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)
        self._elections: dict[int, _Election] = {}
        self.voted = OnceEach(w3, elections.address, CAST)
        self.paper = PaperRolls(w3, elections.functions.pollOffice().call())

    # --- verification ---------------------------------------------------------------------------

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            ballot = ElectionBallot(
                int(payload["electionId"]),
                checksum_address(str(payload["voter"])),
                int(payload["choices"]),
            )
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad ballot: {exc}") from exc
        if ballot.election_id <= 0 or not 0 <= ballot.choices < 2**64:
            raise InvalidMessage("MalformedBallot", "election id or choices out of range")
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        try:
            signer = recover_address_bytes(election_ballot_digest(ballot, self.domain), signature)
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(ballot.voter[2:]):
            raise InvalidMessage(
                "BadSignature",
                f"signature is by {checksum_address(signer)}, not the voter {ballot.voter}",
            )
        payload = {
            "electionId": ballot.election_id,
            "voter": ballot.voter,
            "choices": ballot.choices,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(ballot.election_id), payload, ballot.voter)

    def check(self, message: Message) -> None:
        election_id, voter, choices = (
            message.payload[k] for k in ("electionId", "voter", "choices")
        )
        self.check_ballot(election_id, voter, choices, message.receipt_id)

    def check_ballot(self, election_id: int, voter: str, choices: int, receipt_id: str) -> None:
        """The election's rules for a ballot of any channel (online or in person: one ballot
        per voter across both); holds the voter for `receipt_id` until it lands or is released."""
        election = self.check_window_and_choices(election_id, choices)
        if not self._eligible(election, voter):
            raise InvalidMessage(
                "VoterNotOnRoll",
                f"{voter} was not on the roll (version {election.roll_version}) "
                f"when election {election_id} opened",
            )
        if voter.lower() in self.paper.assigned(election_id):
            raise InvalidMessage(
                "AssignedToPaperBox", f"{voter} votes in a paper box of election {election_id}"
            )
        self.voted.claim(
            election_id,
            voter,
            receipt_id,
            lambda: InvalidMessage(
                "AlreadyVoted", f"{voter} already voted in election {election_id}"
            ),
        )

    def check_window_and_choices(self, election_id: int, choices: int) -> _Election:
        """Refuse `choices` outside the election's voting window or not a ballot of its kind."""
        election = self.election(election_id)
        now = self.clock.now()
        if not election.opens_at <= now < election.closes_at:
            now = self.clock.confirmed()  # a "no" from memory is asked again
        if not election.opens_at <= now < election.closes_at:
            raise InvalidMessage(
                "ElectionNotOpen",
                f"election {election_id} takes ballots from {election.opens_at} "
                f"until {election.closes_at}",
            )
        judge = ranking_of if election.kind == ElectionKind.Ranked else approvals_of
        try:
            judge(choices, election.candidate_count, election.max_choices)
        except BallotFault as fault:
            raise InvalidMessage(fault.reason.name, f"choices {choices:#x}") from fault
        return election

    def check_is_local(self, message: Message) -> bool:
        return False  # elections are rare: every check may ask the chain, in a thread

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        ballot = ElectionBallot(p["electionId"], p["voter"], p["choices"])
        return election_ballot_digest(ballot, self.domain)

    def release(self, message: Message) -> None:
        p = message.payload
        self.voted.release(p["electionId"], p["voter"], message.receipt_id)

    def election(self, election_id: int) -> _Election:
        cached = self._elections.get(election_id)
        if cached is not None:
            return cached
        try:
            raw = self.elections.functions.getElection(election_id).call()
        except (ContractCustomError, ContractLogicError) as exc:
            raise InvalidMessage("UnknownElection", f"no election {election_id}") from exc
        v = ElectionView(*raw)
        election = _Election(
            v.communityId,
            v.kind,
            len(v.candidates),
            v.maxChoices,
            v.opensAt,
            v.closesAt,
            v.rollVersion,
        )
        self._elections[election_id] = election
        return election

    def _eligible(self, election: _Election, voter: str) -> bool:
        return self.rolls.was_resident(election.community_id, election.roll_version, voter)

    # --- batching --------------------------------------------------------------------------------

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return self.gas

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        ballots = [
            (p["voter"], p["choices"], *to_compact(fixed_bytes(p["signature"]))) for p in payloads
        ]
        args = abi_encode(["uint256", "(address,uint64,bytes32,bytes32)[]"], [int(group), ballots])
        return BatchCall(
            self.elections.address,
            Functions.castElectionBallots.selector + args,
            self.base_gas + self.gas * len(ballots),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        return outcomes_by_voter(
            receipt,
            self.elections.address,
            CAST,
            SKIPPED,
            lambda _: None,
            lambda code: ElectionSkipReason(code).name,
            payloads,
        )
