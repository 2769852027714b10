"""Typed client of the Council: proposals, signed ballots relayed in batches, results,
execution milestones, and the check of a resident's ballot receipt against the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NewType

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.errors import LedgerError
from ledger.protocol.generated import (
    BallotKind,
    ExecutionStatus,
    Outcome,
    ProposalState,
    ProposalView,
    SkipReason,
)
from ledger.signing.ballots import (
    BallotDomain,
    SignedBallot,
    ballot_digest,
    make_ballot,
    sign_ballot,
)
from ledger.tx import ErrorDecoder, raise_decoded, send

ProposalId = NewType("ProposalId", int)

NO_WINNER: Final = 255
YES, NO, ABSTAIN = 0, 1, 2


class ReceiptNotFound(LedgerError):
    """The node does not know the receipt's transaction (yet, or on this chain)."""


@dataclass(frozen=True)
class ProposalParams:
    """What a committee member gives to open a proposal (see ICouncil.ProposalParams)."""

    community_id: int
    text_hash: bytes
    opens_at: int
    closes_at: int
    kind: BallotKind = BallotKind.YesNoAbstain
    option_count: int = 3
    quorum_bps: int = 0
    threshold_bps: int = 5000
    budget_amount: int = 0
    budget_currency: bytes = b"\x00\x00\x00"

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.community_id,
            self.text_hash,
            int(self.kind),
            self.option_count,
            self.opens_at,
            self.closes_at,
            self.quorum_bps,
            self.threshold_bps,
            self.budget_amount,
            self.budget_currency,
        )


@dataclass(frozen=True)
class ProposalInfo:
    proposal_id: ProposalId
    community_id: int
    proposer: ChecksumAddress
    text_hash: bytes
    kind: BallotKind
    option_count: int
    opens_at: int
    closes_at: int
    quorum_bps: int
    threshold_bps: int
    budget_amount: int
    budget_currency: bytes
    roll_version: int
    roll_size: int
    state: ProposalState
    outcome: Outcome
    winning_option: int
    tally: tuple[int, ...]
    execution: ExecutionStatus
    milestone_count: int


@dataclass(frozen=True)
class BallotCast:
    proposal_id: ProposalId
    voter: ChecksumAddress
    option: int
    digest: bytes
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True)
class BallotSkipped:
    proposal_id: ProposalId
    voter: ChecksumAddress
    reason: SkipReason
    log_index: int


@dataclass(frozen=True)
class BatchResult:
    """What one `castBallots` transaction did to each ballot."""

    tx_hash: bytes
    gas_used: int
    cast: tuple[BallotCast, ...]
    skipped: tuple[BallotSkipped, ...]

    def receipts(self) -> tuple[BallotReceipt, ...]:
        return tuple(BallotReceipt(c.tx_hash, c.proposal_id, c.digest) for c in self.cast)


@dataclass(frozen=True)
class BallotReceipt:
    """What a resident keeps after voting: enough to find and check the ballot on any node."""

    tx_hash: bytes
    proposal_id: int
    digest: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "tx_hash": "0x" + self.tx_hash.hex(),
            "proposal_id": self.proposal_id,
            "digest": "0x" + self.digest.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BallotReceipt:
        return cls(
            bytes(HexBytes(data["tx_hash"])),
            int(data["proposal_id"]),
            bytes(HexBytes(data["digest"])),
        )


@dataclass(frozen=True)
class ReceiptCheck:
    """The verdict on a receipt. `ok` only if a successful transaction on this chain emitted,
    from this council, a BallotCast for the proposal whose digest is the receipt's AND is the
    EIP-712 digest of (proposal, voter, option) as logged; `problem` says what failed."""

    ok: bool
    problem: str | None = None
    voter: ChecksumAddress | None = None
    option: int | None = None
    block_number: int | None = None
    confirmations: int = 0


