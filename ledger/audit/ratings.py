"""The ratings recount: the ratings of every completed proposal and budget project judged again
from the `rate` calldata, by IRatings' rules.

The first batch for a proposal must open its ratings only if the rebuilt council record says the
proposal passed and its execution was marked Completed (for a budget project, named by its grant
id: the rebuilt round says a milestone completed it), with the roll published at that moment
and a window of RATING_PERIOD. Each relayed rating is judged in the contract's order: window,
score 1..5, low-s EIP-712 signature by the named rater (the digest recomputed here from the
Ratings domain), rater on the roll at the snapshot, not rated before; the judgement must match
the event the contract emitted for it (Rated with that digest, or RatingSkipped with that reason).
"""

from __future__ import annotations

from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.state import RatingRound
from ledger.budget.grants import is_project, project_of
from ledger.protocol.generated import (
    Constants,
    Domains,
    Events,
    ExecutionStatus,
    Outcome,
    RatingSkipReason,
)
from ledger.signing.digests import domain_separator, rating_digest
from ledger.signing.eip712 import recover_compact

Skip = RatingSkipReason
RATING_PERIOD: Final = Constants.RATING_PERIOD
MAX_SCORE: Final = 5
RATED: Final = Events.Rated.topic
RATING_SKIPPED: Final = Events.RatingSkipped.topic
OPENED: Final = Events.RatingsOpened.topic


def skip_name(value: int | None) -> str:
    if value is None:
        return "counted"
    try:
        return Skip(value).name
    except ValueError:
        return f"RatingSkipReason({value})"


def _domain(ctx: Ctx) -> bytes:
    return domain_separator(*Domains.Ratings, ctx.chain_id, ctx.contracts["ratings"])


def subject_name(pid: int) -> str:
    """What a ratings id names: a council proposal, or a budget project by its grant id."""
    if is_project(pid):
        round_id, index = project_of(pid)
        return f"budget project {index} of round {round_id}"
    return f"proposal {pid}"


def _subject(ctx: Ctx, pid: int) -> tuple[bool, int | None]:
    """(whether the rebuilt record says `pid`'s work is completed, its community if it exists):
    a proposal passed with its execution Completed, or a budget project a milestone completed."""
    if is_project(pid):
        round_id, index = project_of(pid)
        r = ctx.state.budget_rounds.get(round_id)
        return (r is not None and index in r.completed), (r.community if r else None)
    p = ctx.state.proposals.get(pid)
    completed = (
        p is not None and p.outcome == Outcome.Passed and p.execution == ExecutionStatus.Completed
    )
    return completed, (p.community if p else None)


def _open(ctx: Ctx, call: Call, pid: int, opened: list[Log]) -> RatingRound | None:
    """The round the call's RatingsOpened starts, judged against the rebuilt council and budget
    records."""
    completed, community_id = _subject(ctx, pid)
    if len(opened) != 1 or not completed:
        status = "completed" if completed else "not completed"
        ctx.find(
            "rating.open",
            call,
            "one RatingsOpened of completed work",
            f"{len(opened)} RatingsOpened, {status}",
            f"ratings of {subject_name(pid)}",
        )
        if len(opened) != 1 or community_id is None:
            return None
    assert community_id is not None
    data = opened[0].data
    version, size, closes_at = (int.from_bytes(data[k : k + 32], "big") for k in (0, 32, 64))
    community = ctx.state.communities[community_id]
    expected = (community.roll_version, community.roll_size, call.timestamp + RATING_PERIOD)
    if (version, size, closes_at) != expected:
        ctx.find(
            "rating.open",
            call,
            expected,
            (version, size, closes_at),
            f"ratings of {subject_name(pid)} opened on another roll or window "
            "(version, size, closes)",
        )
    round_ = RatingRound(pid, community_id, version, size, closes_at)
    ctx.state.rating_rounds[pid] = round_
    return round_


