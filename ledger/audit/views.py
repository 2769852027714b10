"""The contracts' own view of the state at the audited block, read through their view functions
(eth_call at that block) and set against the rebuilt state. A view is only code: the storage
itself is proven word by word in ledger.audit.proven_storage.

Each view is one row of VIEWS: the contract and function; the rule a difference breaks; what to
ask it about (the rebuilt records, each with the call's arguments); what the rebuilt record says
it must answer; how to read the answer (by the ABI's field names); the finding's detail (its
`{}` filled with the arguments) and how the finding prints both sides. Rows reading one call
(getProposal's tally, outcome, roll and execution) share one eth_call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from ledger.audit.budget import votes_of
from ledger.audit.context import Ctx, addr, show
from ledger.audit.ethcodec import hex_bytes, to_hex
from ledger.audit.recount import outcome_name
from ledger.audit.state import Payout
from ledger.audit.timebank import record_id
from ledger.hashing import checksum_address
from ledger.protocol.generated import Domains, GrantState, PayoutStatus, ServiceRecord
from ledger.signing.digests import domain_separator, typed_digest
from ledger.transport import RpcClient, RpcFailure

Key = tuple[str, str, tuple[Any, ...]]  # (role, function, arguments): one eth_call
Asked = Iterable[tuple[tuple[Any, ...], Any]]  # (the call's arguments, the rebuilt record)


@dataclass(frozen=True)
class View:
    role: str
    fn: str
    rule: str
    about: Callable[[Ctx], Asked]
    expected: Callable[[Ctx, Any], Any]  # (ctx, the rebuilt record) -> what the view must say
    read: Callable[[Any], Any]  # the decoded answer -> a value comparable with `expected`
    detail: str
    show: Callable[[Any], Any] = show  # how a finding prints either side


def _once(ctx: Ctx) -> Asked:
    return [((), None)]


def _each(collection: str) -> Callable[[Ctx], Asked]:
    """Every record of one of the rebuilt state's collections, asked about by its key."""
    return lambda ctx: (((key,), record) for key, record in getattr(ctx.state, collection).items())


def _balances(ctx: Ctx) -> Asked:
    for cid, book in ctx.state.timebanks.items():
        for account, balance in book.balances.items():
            yield (cid, checksum_address(account)), balance


def _replacements(ctx: Ctx) -> Asked:
    for cid, community in ctx.state.communities.items():
        for old, new in community.replacements.items():
            yield (cid, checksum_address(old)), new


def _carried(ctx: Ctx) -> Asked:
    for cid, book in ctx.state.timebanks.items():
        for old in book.carried:
            yield (cid, checksum_address(old)), old


# The time bank has no separator getter: its digest of a probe record tells its domain.
PROBE: Final = ServiceRecord(
    provider=to_hex(bytes(20)), recipient=to_hex(bytes(19) + b"\x01"), minutesServed=1,
    category=b"AUDIT\0\0\0", noteHash=bytes(32), nonce=0,
)  # fmt: skip


def _pair(first: str, second: str) -> Callable[[dict[str, Any]], tuple[int, int]]:
    return lambda out: (int(out[first]), int(out[second]))


def _roll_text(pair: tuple[int, int]) -> str:
    return f"v{pair[0]} of {pair[1]}"


def _key_text(key: tuple[int, bytes, int, int]) -> str:
    community, auditor, registered, revoked = key
    return f"community {community}, auditor 0x{auditor.hex()}, block {registered}" + (
        f", revoked in block {revoked}" if revoked else ""
    )


def _books_text(values: tuple[Any, ...]) -> str:
    return f"income {values[2]}, available {values[3]}, reserved {values[4]}, paid {values[5]}"


def _tally(out: dict[str, Any]) -> list[int]:
    return [int(t) for t in out["tally"]]


BUDGET_ROUND_FIELDS: Final = (
    "projectCount", "ballotCount", "ineligible", "selected", "selectionBudget", "spent",
)  # fmt: skip
FUND_FIELDS: Final = ("approvalThreshold", "totalIncome", "available", "reserved", "totalPaid")


def _payout_status(ctx: Ctx, r: Payout) -> int:
    grant = ctx.state.grants.get(r.proposal)
    # Lapsed (a pending payout of a closed grant) is reported, never stored.
    lapsed = (
        r.status == PayoutStatus.Pending and grant is not None and grant.state == GrantState.Closed
    )
    return PayoutStatus.Lapsed if lapsed else r.status


