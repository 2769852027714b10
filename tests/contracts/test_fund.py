"""CommunityFund: every rule, allowed and refused (the refusal names its custom error)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import Wei

from ledger.clients.fund import (
    FundClient,
    GrantState,
    PayoutStatus,
    SourceKind,
    books_from_events,
)
from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import Roles
from ledger.signing.forwards import sign_forward_request
from ledger.tx import send
from tests.contracts.conftest import ProposalFactory, Town

DOC = b"\xd0" * 32
PURPOSE = b"\xa1" * 32
INVOICE = b"\xb2" * 32
INCOME = 1_000_000
BUDGET = 100_000


@contextmanager
def refused(error: str) -> Iterator[None]:
    with pytest.raises(ContractRuleBroken) as info:
        yield
    assert info.value.error == error, f"expected {error}, got {info.value}"


@pytest.fixture
def fund(w3: Web3, system: Deployment) -> FundClient:
    return FundClient(w3, system.fund)


@dataclass(frozen=True)
class Granted:
    """A funded town with a 2-of-3 threshold and an open grant of BUDGET for a passed proposal."""

    town: Town
    proposal_id: int
    recipient: LocalAccount

    @property
    def requester(self) -> LocalAccount:
        return self.town.committee[0]

    @property
    def approvers(self) -> tuple[LocalAccount, LocalAccount]:
        return self.town.committee[1], self.town.committee[2]


@pytest.fixture
def funded(fund: FundClient, town: Town) -> Town:
    fund.record_income(town.committee[0], town.id, SourceKind.DONATION, INCOME, "CNY", DOC)
    fund.set_approval_threshold(town.admin, town.id, 2)
    return town


@pytest.fixture
def granted(fund: FundClient, funded: Town, make_proposal: ProposalFactory) -> Granted:
    proposal_id = make_proposal(funded, outcome="passed", budget=BUDGET)
    fund.open_grant(funded.committee[0], proposal_id, BUDGET)
    return Granted(funded, proposal_id, funded.residents[-1])


def _request(fund: FundClient, g: Granted, amount: int, by: LocalAccount | None = None) -> int:
    return fund.request_payout(
        by or g.requester, g.proposal_id, g.recipient.address, amount, PURPOSE, INVOICE
    )


# ---------------------------------------------------------------- income and currency


def test_record_income_by_committee_member_adds_to_available(fund: FundClient, town: Town) -> None:
    income_id = fund.record_income(
        town.committee[1], town.id, SourceKind.GOVERNMENT_GRANT, 5_000, "CNY", DOC
    )
    assert income_id == 1
    view = fund.fund_of(town.id)
    assert (view.currency, view.total_income, view.available) == (b"CNY", 5_000, 5_000)


def test_record_income_refused_for_non_committee(fund: FundClient, town: Town) -> None:
    with refused("NotCommitteeMember"):
        fund.record_income(town.residents[1], town.id, SourceKind.DONATION, 5_000, "CNY", DOC)


def test_record_income_refused_for_other_currency(fund: FundClient, town: Town) -> None:
    fund.record_income(town.committee[0], town.id, SourceKind.COMPANY, 5_000, "CNY", DOC)
    with refused("CurrencyMismatch"):
        fund.record_income(town.committee[0], town.id, SourceKind.COMPANY, 5_000, "USD", DOC)


def test_record_income_refused_for_zero_amount(fund: FundClient, town: Town) -> None:
    with refused("ZeroAmount"):
        fund.record_income(town.committee[0], town.id, SourceKind.OTHER, 0, "CNY", DOC)


def test_record_income_refused_for_blank_currency(fund: FundClient, town: Town) -> None:
    with refused("InvalidCurrency"):
        fund.record_income(town.committee[0], town.id, SourceKind.OTHER, 1, b"\x00\x00\x00", DOC)  # type: ignore[arg-type]


INVALID_CODES = [b"cny", b"Cny", b"CN1", b"123", b"CN\x00", b"\x00\x00\x00", b"C Y", b"\xc9UR"]


@pytest.mark.parametrize("code", INVALID_CODES)
def test_currency_refused_unless_three_letters_a_to_z(
    fund: FundClient, town: Town, w3: Web3, code: bytes
) -> None:
    functions = fund.contract.functions
    with refused("InvalidCurrency"):
        send(w3, town.admin, functions.setCurrency(town.id, code))
    with refused("InvalidCurrency"):
        send(w3, town.committee[0], functions.recordIncome(town.id, 1, 1, code, DOC))


@pytest.mark.parametrize("code", [b"CNY", b"AAA", b"ZZZ"])
def test_currency_of_three_letters_a_to_z_is_taken(
    fund: FundClient, town: Town, w3: Web3, code: bytes
) -> None:
    send(w3, town.admin, fund.contract.functions.setCurrency(town.id, code))
    assert fund.fund_of(town.id).currency == code


def test_set_currency_by_admin_fixes_it_before_income(fund: FundClient, town: Town) -> None:
    fund.set_currency(town.admin, town.id, "EUR")
    assert fund.fund_of(town.id).currency == b"EUR"
    with refused("CurrencyMismatch"):
        fund.record_income(town.committee[0], town.id, SourceKind.DONATION, 1, "CNY", DOC)
    with refused("CurrencyAlreadySet"):
        fund.set_currency(town.admin, town.id, "CNY")


def test_set_currency_refused_for_non_admin(fund: FundClient, town: Town) -> None:
    with refused("NotCommunityAdmin"):
        fund.set_currency(town.committee[0], town.id, "EUR")


# ---------------------------------------------------------------- threshold


def test_set_approval_threshold_up_to_committee_size(fund: FundClient, town: Town) -> None:
    fund.set_approval_threshold(town.admin, town.id, 3)
    assert fund.fund_of(town.id).approval_threshold == 3


@pytest.mark.parametrize("threshold", [0, 4])
def test_set_approval_threshold_refused_outside_one_to_m(
    fund: FundClient, town: Town, threshold: int
) -> None:
    with refused("InvalidThreshold"):
        fund.set_approval_threshold(town.admin, town.id, threshold)


def test_set_approval_threshold_refused_for_non_admin(fund: FundClient, town: Town) -> None:
    with refused("NotCommunityAdmin"):
        fund.set_approval_threshold(town.committee[0], town.id, 2)


# ---------------------------------------------------------------- grants


def test_open_grant_for_passed_proposal_reserves_amount(
    fund: FundClient, funded: Town, make_proposal: ProposalFactory
) -> None:
    proposal_id = make_proposal(funded, outcome="passed", budget=BUDGET)
    fund.open_grant(funded.committee[0], proposal_id, BUDGET - 1)
    grant = fund.grant_of(proposal_id)
    assert (grant.community_id, grant.amount, grant.paid, grant.state) == (
        funded.id,
        BUDGET - 1,
        0,
        GrantState.OPEN,
    )
    view = fund.fund_of(funded.id)
    assert (view.available, view.reserved) == (INCOME - BUDGET + 1, BUDGET - 1)


@pytest.mark.parametrize("outcome", ["rejected", "no_quorum", "open", "closed"])
def test_open_grant_refused_unless_proposal_passed(
    fund: FundClient, funded: Town, make_proposal: ProposalFactory, outcome: str
) -> None:
    proposal_id = make_proposal(funded, outcome=outcome, budget=BUDGET)
    with refused("ProposalNotPassed"):
        fund.open_grant(funded.committee[0], proposal_id, BUDGET)


def test_open_grant_refused_for_unknown_proposal(fund: FundClient, funded: Town) -> None:
    with refused("ProposalNotPassed"):
        fund.open_grant(funded.committee[0], 999, 1)


def test_open_grant_refused_over_budget(
    fund: FundClient, funded: Town, make_proposal: ProposalFactory
) -> None:
    proposal_id = make_proposal(funded, outcome="passed", budget=BUDGET)
    with refused("GrantExceedsBudget"):
        fund.open_grant(funded.committee[0], proposal_id, BUDGET + 1)


def test_open_grant_refused_when_proposal_requested_no_budget(
    fund: FundClient, funded: Town, make_proposal: ProposalFactory
) -> None:
    proposal_id = make_proposal(funded, outcome="passed", budget=0, currency=b"\x00\x00\x00")
    with refused("GrantExceedsBudget"):
        fund.open_grant(funded.committee[0], proposal_id, 1)


def test_open_grant_refused_twice_for_one_proposal(fund: FundClient, granted: Granted) -> None:
    with refused("GrantAlreadyOpened"):
        fund.open_grant(granted.town.committee[1], granted.proposal_id, 1)


def test_open_grant_refused_beyond_unreserved_balance(
    fund: FundClient, town: Town, make_proposal: ProposalFactory
) -> None:
    fund.record_income(town.committee[0], town.id, SourceKind.DONATION, BUDGET - 1, "CNY", DOC)
    proposal_id = make_proposal(town, outcome="passed", budget=BUDGET)
    with refused("InsufficientFund"):
        fund.open_grant(town.committee[0], proposal_id, BUDGET)


def test_open_grant_refused_in_other_currency(
    fund: FundClient, funded: Town, make_proposal: ProposalFactory
) -> None:
    proposal_id = make_proposal(funded, outcome="passed", budget=BUDGET, currency=b"USD")
    with refused("CurrencyMismatch"):
        fund.open_grant(funded.committee[0], proposal_id, BUDGET)


def test_open_grant_refused_before_fund_has_currency(
    fund: FundClient, town: Town, make_proposal: ProposalFactory
) -> None:
    proposal_id = make_proposal(town, outcome="passed", budget=BUDGET)
    with refused("CurrencyNotSet"):
        fund.open_grant(town.committee[0], proposal_id, BUDGET)


def test_open_grant_refused_for_non_committee(
    fund: FundClient, funded: Town, make_proposal: ProposalFactory
) -> None:
    proposal_id = make_proposal(funded, outcome="passed", budget=BUDGET)
    with refused("NotCommitteeMember"):
        fund.open_grant(funded.residents[1], proposal_id, BUDGET)


def test_open_grant_refused_for_committee_of_another_community(
    fund: FundClient,
    funded: Town,
    make_town: Callable[[], Town],
    make_proposal: ProposalFactory,
    w3: Web3,
    system: Deployment,
) -> None:
    other = make_town()
    outsider_member = other.outsider
    send(
        w3,
        other.admin,
        system.registry.functions.grantRole(other.id, Roles.COMMITTEE, outsider_member.address),
    )
    w3.eth.send_transaction(
        {"from": other.admin.address, "to": outsider_member.address, "value": Wei(10**18)}
    )
    proposal_id = make_proposal(funded, outcome="passed", budget=BUDGET)
    with refused("NotCommitteeMember"):
        fund.open_grant(outsider_member, proposal_id, BUDGET)


def test_close_grant_releases_unpaid_remainder(fund: FundClient, granted: Granted) -> None:
    g = granted
    request_id = _request(fund, g, 30_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.approve_payout(g.approvers[1], request_id)
    fund.execute_payout(g.requester, request_id)
    fund.close_grant(g.town.committee[2], g.proposal_id)
    assert fund.grant_of(g.proposal_id).state == GrantState.CLOSED
    view = fund.fund_of(g.town.id)
    assert (view.available, view.reserved, view.total_paid) == (INCOME - 30_000, 0, 30_000)


def test_close_grant_refused_twice(fund: FundClient, granted: Granted) -> None:
    fund.close_grant(granted.requester, granted.proposal_id)
    with refused("GrantIsClosed"):
        fund.close_grant(granted.requester, granted.proposal_id)


def test_close_grant_refused_for_non_committee(fund: FundClient, granted: Granted) -> None:
    with refused("NotCommitteeMember"):
        fund.close_grant(granted.recipient, granted.proposal_id)


# ---------------------------------------------------------------- payouts


def test_payout_executes_after_two_distinct_approvals(fund: FundClient, granted: Granted) -> None:
    g = granted
    request_id = _request(fund, g, 40_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.approve_payout(g.approvers[1], request_id)
    fund.execute_payout(g.approvers[0], request_id)
    payout = fund.payout_of(request_id)
    assert payout.status == PayoutStatus.EXECUTED
    assert payout.approvers == (g.approvers[0].address, g.approvers[1].address)
    assert fund.grant_of(g.proposal_id).paid == 40_000
    view = fund.fund_of(g.town.id)
    assert (view.reserved, view.total_paid) == (BUDGET - 40_000, 40_000)


def test_execute_refused_with_fewer_approvals_than_threshold(
    fund: FundClient, granted: Granted
) -> None:
    request_id = _request(fund, granted, 1_000)
    fund.approve_payout(granted.approvers[0], request_id)
    with refused("NotEnoughApprovals"):
        fund.execute_payout(granted.requester, request_id)


def test_approve_refused_for_requester(fund: FundClient, granted: Granted) -> None:
    request_id = _request(fund, granted, 1_000)
    with refused("SelfApproval"):
        fund.approve_payout(granted.requester, request_id)


def test_approve_refused_twice_by_same_member(fund: FundClient, granted: Granted) -> None:
    request_id = _request(fund, granted, 1_000)
    fund.approve_payout(granted.approvers[0], request_id)
    with refused("AlreadyApproved"):
        fund.approve_payout(granted.approvers[0], request_id)
    assert fund.has_approved(request_id, granted.approvers[0].address)
    assert not fund.has_approved(request_id, granted.approvers[1].address)


def test_approve_refused_for_non_committee(fund: FundClient, granted: Granted) -> None:
    request_id = _request(fund, granted, 1_000)
    with refused("NotCommitteeMember"):
        fund.approve_payout(granted.recipient, request_id)


def test_request_refused_for_non_committee(fund: FundClient, granted: Granted) -> None:
    with refused("NotCommitteeMember"):
        _request(fund, granted, 1_000, by=granted.recipient)


def test_request_refused_over_grant_remainder(fund: FundClient, granted: Granted) -> None:
    with refused("InsufficientGrant"):
        _request(fund, granted, BUDGET + 1)


def test_request_refused_without_recipient(fund: FundClient, granted: Granted) -> None:
    with refused("InvalidRecipient"):
        fund.request_payout(
            granted.requester, granted.proposal_id, "0x" + "00" * 20, 1, PURPOSE, INVOICE
        )


def test_request_refused_for_proposal_without_grant(
    fund: FundClient, funded: Town, make_proposal: ProposalFactory
) -> None:
    proposal_id = make_proposal(funded, outcome="passed", budget=BUDGET)
    with refused("GrantNotFound"):
        fund.request_payout(
            funded.committee[0], proposal_id, funded.residents[0].address, 1, PURPOSE, INVOICE
        )


def test_request_refused_before_threshold_is_set(
    fund: FundClient, town: Town, make_proposal: ProposalFactory
) -> None:
    fund.record_income(town.committee[0], town.id, SourceKind.DONATION, INCOME, "CNY", DOC)
    proposal_id = make_proposal(town, outcome="passed", budget=BUDGET)
    fund.open_grant(town.committee[0], proposal_id, BUDGET)
    with refused("ThresholdNotSet"):
        fund.request_payout(
            town.committee[0], proposal_id, town.residents[0].address, 1, PURPOSE, INVOICE
        )


def test_tranches_pay_up_to_grant_and_no_further(fund: FundClient, granted: Granted) -> None:
    g = granted
    first, second, third = (_request(fund, g, amount) for amount in (60_000, 40_000, 1))
    for request_id in (first, second, third):
        fund.approve_payout(g.approvers[0], request_id)
        fund.approve_payout(g.approvers[1], request_id)
    fund.execute_payout(g.requester, first)
    fund.execute_payout(g.requester, second)
    # The grant is exhausted: the third tranche was within it when requested, but not now.
    with refused("InsufficientGrant"):
        fund.execute_payout(g.requester, third)
    assert fund.grant_of(g.proposal_id).paid == BUDGET


def test_execute_refused_twice(fund: FundClient, granted: Granted) -> None:
    g = granted
    request_id = _request(fund, g, 1_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.approve_payout(g.approvers[1], request_id)
    fund.execute_payout(g.requester, request_id)
    with refused("PayoutNotPending"):
        fund.execute_payout(g.requester, request_id)


def test_execute_refused_for_non_committee(fund: FundClient, granted: Granted) -> None:
    g = granted
    request_id = _request(fund, g, 1_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.approve_payout(g.approvers[1], request_id)
    with refused("NotCommitteeMember"):
        fund.execute_payout(g.recipient, request_id)


def test_approval_of_revoked_member_no_longer_counts(
    fund: FundClient, granted: Granted, w3: Web3, system: Deployment
) -> None:
    g = granted
    request_id = _request(fund, g, 1_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.approve_payout(g.approvers[1], request_id)
    registry = system.registry.functions
    send(w3, g.town.admin, registry.revokeRole(g.town.id, Roles.COMMITTEE, g.approvers[1].address))
    with refused("NotEnoughApprovals"):
        fund.execute_payout(g.requester, request_id)


def test_closed_grant_lapses_pending_requests(fund: FundClient, granted: Granted) -> None:
    g = granted
    request_id = _request(fund, g, 1_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.approve_payout(g.approvers[1], request_id)
    fund.close_grant(g.requester, g.proposal_id)
    assert fund.payout_of(request_id).status == PayoutStatus.LAPSED
    with refused("GrantIsClosed"):
        fund.execute_payout(g.requester, request_id)
    with refused("GrantIsClosed"):
        fund.approve_payout(g.town.committee[0], request_id)
    with refused("GrantIsClosed"):
        _request(fund, g, 1)
    fund.cancel_payout(g.requester, request_id)
    assert fund.payout_of(request_id).status == PayoutStatus.CANCELLED


def test_cancelled_request_stays_visible_and_cannot_execute(
    fund: FundClient, granted: Granted
) -> None:
    g = granted
    request_id = _request(fund, g, 1_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.cancel_payout(g.requester, request_id)
    payout = fund.payout_of(request_id)
    assert (payout.status, payout.amount, payout.recipient) == (
        PayoutStatus.CANCELLED,
        1_000,
        g.recipient.address,
    )
    with refused("PayoutNotPending"):
        fund.approve_payout(g.approvers[1], request_id)
    with refused("PayoutNotPending"):
        fund.execute_payout(g.requester, request_id)


def test_cancel_by_admin_allowed(fund: FundClient, granted: Granted) -> None:
    request_id = _request(fund, granted, 1_000)
    fund.cancel_payout(granted.town.admin, request_id)
    assert fund.payout_of(request_id).status == PayoutStatus.CANCELLED


def test_cancel_refused_for_other_committee_member(fund: FundClient, granted: Granted) -> None:
    request_id = _request(fund, granted, 1_000)
    with refused("NotRequesterOrAdmin"):
        fund.cancel_payout(granted.approvers[0], request_id)


def test_unknown_request_refused(fund: FundClient, granted: Granted) -> None:
    with refused("PayoutNotFound"):
        fund.approve_payout(granted.approvers[0], 77)


# ---------------------------------------------------------------- trail


def test_events_rebuild_balances_and_name_the_proposal(fund: FundClient, granted: Granted) -> None:
    g = granted
    request_id = _request(fund, g, 25_000)
    fund.approve_payout(g.approvers[0], request_id)
    fund.approve_payout(g.approvers[1], request_id)
    fund.execute_payout(g.requester, request_id)

    events = fund.events()
    books = books_from_events(events)
    view = fund.fund_of(g.town.id)
    assert books.total_income[g.town.id] == view.total_income == INCOME
    assert books.available[g.town.id] == view.available
    assert books.reserved[g.town.id] == view.reserved
    assert books.total_paid[g.town.id] == view.total_paid == 25_000
    assert books.paid_to[(g.town.id, g.recipient.address)] == 25_000
    grant_steps = [e for e in events if e.name.startswith(("Grant", "Payout"))]
    assert {e.name for e in grant_steps} == {
        "GrantOpened",
        "PayoutRequested",
        "PayoutApproved",
        "PayoutExecuted",
    }
    assert all(e.args["proposal_id"] == g.proposal_id for e in grant_steps)
    (requested,) = [e for e in events if e.name == "PayoutRequested"]
    assert (requested.args["purpose_hash"], requested.args["invoice_hash"]) == (PURPOSE, INVOICE)


# ---------------------------------------------------------------- relayed (ERC-2771)


def test_income_relayed_through_forwarder_is_recorded_by_signer(
    fund: FundClient, town: Town, w3: Web3, system: Deployment
) -> None:
    member, relayer = town.committee[1], town.residents[0]
    forwarder = system.forwarder
    request = sign_forward_request(
        w3,
        forwarder,
        member,
        fund.contract.functions.recordIncome(town.id, int(SourceKind.COMPANY), 7_000, b"CNY", DOC),
        gas=300_000,
        deadline=int(w3.eth.get_block("latest")["timestamp"]) + 3600,
    )
    call = request.as_struct()
    send(w3, relayer, forwarder.functions.execute(call))
    (income,) = [e for e in fund.events() if e.name == "IncomeRecorded"]
    assert income.args["recorded_by"] == member.address
    assert fund.fund_of(town.id).total_income == 7_000
