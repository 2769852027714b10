"""The relay's kind for participatory budget ballots: checked before acknowledgement by the rules
of IParticipatoryBudget (ledger/budget/ballots.py judges the bitmap), batched per round into
castBudgetBallots.

What is cached cannot change under it: a round is cached only once voting has opened, when its
projects, costs and ineligible set are fixed; who voted only grows. A "not on the roll" from the
roll cache is confirmed on-chain before anything is refused, and the contract is the final judge:
a ballot that slips through is skipped there with its reason, which its receipt then carries.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger.budget.ballots import BallotRules
from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import (
    BudgetProjectView,
    BudgetRoundView,
    BudgetRule,
    BudgetSkipReason,
    Events,
    Functions,
)
from ledger.relay.ballot_events import outcomes_by_voter, voted_on_chain
from ledger.relay.clock import ChainClock
from ledger.relay.message import BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.rolls import RollCache
from ledger.signing.budget_ballots import BudgetBallot, BudgetDomain, budget_ballot_digest
from ledger.signing.eip712 import recover_address_bytes, to_compact
from ledger.signing.secp256k1 import HALF_N

CAST, SKIPPED = Events.BudgetBallotCast.topic, Events.BudgetBallotSkipped.topic


@dataclass(frozen=True)
class _Round:
    community_id: int
    voting_opens_at: int
    voting_closes_at: int
    roll_version: int
    rules: BallotRules


class BudgetBallotRelay:
    """Signed budget ballots, batched per round (the council ballot's batch size and gas bound:
    a bitmap ballot costs less than a ranked election ballot)."""

    name = "budget-ballot"

    def __init__(
        self,
        w3: Web3,
        budget: Contract,
        registry: Contract,
        settings: Settings,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.gas = settings.relay_ballot_gas
        self.w3 = w3
        self.budget = budget
        self.domain = BudgetDomain(w3.eth.chain_id, checksum_address(budget.address))
        self.clock = ChainClock(w3, settings)
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)
        self._rounds: dict[int, _Round] = {}
        self._voted: dict[int, dict[str, str]] = {}
        self._lock = threading.Lock()

    # --- verification ---------------------------------------------------------------------------

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            ballot = BudgetBallot(
                int(payload["roundId"]),
                checksum_address(str(payload["voter"])),
                int(payload["projects"]),
            )
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad ballot: {exc}") from exc
        if ballot.round_id <= 0 or not 0 <= ballot.projects < 2**256:
            raise InvalidMessage("MalformedBallot", "round id or projects out of range")
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        try:
            signer = recover_address_bytes(budget_ballot_digest(ballot, self.domain), signature)
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(ballot.voter[2:]):
            raise InvalidMessage(
                "BadSignature",
                f"signature is by {checksum_address(signer)}, not the voter {ballot.voter}",
            )
        payload = {
            "roundId": ballot.round_id,
            "voter": ballot.voter,
            "projects": ballot.projects,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(ballot.round_id), payload, ballot.voter)

    def check(self, message: Message) -> None:
        round_id, voter, projects = (message.payload[k] for k in ("roundId", "voter", "projects"))
        r = self._round(round_id)
        fault = r.rules.content_fault(projects)
        if fault is not None:
            raise InvalidMessage(fault.name, f"projects {projects:#x} in round {round_id}")
        if not self.rolls.was_resident(r.community_id, r.roll_version, voter):
            raise InvalidMessage(
                "NotOnRoll",
                f"{voter} was not on the roll (version {r.roll_version}) "
                f"when round {round_id} opened",
            )
        with self._lock:
            voted = self._voters(round_id)
            previous = voted.get(voter.lower())
            if previous is not None and previous != message.receipt_id:
                raise InvalidMessage("AlreadyVoted", f"{voter} already voted in round {round_id}")
            voted[voter.lower()] = message.receipt_id

    def check_is_local(self, message: Message) -> bool:
        return False  # rounds are rare: every check may ask the chain, in a thread

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        return budget_ballot_digest(
            BudgetBallot(p["roundId"], p["voter"], p["projects"]), self.domain
        )

    def release(self, message: Message) -> None:
        with self._lock:
            voted = self._voted.get(message.payload["roundId"], {})
            if voted.get(message.payload["voter"].lower()) == message.receipt_id:
                del voted[message.payload["voter"].lower()]

    def _round(self, round_id: int) -> _Round:
        """The round, checked open for voting now (asked again of the chain before a "no")."""
        r = self._rounds.get(round_id) or self._read_round(round_id)
        now = self.clock.now()
        if not r.voting_opens_at <= now < r.voting_closes_at:
            now = self.clock.confirmed()
        if not r.voting_opens_at <= now < r.voting_closes_at:
            raise InvalidMessage(
                "VotingNotOpen",
                f"round {round_id} takes ballots from {r.voting_opens_at} "
                f"until {r.voting_closes_at}",
            )
        if round_id not in self._rounds:
            self._rounds[round_id] = r  # voting is open: its projects are fixed from here on
        return r

    def _read_round(self, round_id: int) -> _Round:
        functions = self.budget.functions
        try:
            v = BudgetRoundView(*functions.getRound(round_id).call())
        except (ContractCustomError, ContractLogicError) as exc:
            raise InvalidMessage("UnknownBudgetRound", f"no round {round_id}") from exc
        costs = tuple(BudgetProjectView(*p).cost for p in functions.projects(round_id).call())
        rules = BallotRules(
            BudgetRule(v.rule), v.minProjects, v.maxProjects, v.budget, costs, v.ineligible
        )
        return _Round(v.communityId, v.votingOpensAt, v.votingClosesAt, v.rollVersion, rules)

    def _voters(self, round_id: int) -> dict[str, str]:
        voted = self._voted.get(round_id)
        if voted is None:
            voted = voted_on_chain(self.w3, self.budget.address, CAST, round_id)
            self._voted[round_id] = voted
        return voted

    # --- batching --------------------------------------------------------------------------------

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return self.gas

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        ballots = [
            (p["voter"], p["projects"], *to_compact(fixed_bytes(p["signature"]))) for p in payloads
        ]
        args = abi_encode(["uint256", "(address,uint256,bytes32,bytes32)[]"], [int(group), ballots])
        return BatchCall(
            self.budget.address,
            Functions.castBudgetBallots.selector + args,
            self.base_gas + self.gas * len(ballots),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        return outcomes_by_voter(
            receipt,
            self.budget.address,
            CAST,
            SKIPPED,
            lambda _: None,
            lambda code: BudgetSkipReason(code).name,
            payloads,
        )
