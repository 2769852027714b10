"""The council recount: every proposal's ballots judged again, from the batch calldata and the
events, and every outcome decided again by ICouncil's rules.

A relayed ballot is judged in Council's order: proposal open, option in range, low-s EIP-712
signature by the named voter (checked here against the digest recomputed from the council's
domain, not the contract's), voter on the roll at the proposal's snapshot (the roll rebuilt from
RollUpdated/RollPublished), not voted before. The judgement must match the event the contract
emitted for that ballot (BallotCast with the same digest, or BallotSkipped with the same reason);
the recount counts what the rules count, so a tally that differs names the ballots that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

from eth_abi.exceptions import DecodingError

from ledger.audit.abi import event_of
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.secret_proposals import secret_tally, secret_vote_linked
from ledger.audit.sigs import BALLOT_BYTES, RESULT_BYTES, parse_batch
from ledger.audit.state import Proposal
from ledger.ballot_kinds import is_secret, is_yes_no
from ledger.currency import is_currency_code
from ledger.protocol.generated import (
    BallotKind,
    Constants,
    Events,
    ExecutionStatus,
    Outcome,
    ProposalState,
    SkipReason,
)
from ledger.signing.digests import ballot_digest

# Read in the ballot loops: a module global is cheaper than an attribute.
BALLOT_CAST: Final = Events.BallotCast.topic
BALLOT_SKIPPED: Final = Events.BallotSkipped.topic
PROXY_OVERRIDDEN: Final = Events.ProxyBallotOverridden.topic


def outcome_name(value: int) -> str:
    """ICouncil.Outcome's name (or the raw number, from code that is not ours)."""
    try:
        return Outcome(value).name.rstrip("_")
    except ValueError:
        return f"Outcome({value})"


def skip_name(value: int) -> str:
    """ICouncil.SkipReason's name (or the raw number, from code that is not ours)."""
    try:
        return SkipReason(value).name
    except ValueError:
        return str(value)


# The rule a counted ballot broke, by the reason the rules would have skipped it for.
RULE_FOR_SKIP: Final[dict[int, str]] = {
    SkipReason.ProposalNotOpen: "council.ballot_window",
    SkipReason.InvalidOption: "council.ballot_option",
    SkipReason.BadSignature: "council.ballot_signature",
    SkipReason.MalleableSignature: "council.ballot_signature",
    SkipReason.NotOnRoll: "council.ballot_eligibility",
    SkipReason.AlreadyVoted: "council.double_vote",
    SkipReason.SecretBallotsOnly: "council.secret_ballot",
}
MAX_OPTIONS: Final = Constants.MAX_OPTIONS
BPS: Final = 10_000
ROLL_SNAPSHOT_LIFETIME: Final = Constants.ROLL_SNAPSHOT_LIFETIME
NO_WINNER: Final = Constants.NO_WINNER


def phase(p: Proposal, timestamp: int) -> ProposalState:
    if p.outcome != Outcome.None_:
        return ProposalState.Finalized
    if timestamp < p.opens_at:
        return ProposalState.Pending
    if timestamp < p.closes_at:
        return ProposalState.Open
    return ProposalState.Closed


def decide(p: Proposal, tally: list[int]) -> tuple[int, int, int]:
    """(outcome, winning option, turnout) by ICouncil's rules, as Council._decide computes them."""
    leader, tie, turnout = 0, False, 0
    for i, votes in enumerate(tally):
        turnout += votes
        if i == 0 or votes > tally[leader]:
            leader, tie = i, False
        elif votes == tally[leader]:
            tie = True
    if turnout * BPS < p.quorum_bps * p.roll_size:
        return Outcome.NoQuorum, NO_WINNER, turnout
    if is_yes_no(p.kind):
        # Abstentions count for quorum only.
        passed = tally[0] * BPS > p.threshold_bps * (tally[0] + tally[1])
        leader = 0
    else:
        passed = not tie and tally[leader] * BPS > p.threshold_bps * turnout
    if not passed:
        return Outcome.Rejected, NO_WINNER, turnout
    return Outcome.Passed, leader, turnout


# ------------------------------------------------------------------------------- proposals


