"""Typed client of CommunityFund: income, grants for passed proposals, N-of-M payouts, and the
events that trace every cent (income → fund → grant → payout → recipient).

The contract is a ledger of a bank account kept off-chain: nothing here moves money.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from ledger.errors import LedgerError
from ledger.fund_trail import TRAIL_EVENTS
from ledger.protocol import generated as protocol
from ledger.protocol.generated import GrantState, PayoutStatus, SourceKind
from ledger.tx import ErrorDecoder, send
from tests.contract_wrappers.timebank import EventRef


class InvalidCurrencyCode(LedgerError):
    """A currency code is not three ASCII letters (the contract's bytes3)."""


def currency_code(code: str | bytes) -> bytes:
    """An ISO 4217 code as the contract's bytes3 (e.g. "CNY")."""
    raw = code.encode("ascii") if isinstance(code, str) else bytes(code)
    if len(raw) != 3:
        raise InvalidCurrencyCode(f"currency code must be 3 letters, got {code!r}")
    return raw


@dataclass(frozen=True)
class FundView:
    currency: bytes
    approval_threshold: int
    total_income: int
    available: int
    reserved: int
    total_paid: int


@dataclass(frozen=True)
class GrantView:
    community_id: int
    amount: int
    paid: int
    state: GrantState

    @property
    def remaining(self) -> int:
        return self.amount - self.paid


@dataclass(frozen=True)
class PayoutView:
    request_id: int
    proposal_id: int
    recipient: ChecksumAddress
    amount: int
    requester: ChecksumAddress
    status: PayoutStatus
    approvers: tuple[ChecksumAddress, ...]


@dataclass(frozen=True)
class FundEvent:
    """One event of the fund, decoded: `name` is the Solidity event name, `args` its fields
    (snake_case keys; bytes for hashes and currency; ints for amounts and enums)."""

    name: str
    args: dict[str, Any]
    ref: EventRef

    @property
    def community_id(self) -> int:
        return int(self.args["community_id"])


# The steps of a cent's trail (income -> fund -> grant -> payout -> recipient), as the API
# serves them and as `commons audit --api` checks them.
_EVENTS = ("FundCurrencySet", "ApprovalThresholdSet", *TRAIL_EVENTS)


class FundContract:
    """One CommunityFund deployment. Transactions go through `ledger.tx.send`, so a broken rule
    raises `ContractRuleBroken` naming the contract's custom error."""

    def __init__(self, w3: Web3, contract: Contract, decoder: ErrorDecoder | None = None) -> None:
        self.w3 = w3
        # decode_tuples: a struct a view returns reads by field name.
        self.contract = w3.eth.contract(
            address=contract.address, abi=contract.abi, decode_tuples=True
        )
        self.decoder = decoder or ErrorDecoder([[dict(item) for item in contract.abi]])

    # ------------------------------------------------------------------ transactions

    def set_currency(self, admin: LocalAccount, community_id: int, currency: str) -> TxReceipt:
        fn = self.contract.functions.setCurrency(community_id, currency_code(currency))
        return self._send(admin, fn)

    def set_approval_threshold(
        self, admin: LocalAccount, community_id: int, threshold: int
    ) -> TxReceipt:
        return self._send(
            admin, self.contract.functions.setApprovalThreshold(community_id, threshold)
        )

    def record_income(
        self,
        member: LocalAccount,
        community_id: int,
        kind: SourceKind,
        amount: int,
        currency: str,
        document_hash: bytes,
    ) -> int:
        """Record income; returns its income id."""
        fn = self.contract.functions.recordIncome(
            community_id, int(kind), amount, currency_code(currency), document_hash
        )
        return int(self._one(self._send(member, fn), "IncomeRecorded").args["income_id"])

    def open_grant(self, member: LocalAccount, proposal_id: int, amount: int) -> TxReceipt:
        return self._send(member, self.contract.functions.openGrant(proposal_id, amount))

    def close_grant(self, member: LocalAccount, proposal_id: int) -> TxReceipt:
        return self._send(member, self.contract.functions.closeGrant(proposal_id))

    def request_payout(
        self,
        member: LocalAccount,
        proposal_id: int,
        recipient: str,
        amount: int,
        purpose_hash: bytes,
        invoice_hash: bytes,
    ) -> int:
        """Request one payout (tranche) from a grant; returns the request id."""
        fn = self.contract.functions.requestPayout(
            proposal_id, to_checksum_address(recipient), amount, purpose_hash, invoice_hash
        )
        return int(self._one(self._send(member, fn), "PayoutRequested").args["request_id"])

    def approve_payout(self, member: LocalAccount, request_id: int) -> TxReceipt:
        return self._send(member, self.contract.functions.approvePayout(request_id))

    def execute_payout(self, member: LocalAccount, request_id: int) -> TxReceipt:
        return self._send(member, self.contract.functions.executePayout(request_id))

    def cancel_payout(self, account: LocalAccount, request_id: int) -> TxReceipt:
        return self._send(account, self.contract.functions.cancelPayout(request_id))

    # ------------------------------------------------------------------ views

    def fund_of(self, community_id: int) -> FundView:
        f = protocol.FundView(**self.contract.functions.fundOf(community_id).call()._asdict())
        return FundView(
            currency=bytes(f.currency),
            approval_threshold=int(f.approvalThreshold),
            total_income=int(f.totalIncome),
            available=int(f.available),
            reserved=int(f.reserved),
            total_paid=int(f.totalPaid),
        )

    def grant_of(self, proposal_id: int) -> GrantView:
        g = protocol.GrantView(**self.contract.functions.grantOf(proposal_id).call()._asdict())
        return GrantView(
            community_id=int(g.communityId),
            amount=int(g.amount),
            paid=int(g.paid),
            state=GrantState(g.state),
        )

    def payout_of(self, request_id: int) -> PayoutView:
        p = protocol.PayoutView(**self.contract.functions.payoutOf(request_id).call()._asdict())
        return PayoutView(
            request_id=request_id,
            proposal_id=int(p.proposalId),
            recipient=to_checksum_address(p.recipient),
            amount=int(p.amount),
            requester=to_checksum_address(p.requester),
            status=PayoutStatus(p.status),
            approvers=tuple(to_checksum_address(a) for a in p.approvers),
        )

    def has_approved(self, request_id: int, account: str) -> bool:
        return bool(
            self.contract.functions.hasApproved(request_id, to_checksum_address(account)).call()
        )

    # ------------------------------------------------------------------ events

    def events(self, from_block: int = 0, to_block: int | str = "latest") -> list[FundEvent]:
        """Every fund event in the block range, in chain order."""
        raw: list[EventData] = []
        for name in _EVENTS:
            event_type = getattr(self.contract.events, name)
            raw.extend(event_type().get_logs(from_block=from_block, to_block=to_block))
        raw.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
        return [_typed(e) for e in raw]

    def decode_receipt(self, receipt: TxReceipt) -> list[FundEvent]:
        out: list[EventData] = []
        for name in _EVENTS:
            event_type = getattr(self.contract.events, name)
            # DISCARD: a receipt also holds logs of other events (and other contracts).
            out.extend(event_type().process_receipt(receipt, errors=DISCARD))
        out.sort(key=lambda e: e["logIndex"])
        return [_typed(e) for e in out]

    def _one(self, receipt: TxReceipt, name: str) -> FundEvent:
        (event,) = [e for e in self.decode_receipt(receipt) if e.name == name]
        return event

    def _send(self, account: LocalAccount, call: Any) -> TxReceipt:
        return send(self.w3, account, call, decoder=self.decoder)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _typed(event: EventData) -> FundEvent:
    args: dict[str, Any] = {}
    for key, value in event["args"].items():
        if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
            value = to_checksum_address(value)
        args[_snake(key)] = value
    return FundEvent(name=str(event["event"]), args=args, ref=EventRef.of(event))


@dataclass
class FundBooks:
    """Balances rebuilt from events alone, as the audit does."""

    total_income: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    available: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    reserved: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    total_paid: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    grant_amount: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    grant_paid: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # (community, recipient) → paid, and each payout's proposal: the end of every cent's trail
    paid_to: dict[tuple[int, ChecksumAddress], int] = field(
        default_factory=lambda: defaultdict(int)
    )


def books_from_events(events: Iterable[FundEvent]) -> FundBooks:
    books = FundBooks()
    for e in events:
        a = e.args
        c = e.community_id
        if e.name == "IncomeRecorded":
            books.total_income[c] += a["amount"]
            books.available[c] += a["amount"]
        elif e.name == "GrantOpened":
            books.available[c] -= a["amount"]
            books.reserved[c] += a["amount"]
            books.grant_amount[a["proposal_id"]] = a["amount"]
        elif e.name == "GrantClosed":
            books.reserved[c] -= a["released"]
            books.available[c] += a["released"]
        elif e.name == "PayoutExecuted":
            books.reserved[c] -= a["amount"]
            books.total_paid[c] += a["amount"]
            books.grant_paid[a["proposal_id"]] += a["amount"]
            books.paid_to[(c, a["recipient"])] += a["amount"]
    return books