class CouncilContract:
    """One Council deployment. Transactions go through `ledger.tx.send`: a broken rule raises
    `ContractRuleBroken` naming the custom error (e.g. "AlreadyVoted")."""

    def __init__(self, w3: Web3, contract: Contract, decoder: ErrorDecoder | None = None) -> None:
        self.w3 = w3
        # decode_tuples: a struct a view returns reads by field name.
        self.contract = w3.eth.contract(
            address=contract.address, abi=contract.abi, decode_tuples=True
        )
        self.decoder = decoder or ErrorDecoder([contract.abi])

    def _call(self, fn: Any) -> Any:
        """A view call; a custom-error revert raises `ContractRuleBroken` as a send would."""
        try:
            return fn.call()
        except (ContractCustomError, ContractLogicError) as exc:
            raise_decoded(exc, self.decoder)
            raise  # raise_decoded always raises

    @property
    def domain(self) -> BallotDomain:
        return BallotDomain(int(self.w3.eth.chain_id), to_checksum_address(self.contract.address))

    def _send(self, sender: LocalAccount, call: Any, gas: int | None = None) -> TxReceipt:
        return send(self.w3, sender, call, decoder=self.decoder, gas=gas)

    # ------------------------------------------------------------ actions

    def open_proposal(self, sender: LocalAccount, params: ProposalParams) -> ProposalId:
        receipt = self._send(sender, self.contract.functions.openProposal(params.as_tuple()))
        (event,) = self.contract.events.ProposalOpened().process_receipt(receipt, errors=DISCARD)
        return ProposalId(int(event["args"]["proposalId"]))

    def sign_ballot(self, voter: LocalAccount, proposal_id: int, option: int) -> SignedBallot:
        return sign_ballot(voter, make_ballot(proposal_id, voter.address, option), self.domain)

    def cast_vote(self, voter: LocalAccount, proposal_id: int, option: int) -> BallotReceipt:
        """The resident's own transaction (they pay gas)."""
        receipt = self._send(voter, self.contract.functions.castVote(proposal_id, option))
        (cast,) = self.decode_batch(receipt).cast
        return BallotReceipt(cast.tx_hash, cast.proposal_id, cast.digest)

    def cast_ballots(
        self,
        relayer: LocalAccount,
        proposal_id: int,
        ballots: Sequence[SignedBallot],
        *,
        gas: int | None = None,
    ) -> BatchResult:
        """Relay signed ballots of one proposal in one transaction; bad ones come back skipped."""
        if any(b.ballot.proposal_id != proposal_id for b in ballots):
            raise ValueError(f"every ballot of a batch must be for proposal {proposal_id}")
        call = self.contract.functions.castBallots(proposal_id, [b.call_arg() for b in ballots])
        return self.decode_batch(self._send(relayer, call, gas=gas))

    def finalize(self, sender: LocalAccount, proposal_id: int) -> Outcome:
        receipt = self._send(sender, self.contract.functions.finalize(proposal_id))
        (event,) = self.contract.events.ProposalFinalized().process_receipt(receipt, errors=DISCARD)
        return Outcome(int(event["args"]["outcome"]))

    def link_secret_vote(self, sender: LocalAccount, proposal_id: int, vote_id: int) -> TxReceipt:
        return self._send(sender, self.contract.functions.linkSecretVote(proposal_id, vote_id))

    def record_milestone(
        self, sender: LocalAccount, proposal_id: int, evidence_hash: bytes, *, completed: bool
    ) -> int:
        call = self.contract.functions.recordMilestone(proposal_id, evidence_hash, completed)
        receipt = self._send(sender, call)
        (event,) = self.contract.events.MilestoneRecorded().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["milestoneIndex"])

    # ------------------------------------------------------------ events

    def decode_batch(self, receipt: TxReceipt) -> BatchResult:
        tx_hash = bytes(receipt["transactionHash"])
        cast = tuple(
            BallotCast(
                ProposalId(int(e["args"]["proposalId"])),
                to_checksum_address(e["args"]["voter"]),
                int(e["args"]["option"]),
                bytes(e["args"]["digest"]),
                tx_hash,
                int(e["logIndex"]),
            )
            for e in self.contract.events.BallotCast().process_receipt(receipt, errors=DISCARD)
            if e["address"] == self.contract.address
        )
        skipped = tuple(
            BallotSkipped(
                ProposalId(int(e["args"]["proposalId"])),
                to_checksum_address(e["args"]["voter"]),
                SkipReason(int(e["args"]["reason"])),
                int(e["logIndex"]),
            )
            for e in self.contract.events.BallotSkipped().process_receipt(receipt, errors=DISCARD)
            if e["address"] == self.contract.address
        )
        return BatchResult(tx_hash, int(receipt["gasUsed"]), cast, skipped)

    # ------------------------------------------------------------ views

    def proposal(self, proposal_id: int) -> ProposalInfo:
        v = ProposalView(**self._call(self.contract.functions.getProposal(proposal_id))._asdict())
        return ProposalInfo(
            proposal_id=ProposalId(proposal_id),
            community_id=int(v.communityId),
            proposer=to_checksum_address(v.proposer),
            text_hash=bytes(v.textHash),
            kind=BallotKind(v.kind),
            option_count=int(v.optionCount),
            opens_at=int(v.opensAt),
            closes_at=int(v.closesAt),
            quorum_bps=int(v.quorumBps),
            threshold_bps=int(v.thresholdBps),
            budget_amount=int(v.budgetAmount),
            budget_currency=bytes(v.budgetCurrency),
            roll_version=int(v.rollVersion),
            roll_size=int(v.rollSize),
            state=ProposalState(v.state),
            outcome=Outcome(v.outcome),
            winning_option=int(v.winningOption),
            tally=tuple(int(x) for x in v.tally),
            execution=ExecutionStatus(v.execution),
            milestone_count=int(v.milestoneCount),
        )

    def tally(self, proposal_id: int) -> tuple[int, ...]:
        return tuple(int(x) for x in self._call(self.contract.functions.tallyOf(proposal_id)))

    def state(self, proposal_id: int) -> ProposalState:
        return ProposalState(self._call(self.contract.functions.state(proposal_id)))

    def has_voted(self, proposal_id: int, voter: str) -> bool:
        fn = self.contract.functions.hasVoted(proposal_id, to_checksum_address(voter))
        return bool(self._call(fn))

    def secret_vote_of(self, proposal_id: int) -> int:
        return int(self._call(self.contract.functions.secretVoteOf(proposal_id)))

    def proposal_of_secret_vote(self, vote_id: int) -> int:
        return int(self._call(self.contract.functions.proposalOfSecretVote(vote_id)))

    def budget_of(self, proposal_id: int) -> tuple[int, bool, int, bytes]:
        community_id, passed, amount, currency = self._call(
            self.contract.functions.budgetOf(proposal_id)
        )
        return int(community_id), bool(passed), int(amount), bytes(currency)

    def milestones(self, proposal_id: int) -> tuple[bytes, ...]:
        return tuple(bytes(h) for h in self._call(self.contract.functions.milestones(proposal_id)))

    # ------------------------------------------------------------ receipts

    def verify_receipt(
        self,
        receipt: BallotReceipt,
        *,
        voter: str | None = None,
        option: int | None = None,
    ) -> ReceiptCheck:
        """Check a resident's ballot receipt against the chain alone (any node will do).

        Returns a verdict; raises only if the node cannot be asked (`ReceiptNotFound` when it
        does not know the transaction). `voter`/`option`, when given, must match the ballot.
        """
        try:
            tx_receipt = self.w3.eth.get_transaction_receipt(HexBytes(receipt.tx_hash))
        except TransactionNotFound as exc:
            raise ReceiptNotFound(f"no transaction 0x{receipt.tx_hash.hex()}") from exc
        if tx_receipt["status"] != 1:
            return ReceiptCheck(False, "transaction reverted")
        block_number = int(tx_receipt["blockNumber"])
        # The receipt's block must be the one on this node's canonical chain (no stale fork).
        block = self.w3.eth.get_block(block_number)
        if bytes(block["hash"]) != bytes(tx_receipt["blockHash"]):
            return ReceiptCheck(False, "transaction is not on the canonical chain")
        matches = [
            c
            for c in self.decode_batch(tx_receipt).cast
            if c.proposal_id == receipt.proposal_id and c.digest == receipt.digest
        ]
        if not matches:
            return ReceiptCheck(False, "no BallotCast with this proposal and digest in the tx")
        cast = matches[0]
        expected = ballot_digest(
            make_ballot(cast.proposal_id, cast.voter, cast.option), self.domain
        )
        if expected != cast.digest:
            return ReceiptCheck(False, "logged digest is not the EIP-712 digest of the ballot")
        if voter is not None and to_checksum_address(voter) != cast.voter:
            return ReceiptCheck(False, f"ballot is by {cast.voter}, not {voter}")
        if option is not None and option != cast.option:
            return ReceiptCheck(False, f"ballot chose option {cast.option}, not {option}")
        head = int(self.w3.eth.block_number)
        return ReceiptCheck(
            True,
            None,
            cast.voter,
            cast.option,
            block_number,
            confirmations=head - block_number + 1,
        )