def _params_fault(params: dict[str, Any], timestamp: int) -> str | None:
    text_hash, kind, options = params["textHash"], params["kind"], params["optionCount"]
    opens, closes = params["opensAt"], params["closesAt"]
    quorum, threshold = params["quorumBps"], params["thresholdBps"]
    budget, currency = params["budgetAmount"], params["budgetCurrency"]
    if bytes(text_hash) == bytes(32):
        return "no text hash"
    if kind not in BallotKind.__members__.values():
        return f"ballot kind {kind}"
    yes_no = is_yes_no(kind)
    if (yes_no and options != 3) or (not yes_no and not 2 <= options <= MAX_OPTIONS):
        return f"{options} options for ballot kind {kind}"
    if not (opens < closes and closes > timestamp and closes <= timestamp + ROLL_SNAPSHOT_LIFETIME):
        return f"schedule {opens}..{closes} at time {timestamp}"
    if quorum > BPS or threshold >= BPS or (yes_no and threshold < BPS // 2):
        return f"quorum {quorum} / threshold {threshold} basis points"
    if budget and not is_currency_code(bytes(currency)):
        return f"budget without an ISO currency code ({bytes(currency)!r})"
    return None


def proposal_opened(ctx: Ctx, call: Call, e: Emitted) -> None:
    state, fn, args, ev = ctx.state, e.fn, e.args, e.ev
    pid, cid = int(ev["proposalId"]), int(ev["communityId"])
    proposer = addr(ev["proposer"])
    params = ev["params"]
    ctx.actor_is(call, proposer, "ProposalOpened")
    if pid != len(state.proposals) + 1 or pid in state.proposals:
        ctx.find(
            "council.proposal",
            call,
            len(state.proposals) + 1,
            pid,
            "proposals must be numbered sequentially from 1",
        )
    community = state.communities.get(cid)
    if community is None:
        ctx.find(
            "council.proposal",
            call,
            "an existing community",
            cid,
            f"proposal {pid} opened for a community that does not exist",
        )
        return
    # The Initiatives contract opens a reached initiative's proposal without the role; that it
    # was reached and that the proposal is the initiative's is judged in ledger.audit.initiatives.
    if not community.has("COMMITTEE", proposer) and proposer != ctx.contracts["initiatives"]:
        ctx.find(
            "council.proposal",
            call,
            "a COMMITTEE member",
            proposer,
            f"proposal {pid} opened by an account outside the committee",
        )
    if fn == "openProposal" and args is not None and args["params"] != params:
        ctx.find(
            "council.proposal",
            call,
            "the call's parameters",
            "other parameters",
            f"ProposalOpened {pid} differs from its openProposal call",
        )
    fault = _params_fault(params, call.timestamp)
    if fault:
        ctx.find(
            "council.proposal",
            call,
            "valid parameters",
            fault,
            f"proposal {pid} opened with parameters the rules refuse",
        )
    version, size = int(ev["rollVersion"]), int(ev["rollSize"])
    if (version, size) != (community.roll_version, community.roll_size) or size == 0:
        ctx.find(
            "council.proposal",
            call,
            f"roll v{community.roll_version} of {community.roll_size}",
            f"roll v{version} of {size}",
            f"proposal {pid} snapshots another roll than the published one",
        )
    options = int(params["optionCount"])
    state.proposals[pid] = Proposal(
        id=pid,
        community=cid,
        proposer=proposer,
        text_hash=bytes(params["textHash"]),
        kind=int(params["kind"]),
        option_count=options,
        opens_at=int(params["opensAt"]),
        closes_at=int(params["closesAt"]),
        quorum_bps=int(params["quorumBps"]),
        threshold_bps=int(params["thresholdBps"]),
        budget_amount=int(params["budgetAmount"]),
        budget_currency=bytes(params["budgetCurrency"]),
        roll_version=version,
        roll_size=size,
        opened_block=call.block,
        opened_tx=call.tx,
        tally=[0] * options,
        event_tally=[0] * options,
    )


def proposal_finalized(ctx: Ctx, call: Call, e: Emitted) -> None:
    ev = e.ev
    pid = int(ev["proposalId"])
    p = ctx.state.proposals.get(pid)
    if p is None:
        ctx.find(
            "council.outcome",
            call,
            "an existing proposal",
            pid,
            "a proposal that was never opened was finalized",
        )
        return
    if p.outcome != Outcome.None_:
        ctx.find(
            "council.outcome",
            call,
            "finalized once",
            f"again, after {outcome_name(p.outcome)}",
            f"proposal {pid} finalized twice",
        )
    if call.timestamp < p.closes_at:
        ctx.find(
            "council.outcome",
            call,
            f"at or after {p.closes_at}",
            call.timestamp,
            f"proposal {pid} finalized before its voting closed",
        )
    tally = [int(v) for v in ev["tally"]]
    published = True
    if is_secret(p.kind):
        p.tally, published = secret_tally(ctx, call, p)
    outcome, winner, turnout = (
        decide(p, p.tally) if published else (Outcome.TallyNeverPublished, NO_WINNER, 0)
    )
    if tally != p.tally:
        ctx.find(
            "council.tally",
            call,
            p.tally,
            tally,
            f"proposal {pid} finalized with a tally that is not the recount of its ballots"
            + (" (its secret vote's tally)" if is_secret(p.kind) else ""),
        )
    found = (int(ev["outcome"]), int(ev["winningOption"]), int(ev["turnout"]))
    if found != (outcome, winner, turnout):
        ctx.find(
            "council.outcome",
            call,
            f"{outcome_name(outcome)} (winner {winner}, turnout {turnout})",
            f"{outcome_name(found[0])} (winner {found[1]}, turnout {found[2]})",
            f"proposal {pid}'s outcome does not follow from its recounted ballots, quorum "
            f"{p.quorum_bps} bps of {p.roll_size} and threshold {p.threshold_bps} bps",
        )
    p.outcome, p.winning_option = found[0], found[1]
    p.final_tally = tally
    p.finalized_block, p.finalized_tx = call.block, call.tx


def milestone_recorded(ctx: Ctx, call: Call, e: Emitted) -> None:
    args, ev = e.args, e.ev
    pid = int(ev["proposalId"])
    recorder = addr(ev["recorder"])
    ctx.actor_is(call, recorder, "MilestoneRecorded")
    p = ctx.state.proposals.get(pid)
    if p is None:
        ctx.find(
            "council.milestone",
            call,
            "an existing proposal",
            pid,
            "milestone for a proposal that was never opened",
        )
        return
    community = ctx.state.communities[p.community]
    if not community.has("COMMITTEE", recorder):
        ctx.find(
            "council.milestone",
            call,
            "a COMMITTEE member",
            recorder,
            f"milestone of proposal {pid} recorded outside the committee",
        )
    if p.outcome != Outcome.Passed or decide(p, p.tally)[0] != Outcome.Passed:
        ctx.find(
            "council.milestone",
            call,
            "Passed",
            outcome_name(p.outcome),
            f"milestone recorded for proposal {pid}, which did not pass",
        )
    if p.execution == ExecutionStatus.Completed:
        ctx.find(
            "council.milestone",
            call,
            "execution not completed",
            "Completed",
            f"milestone recorded after proposal {pid}'s execution was completed",
        )
    index, status = int(ev["milestoneIndex"]), int(ev["status"])
    if index != p.milestones or bytes(ev["evidenceHash"]) == bytes(32):
        ctx.find(
            "council.milestone",
            call,
            f"milestone {p.milestones} with evidence",
            f"milestone {index}",
            f"proposal {pid}'s milestones out of order or unevidenced",
        )
    done = (
        ExecutionStatus.Completed if args and args.get("completed") else ExecutionStatus.InProgress
    )
    if args is not None and status != done:
        ctx.find(
            "council.milestone",
            call,
            "the call's completion flag",
            status,
            "MilestoneRecorded status differs from its call",
        )
    p.milestones += 1
    p.execution = status


# ---------------------------------------------------------------------------------- ballots


def _judge(
    ctx: Ctx, p: Proposal, voter: bytes, option: int, timestamp: int, signature_status: int
) -> int | None:
    """The skip reason the rules give this ballot, or None if it counts."""
    if phase(p, timestamp) != ProposalState.Open:
        return SkipReason.ProposalNotOpen
    if is_secret(p.kind):
        return SkipReason.SecretBallotsOnly
    if option >= p.option_count:
        return SkipReason.InvalidOption
    if signature_status:
        return signature_status
    member = ctx.state.communities[p.community].members.get(voter)
    if member is None or not member.member_at(p.roll_version):
        return SkipReason.NotOnRoll
    if voter in p.voted:
        return SkipReason.AlreadyVoted
    return None


def override(p: Proposal, voter: bytes, option: int) -> tuple[bytes, int] | None:
    """The voter's own ballot on `option` takes the place of their live proxy ballot, if any:
    the tally moves from the proxy's option to the voter's. Returns (proxy, proxy's option)."""
    replaced = p.proxy_ballots.pop(voter, None)
    if replaced is not None:
        p.tally[replaced[1]] -= 1
        p.tally[option] += 1
        p.overridden += 1
    return replaced


def _override_fault(log: Log | None, pid: int, voter: bytes, replaced: tuple[bytes, int]) -> bool:
    """Whether `log` is not the ProxyBallotOverridden the override of `replaced` emits."""
    return (
        log is None
        or log.topics[:1] != [PROXY_OVERRIDDEN]
        or len(log.topics) != 4
        or int.from_bytes(log.topics[1], "big") != pid
        or log.topics[2][12:] != voter
        or log.topics[3][12:] != replaced[0]
        or int.from_bytes(log.data[:32], "big") != replaced[1]
    )


def submit_batch(ctx: Ctx, call: Call, *, pooled: bool = False) -> Any:
    """Start verifying a castBallots call's signatures (in the pool when many)."""
    assert call.input is not None
    parsed = parse_batch(call.input)
    if parsed is None:
        return None
    proposal_id, raw = parsed
    return (
        proposal_id,
        raw,
        ctx.verifier.submit(ctx.council_domain, proposal_id, raw, pooled=pooled),
    )


def cast_ballots(ctx: Ctx, call: Call, prepared: Any) -> None:
    if prepared is None:
        ctx.warn("council", call, "castBallots calldata not decodable; ballots judged from events")
        for log in call.logs:
            ballot_event_only(ctx, call, log)
        return
    pid, raw, wait = prepared
    p = ctx.state.proposals.get(pid)
    logs = call.logs
    if p is None:
        ctx.find(
            "council.ballot_event",
            call,
            "an existing proposal",
            pid,
            "ballots relayed for a proposal that was never opened",
        )
        return
    results = wait()
    count = len(raw) // BALLOT_BYTES
    strict = ctx.in_range(call.block)
    overrides = sum(1 for log in logs if log.topics[:1] == [PROXY_OVERRIDDEN])
    if len(logs) != count + overrides:
        ctx.find(
            "council.ballot_event",
            call,
            f"{count} ballot events",
            f"{len(logs) - overrides}",
            f"castBallots on proposal {pid}: one event per ballot expected (and one per override)",
        )
    pid_topic = pid.to_bytes(32, "big")
    ts = call.timestamp
    open_ = phase(p, ts) == ProposalState.Open
    secret = is_secret(p.kind)
    members = ctx.state.communities[p.community].members
    version, options, voted = p.roll_version, p.option_count, p.voted
    tally, event_tally = p.tally, p.event_tally
    counted = 0
    at = 0  # the next log: a ballot's event, after its ProxyBallotOverridden when it overrides
    for i in range(count):
        record = raw[i * BALLOT_BYTES : (i + 1) * BALLOT_BYTES]
        voter = record[12:32]
        option = record[63]
        result = results[i * RESULT_BYTES : (i + 1) * RESULT_BYTES]
        # Council's order of checks (see _countBallots).
        reason: int | None
        if not open_:
            reason = SkipReason.ProposalNotOpen
        elif secret:
            reason = SkipReason.SecretBallotsOnly
        elif option >= options:
            reason = SkipReason.InvalidOption
        elif result[32]:
            reason = result[32]  # BadSignature or MalleableSignature (sigs.py)
        else:
            member = members.get(voter)
            if member is None or not member.member_at(version):
                reason = SkipReason.NotOnRoll
            elif voter in voted and voter not in p.proxy_ballots:
                reason = SkipReason.AlreadyVoted
            else:
                reason = None
        replaced = None
        if reason is None:
            counted += 1
            if voter in voted:
                replaced = override(p, voter, option)
            else:
                voted.add(voter)
                tally[option] += 1
        if replaced is not None:
            entry = logs[at] if at < len(logs) else None
            if strict and _override_fault(entry, pid, voter, replaced):
                ctx.find(
                    "council.proxy_override",
                    call,
                    f"ProxyBallotOverridden of {to_hex(voter)}",
                    "another event" if entry is not None else "no event",
                    f"proposal {pid}: the own ballot of {to_hex(voter)} must override their "
                    "proxy ballot",
                )
            if entry is not None and entry.topics[:1] == [PROXY_OVERRIDDEN]:
                event_tally[replaced[1]] -= 1
                at += 1
        entry = logs[at] if at < len(logs) else None
        at += 1
        if entry is None:
            continue
        topic = entry.topics[0] if entry.topics else b""
        if len(entry.topics) != 3 or entry.topics[1] != pid_topic or entry.topics[2][12:] != voter:
            if strict:
                ctx.find(
                    "council.ballot_event",
                    call,
                    f"an event for ballot {i} of {to_hex(voter)}",
                    "an event for another ballot",
                    f"castBallots on proposal {pid}: events out of order",
                )
            continue
        if topic == BALLOT_CAST:
            event_option = entry.data[31]
            if event_option < len(event_tally):
                event_tally[event_option] += 1
            if not strict:
                continue
            if reason is not None:
                ctx.find(
                    RULE_FOR_SKIP[reason],
                    call,
                    f"skipped ({skip_name(reason)})",
                    "counted",
                    f"proposal {pid}: ballot {i} of {to_hex(voter)} was counted "
                    f"though the rules skip it as {skip_name(reason)}",
                )
            elif event_option != option:
                ctx.find(
                    "council.ballot_event",
                    call,
                    option,
                    event_option,
                    f"proposal {pid}: ballot of {to_hex(voter)} counted for another option",
                )
            elif entry.data[32:64] != result[:32]:
                ctx.find(
                    "council.ballot_digest",
                    call,
                    result[:32],
                    entry.data[32:64],
                    f"proposal {pid}: BallotCast of {to_hex(voter)} carries another digest",
                )
        elif topic == BALLOT_SKIPPED:
            p.skipped += 1
            event_reason = int.from_bytes(entry.data[:32], "big")
            if strict and event_reason != reason:
                expected = "counted" if reason is None else skip_name(reason)
                found = skip_name(event_reason)
                ctx.find(
                    "council.ballot_event",
                    call,
                    expected,
                    f"skipped ({found})",
                    f"proposal {pid}: ballot of {to_hex(voter)} judged differently by the contract",
                )
        elif strict:
            ctx.find(
                "event.unexplained",
                call,
                "BallotCast or BallotSkipped",
                to_hex(topic),
                "castBallots emitted an unexpected event",
            )
    p.relayed += counted
    ctx.state.bump("ballots_checked", count)


def cast_vote(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    pid, option = int(args["proposalId"]), int(args["option"])
    casts = [log for log in call.logs if log.topics[:1] == [BALLOT_CAST]]
    p = ctx.state.proposals.get(pid)
    if p is None or call.actor is None:
        for log in call.logs:
            ballot_event_only(ctx, call, log)
        return
    voter = call.actor
    reason = _judge(ctx, p, voter, option, call.timestamp, 0)
    replaced = override(p, voter, option) if reason == SkipReason.AlreadyVoted else None
    if replaced is not None:
        reason = None
        p.direct += 1
        logs = list(call.logs)
        if _override_fault(logs[0] if logs else None, pid, voter, replaced):
            ctx.find(
                "council.proxy_override",
                call,
                f"ProxyBallotOverridden of {to_hex(voter)}",
                "another event",
                f"proposal {pid}: the direct vote of {to_hex(voter)} must override their "
                "proxy ballot",
            )
        else:
            p.event_tally[replaced[1]] -= 1
    if reason is not None:
        ctx.find(
            RULE_FOR_SKIP[reason],
            call,
            f"refused ({skip_name(reason)})",
            "counted",
            f"proposal {pid}: direct vote of {to_hex(voter)} counted though the rules "
            f"refuse it as {skip_name(reason)}",
        )
    elif replaced is None:
        p.voted.add(voter)
        p.tally[option] += 1
        p.direct += 1
    digest = ballot_digest(ctx.council_domain, pid, voter, option)
    expected_logs = 1 if replaced is None else 2
    cast = _ballot_values(casts[0]) if len(casts) == 1 and len(call.logs) == expected_logs else None
    if cast is None or (cast.pid, cast.voter, cast.option) != (pid, voter, option):
        ctx.find(
            "council.ballot_event",
            call,
            f"one BallotCast of {to_hex(voter)} for {option}",
            f"{len(casts)} BallotCast events",
            f"castVote on proposal {pid}",
        )
    elif cast.digest != digest:
        ctx.find(
            "council.ballot_digest",
            call,
            digest,
            cast.digest,
            f"proposal {pid}: BallotCast of {to_hex(voter)} carries another digest",
        )
    first = _ballot_values(casts[0]) if casts else None
    if first is not None and first.option < len(p.event_tally):
        p.event_tally[first.option] += 1
    ctx.state.bump("ballots_checked")


class Ballot(NamedTuple):
    """A BallotCast or BallotSkipped log read by name (digest None: skipped; option: its reason
    then)."""

    pid: int
    voter: bytes
    option: int
    digest: bytes | None


BALLOT_LOGS: Final = {e.topic: e for e in map(event_of, (Events.BallotCast, Events.BallotSkipped))}


def _ballot_values(log: Log) -> Ballot | None:
    event = BALLOT_LOGS.get(log.topics[0]) if log.topics else None
    try:
        values = event.decode(log.topics, log.data) if event is not None else None
    except (ValueError, DecodingError):
        values = None
    if values is None:
        return None
    digest = bytes(values["digest"]) if "digest" in values else None
    option = int(values["option"] if digest is not None else values["reason"])
    return Ballot(int(values["proposalId"]), addr(values["voter"]), option, digest)


def ballot_event_only(ctx: Ctx, call: Call, log: Log) -> None:
    """A ballot event whose call could not be decoded: judged on everything but the signature."""
    ballot = _ballot_values(log)
    if ballot is None:
        ctx.find(
            "event.unexplained",
            call,
            "a ballot event",
            "another event",
            "an undecodable ballot call emitted an unexpected event",
        )
        return
    pid, voter, option = ballot.pid, ballot.voter, ballot.option
    p = ctx.state.proposals.get(pid)
    if p is None:
        ctx.find(
            "council.ballot_event",
            call,
            "an existing proposal",
            pid,
            "ballot event for a proposal that was never opened",
        )
        return
    if ballot.digest is None:  # BallotSkipped
        p.skipped += 1
        return
    reason = _judge(ctx, p, voter, option, call.timestamp, 0)
    if reason is not None:
        ctx.find(
            RULE_FOR_SKIP[reason],
            call,
            f"skipped ({skip_name(reason)})",
            "counted",
            f"proposal {pid}: ballot of {to_hex(voter)} counted though the rules skip it",
        )
    else:
        p.voted.add(voter)
        p.tally[option] += 1
    if option < len(p.event_tally):
        p.event_tally[option] += 1
    digest = ballot_digest(ctx.council_domain, pid, voter, option)
    if ballot.digest != digest:
        ctx.find(
            "council.ballot_digest",
            call,
            digest,
            ballot.digest,
            f"proposal {pid}: BallotCast of {to_hex(voter)} carries another digest",
        )
    ctx.warn(
        "council",
        call,
        f"ballot of {to_hex(voter)} on proposal {pid}: signature not "
        "re-verified (its call could not be decoded)",
    )


Handler = Callable[[Ctx, Call, Emitted], None]
# Each proposal event: the call that emits it (any other emitting it is unexplained), and what
# it does to the proposal.
EVENTS: Final[dict[str, tuple[str, Handler]]] = {
    "ProposalOpened": ("openProposal", proposal_opened),
    "ProposalFinalized": ("finalize", proposal_finalized),
    "MilestoneRecorded": ("recordMilestone", milestone_recorded),
    "SecretVoteLinked": ("linkSecretVote", secret_vote_linked),
}
BALLOT_EVENTS: Final = ("BallotCast", "BallotSkipped")
# Judged with the calls that emit them (castVote, castBallots; castProxyBallots in
# ledger.audit.mandates), never alone.
PROXY_EVENTS: Final = ("ProxyBallotCast", "ProxyBallotSkipped", "ProxyBallotOverridden")


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    """A council event outside castVote and castBallots (whose ballots their calldata judges)."""
    fn, name = e.fn, e.name
    if name in PROXY_EVENTS:
        if fn is None:
            ctx.warn("council", call, f"{name} without its calldata: not re-judged")
        else:
            ctx.find(
                "event.unexplained",
                call,
                "castProxyBallots, castVote or castBallots",
                fn,
                f"{name} emitted by another function",
            )
        return
    if name in BALLOT_EVENTS:
        if fn is None:
            ballot_event_only(ctx, call, log)
        else:
            ctx.find(
                "event.unexplained",
                call,
                "castVote or castBallots",
                fn,
                f"{name} emitted by another function",
            )
        return
    emitter, apply = EVENTS.get(name, (None, None))
    if fn is not None and fn != emitter:
        ctx.find(
            "event.unexplained",
            call,
            emitter,
            fn,
            f"{name} emitted by a call that does not emit it",
        )
    if apply is not None:
        apply(ctx, call, e)
