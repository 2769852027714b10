"""The paper-box audit: every box declaration judged again from the PollOffice calldata (a
committee member of the election's community, before voting opened, 1..MAX_BOX_VOTERS residents
on the election's roll snapshot and in no other box), every officer's signed totals judged as
the poll office must (box, election open, EIP-712 signature with low s by an officer holding
POLL_OFFICER at that block, entries Elections would take, no more ballots than residents
assigned, a second officer different from the first), each BoxTotalsSigned/Refused/Counted
compared with that judgement; the entries two officers' totals hand in are what the elections
audit then accepts as PaperBallotsCast, and adds to the recount as weighted ballots. The
elections audit also refuses any ballot, online or in person, of a resident assigned to a box."""

from __future__ import annotations

from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.election_rules import BallotFault, approvals_of, ranking_of
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.state import Election, PaperBox
from ledger.hashing import keccak
from ledger.protocol.generated import (
    Constants,
    Domains,
    ElectionKind,
    Events,
    PaperBoxSkipReason,
    Types,
)
from ledger.signing.digests import domain_separator
from ledger.signing.eip712 import recover_compact

MAX_BOX_VOTERS: Final = Constants.MAX_BOX_VOTERS
DECLARED: Final = Events.PaperBoxDeclared.topic
SIGNED: Final = Events.BoxTotalsSigned.topic
REFUSED: Final = Events.BoxTotalsRefused.topic
COUNTED: Final = Events.BoxTotalsCounted.topic
B = PaperBoxSkipReason


# ------------------------------------------------------------------------------- declaration