def _wired(role: str, fn: str, target: str, detail: str) -> View:
    """An immutable address, read back through its getter."""
    return View(
        role, fn, "deploy.wiring", _once, lambda ctx, _: ctx.contracts[target], addr, detail
    )


def _count(role: str, fn: str, rule: str, what: str, number: Callable[[Ctx], int]) -> View:
    return View(
        role, fn, rule, _once, lambda ctx, _: number(ctx), int,
        f"the contract counts another number of {what}",
    )  # fmt: skip


VIEWS: Final[tuple[View, ...]] = (
    *(
        _wired(role, "trustedForwarder", "forwarder",
               f"{role}'s trusted forwarder is not the recorded forwarder")
        for role in ("registry", "council", "fund", "timebank", "initiatives", "budget", "mandates",
                     "elections", "poll_office")
    ),
    *(
        _wired(role, fn, target, f"{role}.{fn}() is not the recorded {target}")
        for role, fn, target in (("council", "registry", "registry"),
                                 ("fund", "registry", "registry"),
                                 ("fund", "council", "council"),
                                 ("timebank", "registry", "registry"),
                                 ("initiatives", "registry", "registry"),
                                 ("initiatives", "council", "council"),
                                 ("ratings", "registry", "registry"),
                                 ("ratings", "council", "council"),
                                 ("budget", "registry", "registry"),
                                 ("budget", "fund", "fund"),
                                 ("fund", "participatoryBudget", "budget"),
                                 ("council", "mandates", "mandates"),
                                 ("council", "secretBallot", "secret"),
                                 ("mandates", "registry", "registry"),
                                 ("elections", "pollOffice", "poll_office"),
                                 ("poll_office", "registry", "registry"),
                                 ("poll_office", "elections", "elections"),
                                 ("elections", "electionProxies", "election_proxies"),
                                 ("election_proxies", "elections", "elections"),
                                 ("election_proxies", "mandates", "mandates"))
    ),
    View("council", "DOMAIN_SEPARATOR", "deploy.wiring", _once,
         lambda ctx, _: ctx.council_domain, bytes,
         "the council's EIP-712 domain separator is not (CommonsCouncil, 1, chain, council)"),
    View("timebank", "serviceDigest", "deploy.wiring", lambda ctx: [((1, PROBE), None)],
         lambda ctx, _: typed_digest(ctx.timebank_domain, record_id(1, PROBE)), bytes,
         "the time bank's EIP-712 domain is not (CommonsTimeBank, 1, chain, timebank)"),
    # registry
    _count("registry", "communityCount", "registry.community", "communities",
           lambda ctx: len(ctx.state.communities)),
    View("registry", "newKeyOf", "registry.rotation", _replacements,
         lambda ctx, new: new, addr,
         "community {}: newKeyOf({}) differs from ResidentReplaced"),
    View("registry", "rollSnapshot", "registry.roll", _each("communities"),
         lambda ctx, c: (c.roll_version, c.roll_size), _pair("version", "size"),
         "community {}'s published roll differs from the rebuilt roll", _roll_text),
    View("registry", "committeeSize", "registry.permission", _each("communities"),
         lambda ctx, c: len(c.roles["COMMITTEE"]), int,
         "community {}'s committee size differs from its role events"),
    View("registry", "auditorKey", "registry.auditor_key_view", _each("auditor_keys"),
         lambda ctx, k: (k.community, k.auditor, k.registered_at, k.revoked_at),
         lambda out: (int(out["communityId"]), addr(out["auditor"]), int(out["registeredAt"]),
                      int(out["revokedAt"])),
         "report key {}: the Registry's registration differs from its events", _key_text),
    # council
    _count("council", "proposalCount", "council.tally", "proposals",
           lambda ctx: len(ctx.state.proposals)),
    View("council", "getProposal", "council.tally", _each("proposals"), lambda ctx, p: p.tally,
         _tally, "proposal {}: the contract's tally is not the recount of its ballots"),
    View("council", "getProposal", "council.outcome", _each("proposals"), lambda ctx, p: p.outcome,
         lambda out: int(out["outcome"]),
         "proposal {}: the contract's outcome is not the one it finalized with", outcome_name),
    View("council", "getProposal", "council.proposal", _each("proposals"),
         lambda ctx, p: (p.roll_version, p.roll_size), _pair("rollVersion", "rollSize"),
         "proposal {}: the contract's roll snapshot changed", _roll_text),
    View("council", "getProposal", "council.milestone", _each("proposals"),
         lambda ctx, p: (p.milestones, p.execution), _pair("milestoneCount", "execution"),
         "proposal {}: the contract's execution record differs",
         lambda pair: f"{pair[0]} milestones, status {pair[1]}"),
    View("council", "secretVoteOf", "council.secret_link", _each("proposals"),
         lambda ctx, p: p.secret_vote, int,
         "proposal {}: the contract's secret vote differs from SecretVoteLinked"),
    # initiatives
    View("initiatives", "DOMAIN_SEPARATOR", "deploy.wiring", _once,
         lambda ctx, _: domain_separator(*Domains.Initiatives, ctx.chain_id,
                                         ctx.contracts["initiatives"]), bytes,
         "the initiatives' EIP-712 domain separator is not (CommonsInitiatives, 1, chain, "
         "initiatives)"),
    _count("initiatives", "initiativeCount", "initiative.submission", "initiatives",
           lambda ctx: len(ctx.state.initiatives)),
    View("initiatives", "getInitiative", "initiative.count", _each("initiatives"),
         lambda ctx, i: (len(i.signed), i.proposal), _pair("coSignatures", "proposalId"),
         "initiative {}: the contract's count or proposal is not the recount",
         lambda pair: f"{pair[0]} co-signatures, proposal {pair[1]}"),
    # ratings
    View("ratings", "DOMAIN_SEPARATOR", "deploy.wiring", _once,
         lambda ctx, _: domain_separator(*Domains.Ratings, ctx.chain_id, ctx.contracts["ratings"]),
         bytes, "the ratings' EIP-712 domain separator is not (CommonsRatings, 1, chain, ratings)"),
    View("ratings", "ratingsOf", "rating.count", _each("rating_rounds"),
         lambda ctx, r: (len(r.raters), r.score_sum), _pair("count", "scoreSum"),
         "proposal {}: the contract's rating count or score sum is not the recount",
         lambda pair: f"{pair[0]} ratings, sum {pair[1]}"),
    # participatory budgeting
    View("budget", "DOMAIN_SEPARATOR", "deploy.wiring", _once,
         lambda ctx, _: domain_separator(*Domains.ParticipatoryBudget, ctx.chain_id,
                                         ctx.contracts["budget"]), bytes,
         "the budget's EIP-712 domain separator is not (CommonsBudget, 1, chain, budget)"),
    _count("budget", "roundCount", "budget.round", "budgeting rounds",
           lambda ctx: len(ctx.state.budget_rounds)),
    View("budget", "getRound", "budget.count", _each("budget_rounds"),
         lambda ctx, r: (len(r.costs), len(r.ballots), r.ineligible, r.selected or 0,
                         r.selection_budget, r.spent),
         lambda out: tuple(int(out[name]) for name in BUDGET_ROUND_FIELDS),
         "round {}: getRound's projects, ballots, ineligible, selection or spending differ from "
         "the recount"),
    View("budget", "projects", "budget.count", _each("budget_rounds"),
         lambda ctx, r: votes_of(r), lambda out: [int(p["votes"]) for p in out],
         "round {}: the projects' votes differ from the recount of the ballots"),
    # secret ballots
    _wired("secret", "trustedForwarder", "forwarder",
           "the secret ballot's trusted forwarder is not the recorded forwarder"),
    _wired("secret", "registry", "registry", "secret.registry() is not the recorded registry"),
    View("secret", "DOMAIN_SEPARATOR", "deploy.wiring", _once,
         lambda ctx, _: domain_separator(*Domains.SecretBallot, ctx.chain_id,
                                         ctx.contracts["secret"]), bytes,
         "the secret ballot's EIP-712 domain separator is not (CommonsSecretBallot, 1, chain, "
         "secret)"),
    _count("secret", "secretVoteCount", "secret.vote", "secret votes",
           lambda ctx: len(ctx.state.secret_votes)),
    View("secret", "getSecretVote", "secret.tally", _each("secret_votes"),
         lambda ctx, v: v.tally or [], lambda out: [int(t) for t in out["tally"]],
         "secret vote {}: the contract's tally is not the one it was finalized with"),
    # fund
    _count("fund", "incomeCount", "fund.balance", "income records",
           lambda ctx: ctx.state.income_count),
    _count("fund", "payoutCount", "fund.balance", "payout requests",
           lambda ctx: len(ctx.state.payouts)),
    View("fund", "fundOf", "fund.balance", _each("funds"),
         lambda ctx, f: (f.currency.ljust(3, b"\x00"), f.threshold, f.total_income, f.available,
                         f.reserved, f.total_paid),
         lambda out: (bytes(out["currency"]), *(int(out[name]) for name in FUND_FIELDS)),
         "community {}: fundOf differs from the books rebuilt from events", _books_text),
    View("fund", "grantOf", "fund.balance", _each("grants"),
         lambda ctx, g: (g.community, g.amount, g.paid, g.state),
         lambda out: (int(out["communityId"]), int(out["amount"]), int(out["paid"]),
                      int(out["state"])),
         "grant of proposal {}: grantOf differs from the rebuilt grant"),
    View("fund", "payoutOf", "fund.balance", _each("payouts"),
         lambda ctx, r: (r.proposal, r.recipient, r.amount, r.requester, _payout_status(ctx, r),
                         r.approvers),
         lambda out: (int(out["proposalId"]), addr(out["recipient"]), int(out["amount"]),
                      addr(out["requester"]), int(out["status"]),
                      [addr(a) for a in out["approvers"]]),
         "payout {}: payoutOf differs from the rebuilt request"),
    # time bank
    View("timebank", "balanceOf", "timebank.balance", _balances, lambda ctx, b: b, int,
         "community {}: balanceOf({}) differs from the rebuilt balance"),
    View("timebank", "isRetired", "timebank.rotation", _carried, lambda ctx, _: True, bool,
         "community {}: isRetired({}) is false for a key whose balance was carried over"),
    View("timebank", "limitsOf", "timebank.limit", _each("timebanks"),
         lambda ctx, b: (b.floor, b.ceiling), _pair("floor", "ceiling"),
         "community {}: limitsOf differs from LimitsSet"),
)  # fmt: skip