def _judge(
    ctx: Ctx, round_: RatingRound, ts: int, separator: bytes, entry: Any
) -> tuple[int | None, bytes]:
    """(the skip reason the rules give this rating or None if it counts, its digest)."""
    rater, score = addr(entry["rater"]), int(entry["score"])
    comment, r = bytes(entry["commentHash"]), bytes(entry["r"])
    vs = int.from_bytes(bytes(entry["vs"]), "big")
    if ts >= round_.closes_at:
        return Skip.RatingsClosed, b""
    if not 1 <= score <= MAX_SCORE:
        return Skip.InvalidScore, b""
    digest = rating_digest(separator, round_.proposal, rater, score, comment)
    recovered = recover_compact(digest, r, vs)
    if recovered is None:
        return Skip.MalleableSignature, digest
    if recovered != rater:
        return Skip.BadSignature, digest
    member = ctx.state.communities[round_.community].members.get(rater)
    if member is None or not member.member_at(round_.roll_version):
        return Skip.NotOnRoll, digest
    if rater in round_.raters:
        return Skip.AlreadyRated, digest
    return None, digest


def rate(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """A rate call judged from its calldata: the opening, each rating and its event."""
    pid = int(args["proposalId"])
    opened = [log for log in call.logs if log.topics[:1] == [OPENED]]
    round_ = ctx.state.rating_rounds.get(pid)
    if round_ is None:
        round_ = _open(ctx, call, pid, opened)
        if round_ is None:
            return
    elif opened:
        ctx.find(
            "rating.open", call, "no RatingsOpened", len(opened), f"{subject_name(pid)} reopened"
        )
    entries = list(args["ratings"])
    per_item = [log for log in call.logs if log.topics[:1] != [OPENED]]
    if len(per_item) != len(entries):
        ctx.find(
            "rating.judged",
            call,
            f"{len(entries)} rating events",
            len(per_item),
            f"rate on {subject_name(pid)}: one event per rating expected",
        )
    separator = _domain(ctx)
    for entry, log in zip(entries, per_item, strict=False):
        reason, digest = _judge(ctx, round_, call.timestamp, separator, entry)
        rater, score = addr(entry["rater"]), int(entry["score"])
        if reason is None:
            round_.raters.add(rater)
            round_.score_sum += score
        _check_event(ctx, call, round_, rater, reason, digest, log)
    ctx.state.bump("ratings_checked", len(entries))


def _check_event(
    ctx: Ctx,
    call: Call,
    round_: RatingRound,
    rater: bytes,
    reason: int | None,
    digest: bytes,
    log: Log,
) -> None:
    topic = log.topics[0] if log.topics else b""
    if len(log.topics) != 3 or int.from_bytes(log.topics[1], "big") != round_.proposal:
        found = "another event"
    elif log.topics[2][12:] != rater:
        found = f"an event for {to_hex(log.topics[2][12:])}"
    elif topic == RATED:
        round_.event_count += 1
        round_.event_sum += int.from_bytes(log.data[:32], "big")
        found = "counted"
        if reason is None and log.data[64:96] != digest:
            ctx.find(
                "rating.digest",
                call,
                digest,
                log.data[64:96],
                f"{subject_name(round_.proposal)}: Rated of {to_hex(rater)} carries another digest",
            )
    elif topic == RATING_SKIPPED:
        found = f"skipped ({skip_name(int.from_bytes(log.data[:32], 'big'))})"
    else:
        found = to_hex(topic)
    expected = "counted" if reason is None else f"skipped ({skip_name(reason)})"
    if found != expected:
        ctx.find(
            "rating.judged",
            call,
            expected,
            found,
            f"{subject_name(round_.proposal)}: rating of {to_hex(rater)} judged otherwise by the "
            "rules",
        )


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    """A Ratings event outside rate: only rate emits them; untraced, there is no calldata."""
    if e.fn is not None:
        ctx.find("event.unexplained", call, "rate", e.fn, f"{e.name} emitted by {e.fn}")
    else:
        ctx.warn("ratings", call, f"{e.name} without its calldata: not re-judged")


def final_checks(ctx: Ctx, block: int) -> None:
    """What Rated events counted is the recount."""
    for pid, round_ in ctx.state.rating_rounds.items():
        if (round_.event_count, round_.event_sum) != (len(round_.raters), round_.score_sum):
            ctx.find(
                "rating.count",
                None,
                (len(round_.raters), round_.score_sum),
                (round_.event_count, round_.event_sum),
                f"{subject_name(pid)}: Rated events count other ratings than the recount",
                block=block,
            )
