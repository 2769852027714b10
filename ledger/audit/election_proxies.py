"""The election proxy audit: every proxy ballot batch judged again from the ElectionProxies
calldata (the election open, the proxy's low-s EIP-712 signature, the proxy on the election's
roll snapshot, the voter's live mandate at that block naming the proxy for this election or
every vote), the batch's own skips compared with that judgement; each ballot it hands on is then
judged by Elections' rules where Elections answers it (the encoding, the voter on the snapshot,
not yet voted, the proxy under the community's limit on this election). A counted proxy ballot
joins the election's ballots at its place in the store; the voter's own ballot later takes that
place (ElectionProxyBallotReplaced, then an ElectionBallotsCast of that ballot), so the recount
(ledger.audit.elections) reads each voter's one ballot."""

from __future__ import annotations

from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.election_rules import BallotFault, approvals_of, ranking_of
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.mandates import limit_of
from ledger.audit.state import Election
from ledger.protocol.generated import (
    Domains,
    ElectionKind,
    ElectionProxySkipReason,
    Events,
    MandateScope,
)
from ledger.signing.digests import domain_separator
from ledger.signing.eip712 import recover_compact
from ledger.signing.election_proxy_ballots import (
    election_proxy_ballot_digest,
    make_election_proxy_ballot,
)

Skip = ElectionProxySkipReason
SKIPPED: Final = Events.ElectionProxyBallotSkipped.topic


def _open(el: Election, timestamp: int) -> bool:
    return el.opens_at <= timestamp < el.closes_at and el.winners is None


def _own_fault(ctx: Ctx, el: Election, entry: Any) -> Skip | None:
    """The first of ElectionProxies' own rules the relayed ballot breaks (None: none)."""
    voter, proxy, choices = addr(entry["voter"]), addr(entry["proxy"]), int(entry["choices"])
    ballot = make_election_proxy_ballot(el.id, to_hex(voter), to_hex(proxy), choices)
    separator = domain_separator(
        *Domains.ElectionProxies, ctx.chain_id, ctx.contracts["election_proxies"]
    )
    digest = election_proxy_ballot_digest(separator, ballot)
    signer = recover_compact(digest, bytes(entry["r"]), int.from_bytes(bytes(entry["vs"]), "big"))
    if signer is None:
        return Skip.MalleableSignature
    if signer != proxy:
        return Skip.BadSignature
    member = ctx.state.communities[el.community].members.get(proxy)
    if member is None or not member.member_at(el.roll_version):
        return Skip.ProxyNotOnRoll
    mandate = ctx.state.mandates.get((el.community, voter))
    covers = mandate is not None and (
        mandate[1] == MandateScope.AllVotes
        or (mandate[1] == MandateScope.Election and mandate[2] == el.id)
    )
    if mandate is None or not covers or mandate[0] != proxy:
        return Skip.NoMandate
    return None


def _elections_fault(
    ctx: Ctx, el: Election, voter: bytes, proxy: bytes, choices: int
) -> Skip | None:
    """The first of Elections' rules for a handed-in proxy ballot it breaks (None: none)."""
    try:
        if el.kind == ElectionKind.Ranked:
            ranking_of(choices, el.candidate_count, el.max_choices)
        else:
            approvals_of(choices, el.candidate_count, el.max_choices)
    except BallotFault as fault:
        return Skip(int(fault.reason))
    member = ctx.state.communities[el.community].members.get(voter)
    if member is None or not member.member_at(el.roll_version):
        return Skip.NotOnRoll
    if voter in el.paper_voters:
        return Skip.AssignedToPaperBox
    if voter in el.voted:
        return Skip.AlreadyVotedByProxy if voter in el.proxied else Skip.VotedThemself
    if el.proxy_used.get(proxy, 0) >= limit_of(ctx, el.community):
        return Skip.ProxyOverLimit
    return None


def _said(log: Log) -> str:
    if log.topics[:1] != [SKIPPED] or len(log.topics) != 4:
        return to_hex(log.topics[0]) if log.topics else "no topic"
    code = int.from_bytes(log.data[:32], "big")
    reason = Skip(code).name if code in Skip._value2member_map_ else code
    return f"skipped {to_hex(log.topics[2][12:])} by {to_hex(log.topics[3][12:])} ({reason})"