def _ask(ctx: Ctx, rpc: RpcClient, block: int, keys: list[Key]) -> dict[Key, Any]:
    """Each call's decoded answer, or None where the view reverted or answered nonsense."""
    requests = [
        (
            "eth_call",
            [
                {
                    "to": to_hex(ctx.contracts[role]),
                    "data": to_hex(ctx.abis[role].by_name[fn].encode_call(*args)),
                },
                hex(block),
            ],
        )
        for role, fn, args in keys
    ]
    answers = rpc.batch(requests, allow_errors=True)
    return {
        key: None if isinstance(answer, RpcFailure) else _decode(ctx, key, answer)
        for key, answer in zip(keys, answers, strict=True)
    }


def _decode(ctx: Ctx, key: Key, answer: str) -> Any:
    role, fn, _ = key
    try:
        return ctx.abis[role].by_name[fn].decode_output(hex_bytes(answer))
    except Exception:
        return None  # nonsense: judged as no answer


def _seen(answers: dict[Key, Any]) -> dict[str, Any]:
    """What the contracts said of each proposal and fund, for the report."""
    proposals: dict[int, Any] = {}
    funds: dict[int, Any] = {}
    for (_, fn, args), out in answers.items():
        if out is not None and fn == "getProposal":
            proposals[args[0]] = {
                "tally": _tally(out),
                "outcome": outcome_name(int(out["outcome"])),
            }
        elif out is not None and fn == "fundOf":
            funds[args[0]] = {
                "currency": show(bytes(out["currency"])),
                "threshold": int(out["approvalThreshold"]),
                "income": int(out["totalIncome"]),
                "available": int(out["available"]),
                "reserved": int(out["reserved"]),
                "paid": int(out["totalPaid"]),
            }
    return {"proposals": proposals, "funds": funds}


def compare_views(ctx: Ctx, rpc: RpcClient, block: int) -> dict[str, Any]:
    """Check every rebuilt figure against the contracts' views; returns what they said."""
    asked = [(view, args, record) for view in VIEWS for args, record in view.about(ctx)]
    keys = list(dict.fromkeys((view.role, view.fn, args) for view, args, _ in asked))
    answers = _ask(ctx, rpc, block, keys)
    failed: set[Key] = set()
    for view, args, record in asked:
        key = (view.role, view.fn, args)
        out = answers[key]
        if out is None:
            if key not in failed:  # once per call, though several rows read it
                failed.add(key)
                ctx.find(
                    view.rule,
                    None,
                    "an answer",
                    "the call failed",
                    f"{view.role}.{view.fn}{show(args)}: the view reverted or answered nonsense",
                    block=block,
                )
            continue
        expected, found = view.expected(ctx, record), view.read(out)
        if found != expected:
            detail = view.detail.format(*(show(a) for a in args))
            ctx.find(view.rule, None, view.show(expected), view.show(found), detail, block=block)
    return _seen(answers)
