"""The community funds rebuilt from CommunityFund's events, with every rule re-checked and every
cent traced: income → fund → grant (naming its proposal) → payout → recipient.

The proposal a grant serves must have passed by the recount (not only by the contract's word),
and the committee whose approvals count is the one rebuilt from the Registry's role events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ledger.audit import budget
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, addr
from ledger.audit.ethcodec import to_hex
from ledger.audit.recount import decide, outcome_name
from ledger.audit.state import Community, Grant, Payout
from ledger.currency import is_currency_code
from ledger.hashing import checksum_address
from ledger.protocol.generated import GrantState, Outcome, PayoutStatus, SourceKind

MAX_AMOUNT: Final = 2**96 - 1
# The steps of a cent's trail (income -> fund -> grant -> payout -> recipient): the events that
# move or commit money, as the report lists them and `commons audit --api` checks them.
TRAIL_EVENTS: Final = (
    "IncomeRecorded",
    "GrantOpened",
    "GrantClosed",
    "PayoutRequested",
    "PayoutApproved",
    "PayoutCancelled",
    "PayoutExecuted",
)
SOURCE_KINDS: Final = frozenset(k.value for k in SourceKind)


def _currency(value: Any) -> str:
    raw = bytes(value)
    return raw.decode("ascii", "replace") if raw.strip(b"\x00") else "-"


def _trail(
    ctx: Ctx,
    call: Call,
    step: str,
    community: int,
    amount: int,
    currency: bytes,
    *,
    proposal: int | None = None,
    request: int | None = None,
    source: str = "",
    destination: str = "",
    party: bytes | None = None,
    reference: bytes | None = None,
) -> None:
    ctx.state.trail.append(
        {
            "block": call.block,
            "tx": call.tx,
            "step": step,
            "community": community,
            "proposal": proposal,
            "request": request,
            "amount": amount,
            "currency": _currency(currency),
            "from": source,
            "to": destination,
            "party": to_hex(party) if party else "",
            "reference": to_hex(reference) if reference else "",
        }
    )


def _committee(
    ctx: Ctx, call: Call, community: Community | None, account: bytes, what: str
) -> None:
    if community is None or not community.has("COMMITTEE", account):
        ctx.find(
            "fund.permission",
            call,
            "a COMMITTEE member",
            account,
            f"{what} by an account outside the committee",
        )


def _admin(ctx: Ctx, call: Call, community: Community | None, account: bytes, what: str) -> None:
    if community is None or community.admin != account:
        ctx.find(
            "fund.permission",
            call,
            community.admin if community else "an admin",
            account,
            f"{what} by an account that is not the community admin",
        )


def _amount(ctx: Ctx, call: Call, amount: int, what: str) -> None:
    if not 0 < amount <= MAX_AMOUNT:
        ctx.find("fund.negative", call, f"1..{MAX_AMOUNT}", amount, f"{what}: amount out of range")


def _currency_set(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    fund, setter = ctx.state.fund(cid), addr(ev["setBy"])
    if fn == "setCurrency":
        _admin(ctx, call, ctx.state.communities.get(cid), setter, "fund currency set")
    if fund.currency:
        ctx.find(
            "fund.currency",
            call,
            "no currency yet",
            _currency(fund.currency),
            f"community {cid}'s fund currency changed after it was fixed",
        )
    if not is_currency_code(bytes(ev["currency"])):
        ctx.find(
            "fund.currency",
            call,
            "three letters A-Z (ISO 4217)",
            bytes(ev["currency"]),
            f"community {cid}'s fund currency is not a currency code",
        )
    fund.currency = bytes(ev["currency"])


def _threshold_set(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    community, setter = ctx.state.communities.get(cid), addr(ev["setBy"])
    _admin(ctx, call, community, setter, "approval threshold set")
    size = len(community.roles["COMMITTEE"]) if community else 0
    threshold = int(ev["threshold"])
    if int(ev["committeeSize"]) != size or not 1 <= threshold <= min(size, 255):
        ctx.find(
            "fund.approvals",
            call,
            f"1..{size} of a committee of {size}",
            f"{threshold} of {int(ev['committeeSize'])}",
            f"community {cid}'s approval threshold outside the committee size",
        )
    ctx.state.fund(cid).threshold = threshold


def _income_recorded(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    state, fund = ctx.state, ctx.state.fund(cid)
    recorder = addr(ev["recordedBy"])
    _committee(ctx, call, state.communities.get(cid), recorder, "income recorded")
    amount, currency = int(ev["amount"]), bytes(ev["currency"])
    _amount(ctx, call, amount, "income")
    if currency != fund.currency:
        ctx.find(
            "fund.currency",
            call,
            _currency(fund.currency),
            _currency(currency),
            f"income in another currency than community {cid}'s fund",
        )
    state.income_count += 1
    if int(ev["incomeId"]) != state.income_count:
        ctx.find(
            "fund.balance",
            call,
            state.income_count,
            int(ev["incomeId"]),
            "income records must be numbered sequentially",
        )
    fund.total_income += amount
    fund.available += amount
    kind = int(ev["kind"])
    _trail(
        ctx,
        call,
        "income",
        cid,
        amount,
        currency,
        source=SourceKind(kind).name if kind in SOURCE_KINDS else str(kind),
        destination="fund",
        party=recorder,
        reference=bytes(ev["documentHash"]),
    )


def _grant_closed(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    state = ctx.state
    pid, closer = int(ev["proposalId"]), addr(ev["closedBy"])
    grant = state.grants.get(pid)
    if grant is None or grant.state != GrantState.Open:
        ctx.find(
            "fund.grant",
            call,
            "an open grant",
            "none" if grant is None else "closed",
            f"grant of proposal {pid} closed without being open",
        )
        return
    _committee(ctx, call, state.communities.get(grant.community), closer, "grant closed")
    released = grant.amount - grant.paid
    if int(ev["released"]) != released:
        ctx.find(
            "fund.balance",
            call,
            released,
            int(ev["released"]),
            f"grant of proposal {pid} released another amount than it had left",
        )
    grant.state = GrantState.Closed
    fund = state.fund(grant.community)
    fund.reserved -= released
    fund.available += released
    _trail(
        ctx,
        call,
        "grant_closed",
        grant.community,
        released,
        grant.currency,
        proposal=pid,
        source=f"grant {pid}",
        destination="fund",
        party=closer,
    )


def _payout_cancelled(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    state = ctx.state
    rid, canceller = int(ev["requestId"]), addr(ev["cancelledBy"])
    payout = state.payouts.get(rid)
    if payout is None or payout.status != PayoutStatus.Pending:
        ctx.find(
            "fund.approvals",
            call,
            "a pending payout",
            "none" if payout is None else payout.status,
            f"payout {rid} cancelled though not pending",
        )
        return
    owner = state.communities.get(payout.community)
    if canceller != payout.requester and (owner is None or canceller != owner.admin):
        ctx.find(
            "fund.permission",
            call,
            "the requester or the admin",
            canceller,
            f"payout {rid} cancelled by someone else",
        )
    payout.status = PayoutStatus.Cancelled
    _trail(
        ctx,
        call,
        "payout_cancelled",
        payout.community,
        payout.amount,
        state.fund(payout.community).currency,
        proposal=payout.proposal,
        request=rid,
        party=canceller,
    )


def _grant_opened(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    state = ctx.state
    pid, amount = int(ev["proposalId"]), int(ev["amount"])
    currency = bytes(ev["currency"])
    opener = addr(ev["openedBy"])
    fund = state.fund(cid)
    if pid >> 255:  # IParticipatoryBudget.grantIdOf: a selected project's grant
        budget.grant_opened(ctx, call, cid, pid, amount)
    else:
        _proposal_grant(ctx, call, cid, pid, amount, currency, opener)
    _amount(ctx, call, amount, "grant")
    if currency != fund.currency:
        ctx.find(
            "fund.currency",
            call,
            _currency(fund.currency),
            _currency(currency),
            f"grant in another currency than community {cid}'s fund",
        )
    if pid in state.grants:
        ctx.find(
            "fund.grant",
            call,
            "one grant per proposal",
            "a second grant",
            f"a second grant opened for proposal {pid}",
        )
    if amount > fund.available:
        ctx.find(
            "fund.negative",
            call,
            f"at most {fund.available} available",
            amount,
            f"grant for proposal {pid} reserves more than community {cid}'s fund holds",
        )
    fund.available -= amount
    fund.reserved += amount
    state.grants[pid] = Grant(
        pid, cid, amount, currency, opened_block=call.block, opened_tx=call.tx
    )
    _trail(
        ctx,
        call,
        "grant_opened",
        cid,
        amount,
        currency,
        proposal=pid,
        source="fund",
        destination=f"grant {pid}",
        party=opener,
    )


def _proposal_grant(
    ctx: Ctx, call: Call, cid: int, pid: int, amount: int, currency: bytes, opener: bytes
) -> None:
    """A council grant: for a passed proposal of the fund's community, within its budget, opened
    by a committee member."""
    state = ctx.state
    community = state.communities.get(cid)
    p = state.proposals.get(pid)
    if p is None:
        ctx.find(
            "fund.grant",
            call,
            "a passed proposal",
            "no such proposal",
            f"grant opened for proposal {pid}, which was never opened",
        )
    else:
        recount = decide(p, p.tally)[0] if p.outcome != Outcome.None_ else Outcome.None_
        if p.outcome != Outcome.Passed or recount != Outcome.Passed:
            ctx.find(
                "fund.grant",
                call,
                "Passed",
                f"{outcome_name(p.outcome)} on-chain, {outcome_name(recount)} by the recount",
                f"grant opened for proposal {pid}, which did not pass",
            )
        if p.community != cid:
            ctx.find(
                "fund.grant",
                call,
                p.community,
                cid,
                f"grant for proposal {pid} opened in another community's fund",
            )
        if amount > p.budget_amount:
            ctx.find(
                "fund.grant",
                call,
                f"at most {p.budget_amount}",
                amount,
                f"grant exceeds the budget proposal {pid} requested",
            )
        if p.budget_currency != currency:
            ctx.find(
                "fund.grant",
                call,
                _currency(p.budget_currency),
                _currency(currency),
                f"grant in another currency than proposal {pid}'s budget",
            )
    _committee(ctx, call, community, opener, "grant opened")


def _payout_requested(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    state = ctx.state
    pid, rid = int(ev["proposalId"]), int(ev["requestId"])
    requester, recipient = addr(ev["requester"]), addr(ev["recipient"])
    amount = int(ev["amount"])
    grant = state.grants.get(pid)
    if grant is None or grant.state != GrantState.Open or grant.community != cid:
        ctx.find(
            "fund.grant",
            call,
            "an open grant",
            "none or closed",
            f"payout requested from proposal {pid}'s grant, which is not open",
        )
    else:
        _committee(ctx, call, state.communities.get(cid), requester, "payout requested")
        if amount > grant.amount - grant.paid:
            ctx.find(
                "fund.negative",
                call,
                f"at most {grant.amount - grant.paid}",
                amount,
                f"payout request exceeds what proposal {pid}'s grant has left",
            )
    if state.fund(cid).threshold == 0:
        ctx.find(
            "fund.approvals",
            call,
            "a threshold set",
            0,
            f"payout requested in community {cid} before its approval threshold was set",
        )
    if recipient == bytes(20):
        ctx.find("fund.negative", call, "a recipient", recipient, "payout to the zero address")
    _amount(ctx, call, amount, "payout request")
    if rid != len(state.payouts) + 1:
        ctx.find(
            "fund.balance",
            call,
            len(state.payouts) + 1,
            rid,
            "payout requests must be numbered sequentially",
        )
    state.payouts[rid] = Payout(
        rid,
        pid,
        cid,
        recipient,
        amount,
        requester,
        purpose=bytes(ev["purposeHash"]),
        invoice=bytes(ev["invoiceHash"]),
    )
    _trail(
        ctx,
        call,
        "payout_requested",
        cid,
        amount,
        state.fund(cid).currency,
        proposal=pid,
        request=rid,
        source=f"grant {pid}",
        destination=to_hex(recipient),
        party=requester,
        reference=bytes(ev["invoiceHash"]),
    )


def _payout_approved(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    state = ctx.state
    rid = int(ev["requestId"])
    approver = addr(ev["approver"])
    payout = state.payouts.get(rid)
    if payout is None or payout.status != PayoutStatus.Pending:
        ctx.find(
            "fund.approvals",
            call,
            "a pending payout",
            "none or settled",
            f"payout {rid} approved though not pending",
        )
        return
    grant = state.grants.get(payout.proposal)
    if grant is None or grant.state != GrantState.Open:
        ctx.find(
            "fund.grant",
            call,
            "an open grant",
            "closed",
            f"payout {rid} approved after its grant closed",
        )
    _committee(ctx, call, state.communities.get(payout.community), approver, "payout approved")
    if approver == payout.requester:
        ctx.find(
            "fund.self_approval",
            call,
            "an approver other than the requester",
            approver,
            f"payout {rid} approved by the member who requested it",
        )
    if approver in payout.approvers:
        ctx.find(
            "fund.approvals",
            call,
            "distinct approvers",
            approver,
            f"payout {rid} approved twice by one member",
        )
    payout.approvers.append(approver)
    if int(ev["approvals"]) != len(payout.approvers):
        ctx.find(
            "fund.approvals",
            call,
            len(payout.approvers),
            int(ev["approvals"]),
            f"payout {rid}'s approval count differs from its approvals",
        )
    _trail(
        ctx,
        call,
        "payout_approved",
        payout.community,
        payout.amount,
        state.fund(payout.community).currency,
        proposal=payout.proposal,
        request=rid,
        party=approver,
    )


def _payout_executed(ctx: Ctx, call: Call, fn: str | None, cid: int, ev: dict[str, Any]) -> None:
    state = ctx.state
    rid, pid = int(ev["requestId"]), int(ev["proposalId"])
    executor = addr(ev["executedBy"])
    payout = state.payouts.get(rid)
    if payout is None or payout.status != PayoutStatus.Pending:
        ctx.find(
            "fund.approvals",
            call,
            "a pending payout",
            "none or settled",
            f"payout {rid} executed though not pending",
        )
        return
    amount, recipient = int(ev["amount"]), addr(ev["recipient"])
    if (pid, amount, recipient) != (payout.proposal, payout.amount, payout.recipient):
        ctx.find(
            "fund.balance",
            call,
            f"{payout.amount} to {checksum_address(payout.recipient)} from grant {payout.proposal}",
            f"{amount} to {checksum_address(recipient)} from grant {pid}",
            f"payout {rid} executed differently from its request",
        )
    community = state.communities.get(payout.community)
    _committee(ctx, call, community, executor, "payout executed")
    fund = state.fund(payout.community)
    committee = community.roles["COMMITTEE"] if community else set()
    distinct = {a for a in payout.approvers if a in committee and a != payout.requester}
    if len(distinct) < fund.threshold or fund.threshold == 0:
        ctx.find(
            "fund.approvals",
            call,
            f"{fund.threshold} approvals of current members",
            len(distinct),
            f"payout {rid} executed without enough distinct approvals",
        )
    grant = state.grants.get(payout.proposal)
    if grant is None or grant.state != GrantState.Open:
        ctx.find(
            "fund.grant",
            call,
            "an open grant",
            "closed or none",
            f"payout {rid} executed from a grant that is not open",
        )
        return
    if payout.amount > grant.amount - grant.paid:
        ctx.find(
            "fund.negative",
            call,
            f"at most {grant.amount - grant.paid}",
            payout.amount,
            f"payout {rid} pays more than proposal {grant.proposal}'s grant has left",
        )
    payout.status = PayoutStatus.Executed
    grant.paid += payout.amount
    fund.reserved -= payout.amount
    fund.total_paid += payout.amount
    _trail(
        ctx,
        call,
        "payout_executed",
        payout.community,
        payout.amount,
        fund.currency,
        proposal=payout.proposal,
        request=rid,
        source=f"grant {payout.proposal}",
        destination=to_hex(payout.recipient),
        party=executor,
        reference=payout.invoice,
    )


def _never_negative(ctx: Ctx, call: Call, cid: int) -> None:
    fund = ctx.state.funds.get(cid)
    if fund is None:
        return
    if min(fund.available, fund.reserved, fund.total_income, fund.total_paid) < 0:
        ctx.find(
            "fund.negative",
            call,
            "all totals >= 0",
            f"available {fund.available}, reserved {fund.reserved}",
            f"community {cid}'s fund went below zero",
        )


Handler = Callable[[Ctx, Call, str | None, int, dict[str, Any]], None]
# Each event: the calls that may emit it (any other call emitting it is unexplained), the field
# naming who acted (the call's sender), and what it does to the books.
EVENTS: Final[dict[str, tuple[frozenset[str], str, Handler]]] = {
    "FundCurrencySet": (frozenset({"setCurrency", "recordIncome"}), "setBy", _currency_set),
    "ApprovalThresholdSet": (frozenset({"setApprovalThreshold"}), "setBy", _threshold_set),
    "IncomeRecorded": (frozenset({"recordIncome"}), "recordedBy", _income_recorded),
    "GrantOpened": (frozenset({"openGrant", "openBudgetGrants"}), "openedBy", _grant_opened),
    "GrantClosed": (frozenset({"closeGrant"}), "closedBy", _grant_closed),
    "PayoutRequested": (frozenset({"requestPayout"}), "requester", _payout_requested),
    "PayoutApproved": (frozenset({"approvePayout"}), "approver", _payout_approved),
    "PayoutExecuted": (frozenset({"executePayout"}), "executedBy", _payout_executed),
    "PayoutCancelled": (frozenset({"cancelPayout"}), "cancelledBy", _payout_cancelled),
}


def handle(
    ctx: Ctx, call: Call, fn: str | None, args: dict[str, Any] | None, name: str, ev: dict[str, Any]
) -> None:
    emitters, actor, apply = EVENTS.get(name, (frozenset(), "", None))
    if apply is None or (fn is not None and fn not in emitters):
        ctx.find(
            "event.unexplained",
            call,
            f"{name} from {sorted(emitters)}",
            fn,
            f"{name} emitted by a call that does not emit it",
        )
    cid = int(ev.get("communityId", 0))
    ctx.state.fund(cid)
    if apply is not None:
        ctx.actor_is(call, addr(ev[actor]), name)
        apply(ctx, call, fn, cid, ev)
    _never_negative(ctx, call, cid)


def final_checks(ctx: Ctx, block: int) -> None:
    """The books balance: income = available + reserved + paid, and reserved = what open grants
    have left (ICommunityFund's invariants)."""
    for cid, fund in ctx.state.funds.items():
        if fund.total_income != fund.available + fund.reserved + fund.total_paid:
            ctx.find(
                "fund.negative",
                None,
                fund.total_income,
                fund.available + fund.reserved + fund.total_paid,
                f"community {cid}: income differs from available + reserved + paid",
                block=block,
            )
        open_left = sum(
            g.amount - g.paid
            for g in ctx.state.grants.values()
            if g.community == cid and g.state == GrantState.Open
        )
        if open_left != fund.reserved:
            ctx.find(
                "fund.negative",
                None,
                open_left,
                fund.reserved,
                f"community {cid}: reserve differs from what its open grants have left",
                block=block,
            )