def cast_election_proxy_ballots(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """An ElectionProxies batch judged from its calldata: its own skips, and what it hands on."""
    eid = int(args["electionId"])
    el = ctx.state.elections.get(eid)
    if el is None:
        ctx.find("elections.proxy", call, "an existing election", eid, "proxy ballots")
        return
    entries = list(args["ballots"])
    expected: list[str] = []
    el.handed, el.handed_tx = [], call.tx
    is_open = _open(el, call.timestamp)
    for entry in entries:
        voter, proxy = addr(entry["voter"]), addr(entry["proxy"])
        reason = Skip.ElectionNotOpen if not is_open else _own_fault(ctx, el, entry)
        if reason is None:
            el.handed.append((voter, proxy, int(entry["choices"])))
        else:
            expected.append(f"skipped {to_hex(voter)} by {to_hex(proxy)} ({reason.name})")
    found = [_said(log) for log in call.logs]
    if found != expected:
        ctx.find(
            "elections.proxy",
            call,
            expected,
            found,
            f"election {eid}: ElectionProxies' skips are not what the rules give",
        )
    ctx.state.bump("election_proxy_ballots_checked", len(entries))


def _handed(ctx: Ctx, call: Call, e: Emitted, el: Election) -> tuple[bytes, bytes, int] | None:
    """The next ballot ElectionProxies handed in with this transaction, if this event is its."""
    voter, proxy = addr(e.ev["voter"]), addr(e.ev["proxy"])
    actor_ok = call.actor is None or call.actor == ctx.contracts["election_proxies"]
    # A node that cannot trace the transaction (or no longer holds its state) gives the inner
    # call without calldata: it is judged by its events, in the batch ElectionProxies judged.
    fn_ok = e.fn == "castMandatedBallots" or (e.fn is None and call.input is None)
    if not fn_ok or not actor_ok or call.tx != el.handed_tx or not el.handed:
        ctx.find(
            "elections.proxy",
            call,
            "a proxy ballot ElectionProxies handed in",
            f"{e.name} by {e.fn}",
            f"election {el.id}: {to_hex(voter)}",
        )
        return None
    handed = el.handed.pop(0)
    if handed[:2] != (voter, proxy):
        ctx.find(
            "elections.proxy",
            call,
            f"{to_hex(handed[0])} by {to_hex(handed[1])}",
            f"{to_hex(voter)} by {to_hex(proxy)}",
            f"election {el.id}: a proxy ballot answered out of order",
        )
        return None
    return handed


def proxy_ballot_cast(ctx: Ctx, call: Call, e: Emitted) -> None:
    el = ctx.state.elections.get(int(e.ev["electionId"]))
    if el is None:
        ctx.find("elections.proxy", call, "an existing election", e.ev["electionId"], e.name)
        return
    handed = _handed(ctx, call, e, el)
    if handed is None:
        return
    voter, proxy, choices = handed
    if int(e.ev["choices"]) != choices:
        ctx.find("elections.proxy", call, choices, int(e.ev["choices"]), f"election {el.id}")
    fault = _elections_fault(ctx, el, voter, proxy, choices)
    if fault is not None:
        ctx.find(
            "elections.proxy",
            call,
            "a valid proxy ballot",
            fault.name,
            f"election {el.id}: proxy ballot for {to_hex(voter)} counted",
        )
    el.voted.add(voter)
    el.proxied[voter] = (proxy, len(el.ballots), choices)
    el.ballots.append(choices)
    el.proxy_used[proxy] = el.proxy_used.get(proxy, 0) + 1
    ctx.state.bump("election_proxy_ballots")


def proxy_ballot_skipped(ctx: Ctx, call: Call, e: Emitted) -> None:
    el = ctx.state.elections.get(int(e.ev["electionId"]))
    if el is None:
        return
    handed = _handed(ctx, call, e, el)
    if handed is None:
        return
    voter, proxy, choices = handed
    fault = _elections_fault(ctx, el, voter, proxy, choices)
    if not _open(el, call.timestamp):
        fault = Skip.ElectionNotOpen
    said = Skip(int(e.ev["reason"]))
    if fault != said:
        ctx.find(
            "elections.proxy",
            call,
            "counted" if fault is None else fault.name,
            said.name,
            f"election {el.id}: proxy ballot for {to_hex(voter)} skipped",
        )


def proxy_ballot_replaced(ctx: Ctx, call: Call, e: Emitted) -> None:
    """The voter's own ballot takes their proxy ballot's place: the ElectionBallotsCast entry
    that follows (judged as any ballot) is written there."""
    el = ctx.state.elections.get(int(e.ev["electionId"]))
    if el is None:
        return
    voter, proxy = addr(e.ev["voter"]), addr(e.ev["proxy"])
    live = el.proxied.pop(voter, None)
    if live is None or live[0] != proxy or live[2] != int(e.ev["proxyChoices"]):
        ctx.find(
            "elections.proxy",
            call,
            "a live proxy ballot of the voter",
            None if live is None else f"{to_hex(live[0])} cast {live[2]:#x}",
            f"election {el.id}: {to_hex(voter)}'s proxy ballot replaced",
        )
        return
    el.voted.discard(voter)
    el.replacing[voter] = live[1]


HANDLERS: Final = {
    "ElectionProxyBallotCast": proxy_ballot_cast,
    "ElectionProxyBallotSkipped": proxy_ballot_skipped,
    "ElectionProxyBallotReplaced": proxy_ballot_replaced,
}


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    """An ElectionProxies event outside a judged batch: untraced, there is no calldata to judge."""
    if e.fn is not None:
        ctx.find("event.unexplained", call, "castElectionProxyBallots", e.fn, f"{e.name} by {e.fn}")
    else:
        ctx.warn("election_proxies", call, f"{e.name} without its calldata: not re-judged")
