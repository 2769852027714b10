"""Typed client of ParticipatoryBudget for the tests and the bench: rounds, projects, signed
bitmap ballots relayed in batches, the selection and the events that record it.

Ballots are signed here with eth-account's EIP-712 encoder from the generated type and domain,
not with the contract's `ballotDigest`, so a test checks the contract against an independent
reading of the typed data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.protocol.generated import BudgetRule, BudgetSkipReason, Domains, Types
from ledger.signing.eip712 import domain_for, sign_typed_data, to_compact
from ledger.tx import ErrorDecoder, send

BALLOT_TYPES = Types.BudgetBallot.eip712_types()


@dataclass(frozen=True)
class RoundParams:
    community_id: int
    submission_opens_at: int
    submission_closes_at: int
    voting_opens_at: int
    voting_closes_at: int
    budget: int = 1_000
    currency: bytes = b"CNY"
    rule: BudgetRule = BudgetRule.Knapsack
    min_projects: int = 1
    max_projects: int = 256
    text_hash: bytes = b"\x55" * 32

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.community_id,
            self.text_hash,
            self.budget,
            self.currency,
            int(self.rule),
            self.min_projects,
            self.max_projects,
            self.submission_opens_at,
            self.submission_closes_at,
            self.voting_opens_at,
            self.voting_closes_at,
        )


@dataclass(frozen=True)
class Batch:
    gas: int
    cast: tuple[tuple[str, int], ...]  # (voter, projects)
    skipped: tuple[tuple[str, BudgetSkipReason], ...]


@dataclass(frozen=True)
class Walk:
    """One selection: each walked project as (index, votes, cost, remaining, taken), in order."""

    gas: int
    steps: tuple[tuple[int, int, int, int, bool], ...]
    selected: int
    selection_budget: int
    spent: int
    grants: tuple[tuple[int, int], ...]  # (grant id, amount) as the fund opened them


def bitmap(*indexes: int) -> int:
    return sum(1 << i for i in set(indexes))


class BudgetContract:
    def __init__(self, w3: Web3, contract: Contract, fund: Contract) -> None:
        self.w3 = w3
        self.contract = contract
        self.fund = fund
        self.decoder = ErrorDecoder([contract.abi, fund.abi])

    def _send(self, sender: LocalAccount, call: Any, gas: int | None = None) -> TxReceipt:
        return send(self.w3, sender, call, decoder=self.decoder, gas=gas)

    def open_round(self, sender: LocalAccount, params: RoundParams) -> int:
        receipt = self._send(sender, self.contract.functions.openBudgetRound(params.as_tuple()))
        (opened,) = self.contract.events.BudgetRoundOpened().process_receipt(
            receipt, errors=DISCARD
        )
        return int(opened["args"]["roundId"])

    def submit(self, sender: LocalAccount, round_id: int, cost: int, text: bytes = b"") -> int:
        text_hash = Web3.keccak(text or f"project by {sender.address} for {cost}".encode())
        call = self.contract.functions.submitProject(round_id, text_hash, cost)
        receipt = self._send(sender, call)
        (submitted,) = self.contract.events.BudgetProjectSubmitted().process_receipt(
            receipt, errors=DISCARD
        )
        return int(submitted["args"]["index"])

    def mark_ineligible(
        self, sender: LocalAccount, round_id: int, index: int, reason: bytes = b"\x66" * 32
    ) -> None:
        self._send(sender, self.contract.functions.markIneligible(round_id, index, reason))

    def sign(
        self, voter: LocalAccount, round_id: int, projects: int, *, voter_address: str = ""
    ) -> tuple[str, int, bytes, bytes]:
        """A ballot as castBudgetBallots takes it; `voter_address` names another voter than
        the signer (a forged ballot)."""
        name, version = Domains.ParticipatoryBudget
        domain = domain_for(name, version, self.w3.eth.chain_id, self.contract.address)
        message = {"roundId": round_id, "voter": voter.address, "projects": projects}
        signature = sign_typed_data(voter, domain, BALLOT_TYPES, "BudgetBallot", message)
        r, vs = to_compact(signature)
        return (to_checksum_address(voter_address or voter.address), projects, r, vs)

    def cast(
        self,
        relayer: LocalAccount,
        round_id: int,
        ballots: Sequence[tuple[str, int, bytes, bytes]],
        gas: int | None = None,
    ) -> Batch:
        call = self.contract.functions.castBudgetBallots(round_id, list(ballots))
        receipt = self._send(relayer, call, gas=gas)
        events = self.contract.events
        cast = events.BudgetBallotCast().process_receipt(receipt, errors=DISCARD)
        skipped = events.BudgetBallotSkipped().process_receipt(receipt, errors=DISCARD)
        return Batch(
            int(receipt["gasUsed"]),
            tuple((e["args"]["voter"], int(e["args"]["projects"])) for e in cast),
            tuple((e["args"]["voter"], BudgetSkipReason(e["args"]["reason"])) for e in skipped),
        )

    def select(self, sender: LocalAccount, round_id: int, gas: int | None = None) -> Walk:
        receipt = self._send(sender, self.contract.functions.selectProjects(round_id), gas=gas)
        events = self.contract.events
        steps: list[tuple[int, int, int, int, bool, int]] = []
        for event, taken in (
            (events.BudgetProjectSelected, True),
            (events.BudgetProjectPassedOver, False),
        ):
            for e in event().process_receipt(receipt, errors=DISCARD):
                a = e["args"]
                steps.append(
                    (
                        int(a["index"]),
                        int(a["votes"]),
                        int(a["cost"]),
                        int(a["remaining"]),
                        taken,
                        e["logIndex"],
                    )
                )
        steps.sort(key=lambda s: s[5])
        (done,) = events.BudgetRoundSelected().process_receipt(receipt, errors=DISCARD)
        grants = self.fund.events.GrantOpened().process_receipt(receipt, errors=DISCARD)
        return Walk(
            int(receipt["gasUsed"]),
            tuple(s[:5] for s in steps),
            int(done["args"]["selected"]),
            int(done["args"]["selectionBudget"]),
            int(done["args"]["spent"]),
            tuple((int(g["args"]["proposalId"]), int(g["args"]["amount"])) for g in grants),
        )

    def round(self, round_id: int) -> Any:
        return self.contract.functions.getRound(round_id).call()

    def project(self, round_id: int, index: int) -> Any:
        return self.contract.functions.getProject(round_id, index).call()

    def votes(self, round_id: int) -> list[int]:
        return [int(p.votes) for p in self.contract.functions.projects(round_id).call()]