def declare_box(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """A box declaration judged from its calldata; its PaperBoxDeclared compared with it."""
    declared = [log for log in call.logs if log.topics[:1] == [DECLARED]]
    if not declared:
        return  # reverted: nothing changed
    state = ctx.state
    eid, voters = int(args["electionId"]), [addr(v) for v in args["voters"]]
    box_id = int.from_bytes(declared[0].topics[1], "big")
    el = state.elections.get(eid)
    for fault in _declaration_faults(ctx, call, el, voters):
        ctx.find("paper.declare", call, "a box the rules allow", fault, f"box {box_id}")
    if box_id != len(state.paper_boxes) + 1:
        ctx.find("paper.declare", call, len(state.paper_boxes) + 1, box_id, "box ids out of order")
    state.paper_boxes[box_id] = PaperBox(box_id, eid, bytes(args["labelHash"]), len(voters))
    if el is not None:
        el.paper_voters.update(voters)
    state.bump("paper_boxes")


def _declaration_faults(
    ctx: Ctx, call: Call, el: Election | None, voters: list[bytes]
) -> list[str]:
    if el is None:
        return ["a box for no election"]
    faults = []
    community = ctx.state.communities[el.community]
    if not community.has("COMMITTEE", call.actor):
        faults.append("declared by an account outside the committee")
    if call.timestamp >= el.opens_at:
        faults.append(f"declared at {call.timestamp}, voting opened at {el.opens_at}")
    if not 1 <= len(voters) <= MAX_BOX_VOTERS:
        faults.append(f"{len(voters)} residents")
    if len(set(voters)) != len(voters) or el.paper_voters & set(voters):
        faults.append("a resident assigned twice")
    for voter in voters:
        member = community.members.get(voter)
        if member is None or not member.member_at(el.roll_version):
            faults.append(f"{to_hex(voter)} not on roll v{el.roll_version}")
    return faults


# ------------------------------------------------------------------------------- totals


def _words(values: list[int]) -> bytes:
    return keccak(b"".join(v.to_bytes(32, "big") for v in values))


def _totals(box_id: int, entry: Any) -> bytes:
    choices, counts = [int(c) for c in entry["choices"]], [int(n) for n in entry["counts"]]
    return keccak(
        box_id.to_bytes(32, "big")
        + _words(choices)
        + _words(counts)
        + bytes(entry["certificateHash"])
    )


def _digest(ctx: Ctx, box_id: int, entry: Any) -> bytes:
    separator = domain_separator(*Domains.PollOffice, ctx.chain_id, ctx.contracts["poll_office"])
    struct_hash = keccak(
        Types.BoxTotals.typehash
        + box_id.to_bytes(32, "big")
        + _words([int(c) for c in entry["choices"]])
        + _words([int(n) for n in entry["counts"]])
        + bytes(entry["certificateHash"])
        + bytes(12)
        + addr(entry["officer"])
    )
    return keccak(b"\x19\x01" + separator + struct_hash)


def _entries_fault(el: Election, choices: list[int], counts: list[int]) -> B | None:
    if not choices or len(choices) != len(counts) or 0 in counts:
        return B.EmptyTotals
    judge = ranking_of if el.kind == ElectionKind.Ranked else approvals_of
    try:
        for c in choices:
            judge(c, el.candidate_count, el.max_choices)
    except BallotFault:
        return B.BadPattern
    return None


def _refusal(ctx: Ctx, call: Call, box: PaperBox | None, entry: Any) -> B | None:
    """Why the poll office must refuse these signed totals (None: it records them)."""
    if box is None:
        return B.BoxNotFound
    if box.ballots is not None:
        return B.BoxAlreadyCounted
    el = ctx.state.elections[box.election]
    if not el.opens_at <= call.timestamp < el.closes_at:
        return B.VotingNotOpen
    officer = addr(entry["officer"])
    vs = int.from_bytes(bytes(entry["vs"]), "big")
    signer = recover_compact(_digest(ctx, box.id, entry), bytes(entry["r"]), vs)
    if signer is None:
        return B.MalleableOfficerSignature
    if signer != officer:
        return B.BadOfficerSignature
    if not ctx.state.communities[el.community].has("POLL_OFFICER", officer):
        return B.NotPollOfficer
    counts = [int(n) for n in entry["counts"]]
    fault = _entries_fault(el, [int(c) for c in entry["choices"]], counts)
    if fault is not None:
        return fault
    if sum(counts) > box.assigned:
        return B.OverAssigned
    if box.signers.get(to_hex(_totals(box.id, entry))) == officer:
        return B.SameOfficerTwice
    return None


def _said(log: Log) -> str:
    topic = log.topics[0]
    officer = to_hex(log.topics[2][12:]) if len(log.topics) > 2 else "?"
    if topic == SIGNED:
        return f"signed by {officer}"
    return f"refused {officer} ({B(int.from_bytes(log.data[:32], 'big')).name})"


def sign_box_totals(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """Officers' signed totals judged from the calldata, each event compared with the judgement;
    the totals a second officer makes count are what Elections may take in this transaction."""
    box_id = int(args["boxId"])
    box = ctx.state.paper_boxes.get(box_id)
    entries = list(args["signed"])
    own = [log for log in call.logs if log.topics[:1] in ([SIGNED], [REFUSED])]
    if len(own) != len(entries):
        ctx.find(
            "paper.totals",
            call,
            f"{len(entries)} BoxTotalsSigned/Refused events",
            len(own),
            f"box {box_id}: one event per signed totals expected",
        )
    counted: Any = None
    for entry, log in zip(entries, own, strict=False):
        reason = _refusal(ctx, call, box, entry)
        who = to_hex(addr(entry["officer"]))
        expected = f"signed by {who}" if reason is None else f"refused {who} ({reason.name})"
        if _said(log) != expected:
            ctx.find("paper.totals", call, expected, _said(log), f"box {box_id}: judged otherwise")
        if reason is not None or box is None:
            continue
        totals = to_hex(_totals(box_id, entry))
        if totals not in box.signers:
            box.signers[totals] = addr(entry["officer"])
            continue
        box.ballots = sum(int(n) for n in entry["counts"])
        counted = entry
    said_counted = [log for log in call.logs if log.topics[:1] == [COUNTED]]
    if (counted is None) != (not said_counted):
        ctx.find(
            "paper.totals",
            call,
            "counted" if counted is not None else "not counted",
            "counted" if said_counted else "not counted",
            f"box {box_id}: two different officers' signatures of the same totals count them",
        )
    if counted is not None and box is not None:
        el = ctx.state.elections[box.election]
        choices, counts = map(int, counted["choices"]), map(int, counted["counts"])
        el.paper_pending = list(zip(choices, counts, strict=True))
        el.paper_tx = call.tx
    ctx.state.bump("box_totals_checked", len(entries))


def ballots_cast(ctx: Ctx, call: Call, e: Emitted) -> None:
    """Elections' PaperBallotsCast: taken only from the poll office, only the entries two
    officers' totals handed in in this transaction; the recount takes them as `count` ballots."""
    eid, choices, count = int(e.ev["electionId"]), int(e.ev["choices"]), int(e.ev["count"])
    el = ctx.state.elections.get(eid)
    if el is None:
        ctx.find("paper.totals", call, "an existing election", eid, "paper ballots")
        return
    handed = (
        call.actor in (None, ctx.contracts["poll_office"])
        and call.tx == el.paper_tx
        and el.paper_pending[:1] == [(choices, count)]
    )
    if not handed:
        ctx.find(
            "paper.totals",
            call,
            "entries of totals two officers signed",
            f"{count} x {choices:#x}",
            f"election {eid}: paper ballots no box's totals hold",
        )
    else:
        el.paper_pending.pop(0)
    el.ballots.extend([choices] * count)
    el.paper += count
    ctx.state.bump("paper_ballots", count)
