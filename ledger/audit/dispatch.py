"""Which rule check judges a call into one of our contracts: a call whose calldata carries signed
messages (ballots, service records, reversals) by that calldata, any other by its events, each
event by its contract's handler. Adding a function or an event is a row here or in the
contract's own table (registry.EVENTS, recount.EVENTS, funds.EVENTS, initiatives.EVENTS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ledger.audit import (
    budget,
    election_proxies,
    elections,
    funds,
    initiatives,
    mandates,
    paper,
    poll,
    ratings,
    recount,
    registry,
    secret,
    timebank,
)
from ledger.audit.abi import Function
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.protocol.generated import ROLE_NAMES, Events

CallHandler = Callable[[Ctx, Call, str, dict[str, Any]], None]
EventHandler = Callable[[Ctx, Call, Emitted, Log], None]

# Judged by their calldata (the signed messages it carries); their events are checked there.
BY_CALLDATA: Final[dict[tuple[str, str], CallHandler]] = {
    ("council", "castVote"): recount.cast_vote,
    ("council", "castProxyBallots"): mandates.cast_proxy_ballots,
    ("mandates", "appoint"): mandates.appoint,
    ("mandates", "revoke"): mandates.revoke,
    ("initiatives", "coSign"): initiatives.co_sign,
    ("poll_office", "castInPersonBallots"): poll.cast_in_person,
    ("poll_office", "declareBox"): paper.declare_box,
    ("poll_office", "signBoxTotals"): paper.sign_box_totals,
    ("election_proxies", "castElectionProxyBallots"): election_proxies.cast_election_proxy_ballots,
    ("ratings", "rate"): ratings.rate,
    ("timebank", "recordService"): timebank.record_services,
    ("timebank", "recordServices"): timebank.record_services,
    ("timebank", "reverseService"): timebank.reverse_service,
}
# Each contract's events, by the handler that rebuilds its state from them.
BY_EVENT: Final[dict[str, EventHandler]] = {
    "registry": lambda ctx, call, e, log: registry.handle(ctx, call, *e),
    "council": recount.handle_event,
    "fund": lambda ctx, call, e, log: funds.handle(ctx, call, *e),
    "timebank": timebank.handle_event,
    "elections": elections.handle_event,
    "initiatives": initiatives.handle_event,
    "ratings": ratings.handle_event,
    "budget": budget.handle_event,
    "mandates": mandates.handle_event,
    "secret": secret.handle_event,
    "poll_office": poll.handle_event,
    "election_proxies": election_proxies.handle_event,
}
# What a community's admin (or its registrar, for the roll) does: listed in the report, one row
# an act, so that anyone sees who set up and changed the community, and when.
ADMIN_ACTS: Final = frozenset(
    {
        "CommunityCreated",
        "AdminTransferStarted",
        "AdminTransferCancelled",
        "AdminTransferred",
        "RoleGranted",
        "RoleRevoked",
        "RollPublished",
        "ResidentReplaced",
        "BalanceCarriedOver",
        "AuditorKeyRegistered",
        "AuditorKeyRevoked",
        "FundCurrencySet",
        "ApprovalThresholdSet",
        "LimitsSet",
        "InitiativeRulesSet",
        "ProxyLimitSet",
    }
)
# Decoded by hand: a 100,000-resident roll is 100,000 addresses in its calldata and its event.
FAST_CALLS: Final[dict[tuple[str, str], Callable[[bytes], dict[str, Any] | None]]] = {
    ("registry", "updateRoll"): registry.update_roll_args,
}
FAST_EVENTS: Final[dict[tuple[str, bytes], Callable[[Log], tuple[str, dict[str, Any]] | None]]] = {
    ("registry", Events.RollUpdated.topic): registry.roll_updated_event,
}


def process_call(ctx: Ctx, call: Call, prepared: dict[tuple[str, int], Any]) -> None:
    """Judge one call into one of our contracts. `prepared`: the castBallots calls whose
    signatures are being verified already (in worker processes), by (tx, position)."""
    role = ctx.role_of.get(call.target)
    if role is None or role == "forwarder":
        return
    fn = ctx.abis[role].function_of(call.input) if call.input is not None else None
    name = fn.name if fn is not None else None
    if call.input is not None and fn is None:
        if call.logs:
            ctx.find(
                "event.unexplained",
                call,
                "a known function",
                to_hex(call.input[:4]),
                f"{role}: events from a call to no known function",
            )
        return
    if (role, name) == ("council", "castBallots"):
        recount.cast_ballots(ctx, call, prepared.get((call.tx, call.position)))
        return
    args = _arguments(ctx, role, call, fn)
    judge = BY_CALLDATA.get((role, name)) if name is not None else None
    if args is not None and name is not None and judge is not None:
        judge(ctx, call, name, args)
        return
    for log in call.logs:
        _judge_event(ctx, role, call, name, args, log)


def _arguments(ctx: Ctx, role: str, call: Call, fn: Function | None) -> dict[str, Any] | None:
    """The call's arguments by name; None when it could not be traced or decoded."""
    if call.input is None or fn is None:
        return None
    fast = FAST_CALLS.get((role, fn.name))
    args = fast(call.input) if fast is not None else None
    if args is None:
        try:
            args = fn.decode_input(call.input)
        except Exception as exc:
            ctx.warn(
                role, call, f"{fn.name} calldata not decodable ({exc}); judged from its events"
            )
    return args


def _judge_event(
    ctx: Ctx, role: str, call: Call, fn: str | None, args: dict[str, Any] | None, log: Log
) -> None:
    if log.address != call.target:
        ctx.find(
            "event.unexplained",
            call,
            call.target,
            log.address,
            "an event of another contract inside this call",
        )
        return
    fast = FAST_EVENTS.get((role, log.topics[0])) if log.topics else None
    decoded = (fast(log) if fast is not None else None) or ctx.decode(role, log)
    if decoded is None:
        ctx.find(
            "event.unexplained",
            call,
            f"an event of {ctx.abis[role].name}",
            to_hex(log.topics[0]) if log.topics else "no topic",
            f"{role} emitted an event its ABI does not declare",
        )
        return
    BY_EVENT[role](ctx, call, Emitted(fn, args, *decoded), log)
    if decoded[0] in ADMIN_ACTS:
        ctx.state.admin_acts.append(admin_act(call, *decoded))


def admin_act(call: Call, event: str, values: dict[str, Any]) -> dict[str, Any]:
    """One row of the report's admin acts: the event, who acted and what it said."""
    shown = {k: _shown(v) for k, v in values.items() if k != "communityId"}
    return {
        "block": call.block,
        "tx": call.tx,
        "community": values.get("communityId"),
        "act": event,
        "by": None if call.actor is None else to_hex(call.actor),
        "detail": ", ".join(f"{k}={v}" for k, v in shown.items()),
    }


def _shown(value: Any) -> Any:
    if isinstance(value, bytes):
        return ROLE_NAMES.get(value) or to_hex(value)
    return value
