"""The elections audit: every election rebuilt from IElections' events and the calldata of the
calls that emitted them, every counted ballot judged again (encoding, window, signature, roll at
the snapshot, once), and every count redone in plain Python (ledger.audit.election_rules) and
compared, round by round, with the rounds, transfers and winners the contract emitted."""

from __future__ import annotations

from typing import Any, Final

from ledger.audit import election_proxies
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.election_rules import (
    BallotFault,
    approvals_of,
    count_approval,
    count_ranked,
    ranking_of,
    transfers,
)
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.paper import ballots_cast as paper_ballots_cast
from ledger.audit.state import Election
from ledger.hashing import keccak
from ledger.protocol.ballots_cast import cast_entries
from ledger.protocol.generated import Constants, Domains, ElectionKind, ElectionSkipReason, Types
from ledger.signing.digests import domain_separator
from ledger.signing.eip712 import recover_compact

NONE: Final = 255
MAX_CANDIDATES: Final = 16
ROLL_SNAPSHOT_LIFETIME: Final = Constants.ROLL_SNAPSHOT_LIFETIME


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    handler = _HANDLERS.get(e.name)
    if handler is not None:
        handler(ctx, call, e)


# ------------------------------------------------------------------------------- opening


def _params_fault(params: dict[str, Any], timestamp: int) -> str | None:
    hashes = [bytes(h) for h in params["candidates"]]
    count, seats, max_choices = len(hashes), int(params["seats"]), int(params["maxChoices"])
    opens, closes = int(params["opensAt"]), int(params["closesAt"])
    if not 2 <= count <= MAX_CANDIDATES:
        return f"{count} candidates"
    if bytes(32) in hashes:
        return "a candidate without a statement hash"
    if not 1 <= seats < count:
        return f"{seats} seats for {count} candidates"
    if not 1 <= max_choices <= count:
        return f"{max_choices} choices for {count} candidates"
    if not (opens < closes and closes > timestamp and closes <= timestamp + ROLL_SNAPSHOT_LIFETIME):
        return f"schedule {opens}..{closes} at time {timestamp}"
    return None


def election_opened(ctx: Ctx, call: Call, e: Emitted) -> None:
    state, ev = ctx.state, e.ev
    eid, cid, opener = int(ev["electionId"]), int(ev["communityId"]), addr(ev["opener"])
    params = ev["params"]
    ctx.actor_is(call, opener, "ElectionOpened")
    if eid != len(state.elections) + 1:
        ctx.find("elections.election", call, len(state.elections) + 1, eid, "ids out of order")
    community = state.communities.get(cid)
    if community is None or not community.has("COMMITTEE", opener):
        ctx.find(
            "elections.election",
            call,
            "a COMMITTEE member",
            opener,
            f"election {eid} opened by an account outside its community's committee",
        )
    fault = _params_fault(params, call.timestamp)
    if fault:
        ctx.find("elections.election", call, "valid parameters", fault, f"election {eid}")
    version, size = int(ev["rollVersion"]), int(ev["rollSize"])
    if community is not None and (version, size) != (community.roll_version, community.roll_size):
        ctx.find(
            "elections.election",
            call,
            f"roll v{community.roll_version} of {community.roll_size}",
            f"roll v{version} of {size}",
            f"election {eid} snapshots another roll than the published one",
        )
    state.elections[eid] = Election(
        id=eid,
        community=cid,
        kind=int(params["kind"]),
        candidate_count=len(params["candidates"]),
        seats=int(params["seats"]),
        max_choices=int(params["maxChoices"]),
        opens_at=int(params["opensAt"]),
        closes_at=int(params["closesAt"]),
        roll_version=version,
    )


# ------------------------------------------------------------------------------- ballots


def _digest(ctx: Ctx, election_id: int, voter: bytes, choices: int) -> bytes:
    separator = domain_separator(*Domains.Elections, ctx.chain_id, ctx.contracts["elections"])
    struct_hash = keccak(
        Types.ElectionBallot.typehash
        + election_id.to_bytes(32, "big")
        + bytes(12)
        + voter
        + choices.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + separator + struct_hash)


def _signature_fault(ctx: Ctx, e: Emitted, eid: int, voter: bytes, choices: int) -> str | None:
    """Why the relayed ballot behind this event is not the voter's signature (None: it is)."""
    if e.args is None:
        return None  # not traceable: the event alone is judged
    if e.fn == "castInPersonBallots":
        return None  # judged by _in_person_fault
    if e.fn != "castElectionBallots":
        return f"a ballot counted by {e.fn}, which takes no signed ballots"
    for ballot in e.args["ballots"]:
        if addr(ballot["voter"]) != voter or int(ballot["choices"]) != choices:
            continue
        vs = int.from_bytes(bytes(ballot["vs"]), "big")
        signer = recover_compact(_digest(ctx, eid, voter, choices), bytes(ballot["r"]), vs)
        if signer is None:
            return "a high-s signature"
        if signer == voter:
            return None
    return "no ballot in the call signed by the voter for these choices"


def _ballot_fault(
    ctx: Ctx, call: Call, e: Emitted, el: Election, voter: bytes, choices: int
) -> str | None:
    if not el.opens_at <= call.timestamp < el.closes_at or el.winners is not None:
        return f"cast at {call.timestamp}, outside {el.opens_at}..{el.closes_at}"
    try:
        if el.kind == ElectionKind.Ranked:
            ranking_of(choices, el.candidate_count, el.max_choices)
        else:
            approvals_of(choices, el.candidate_count, el.max_choices)
    except BallotFault as fault:
        return f"choices {choices:#x}: {fault.reason.name}"
    member = ctx.state.communities[el.community].members.get(voter)
    if member is None or not member.member_at(el.roll_version):
        return f"voter not on roll v{el.roll_version}"
    if voter in el.voted:
        return "a second ballot of the voter"
    if voter in el.paper_voters:
        return "a ballot of a resident assigned to a paper box"
    if e.fn == "castInPersonBallots" or _vouched_untraced(call, e, el, voter, choices):
        return _in_person_fault(ctx, call, el, voter, choices)
    return _signature_fault(ctx, e, el.id, voter, choices)


def _vouched_untraced(call: Call, e: Emitted, el: Election, voter: bytes, choices: int) -> bool:
    """A ballot from a call the node could not trace (no calldata), in the transaction where the
    poll office vouched for this voter and these choices: the poll office's hand-in."""
    return e.fn is None and call.tx == el.vouched_tx and (voter, choices) in el.vouched


def _in_person_fault(ctx: Ctx, call: Call, el: Election, voter: bytes, choices: int) -> str | None:
    """Why a ballot counted without the voter's signature was not the poll office's to hand in
    (None: the poll office called, and vouched for this voter and these choices)."""
    if call.actor is not None and call.actor != ctx.contracts["poll_office"]:
        return f"a ballot without the voter's signature handed in by {call.actor.hex()}"
    if call.tx != el.vouched_tx or (voter, choices) not in el.vouched:
        return "an in-person ballot no officer vouched for"
    el.vouched.remove((voter, choices))
    el.in_person += 1
    return None


def election_ballots_cast(ctx: Ctx, call: Call, e: Emitted) -> None:
    """Each ballot of the batch, in the order counted."""
    eid = int(e.ev["electionId"])
    el = ctx.state.elections.get(eid)
    if el is None:
        ctx.find("elections.ballot", call, "an existing election", eid, "ballots for no election")
        return
    for entry in cast_entries(e.ev["cast"]):
        _ballot_cast(ctx, call, e, el, entry.voter, entry.choices)


def _ballot_cast(
    ctx: Ctx, call: Call, e: Emitted, el: Election, voter: bytes, choices: int
) -> None:
    eid = el.id
    fault = _ballot_fault(ctx, call, e, el, voter, choices)
    if fault:
        ctx.find("elections.ballot", call, "a valid ballot", fault, f"election {eid}: counted")
    el.voted.add(voter)
    # The voter's own ballot over their proxy ballot is stored where that one was.
    position = el.replacing.pop(voter, None)
    if position is None:
        el.ballots.append(choices)
    else:
        el.ballots[position] = choices
    ctx.state.bump("election_ballots")


def ballot_skipped(ctx: Ctx, call: Call, e: Emitted) -> None:
    el = ctx.state.elections.get(int(e.ev["electionId"]))
    if el is None:
        return
    el.skipped += 1
    voter = addr(e.ev["voter"])
    paper = int(e.ev["reason"]) == ElectionSkipReason.AssignedToPaperBox
    if paper and voter not in el.paper_voters:
        ctx.find(
            "paper.declare",
            call,
            "a resident some box was declared with",
            to_hex(voter),
            f"election {el.id}: a ballot skipped as a paper box resident's",
        )


# ------------------------------------------------------------------------------- the count


def round_counted(ctx: Ctx, call: Call, e: Emitted) -> None:
    el = _counted(ctx, call, e)
    if el is not None:
        ev = e.ev
        row = [int(ev["seat"]), int(ev["round"]), *map(int, ev["tally"])]
        el.rounds.append([*row, int(ev["exhausted"]), int(ev["eliminated"])])


def votes_transferred(ctx: Ctx, call: Call, e: Emitted) -> None:
    el = _counted(ctx, call, e)
    if el is not None:
        ev = e.ev
        row = [int(ev["seat"]), int(ev["round"]), int(ev["from"]), *map(int, ev["received"])]
        el.transfers.append([*row, int(ev["exhausted"])])


def election_counted(ctx: Ctx, call: Call, e: Emitted) -> None:
    el = _counted(ctx, call, e)
    if el is None:
        return
    el.winners = [int(w) for w in e.ev["winners"]]
    rounds, moves, winners = recount(el)
    for what, expected, found in (
        ("rounds", rounds, el.rounds),
        ("transfers", moves, el.transfers),
        ("winners", winners, el.winners),
    ):
        if expected != found:
            ctx.find(
                "elections.count",
                call,
                expected,
                found,
                f"election {el.id}: the emitted {what} are not the recount of its "
                f"{len(el.ballots)} ballots",
            )


def _counted(ctx: Ctx, call: Call, e: Emitted) -> Election | None:
    eid = int(e.ev["electionId"])
    el = ctx.state.elections.get(eid)
    if el is None or call.timestamp < el.closes_at or el.winners is not None:
        ctx.find(
            "elections.count",
            call,
            "a count after the election closed, once",
            f"{e.name} at {call.timestamp}",
            f"election {eid}",
        )
        return None
    return el


def recount(el: Election) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """(rounds, transfers, winners) by IElections' rules, in the rows the events carry."""
    if el.kind == ElectionKind.Ranked:
        ballots = [ranking_of(c, el.candidate_count, el.max_choices) for c in el.ballots]
        count = count_ranked(ballots, el.candidate_count, el.seats)
    else:
        ballots = [approvals_of(c, el.candidate_count, el.max_choices) for c in el.ballots]
        count = count_approval(ballots, el.candidate_count, el.seats)
    rounds = [
        [r.seat, r.round, *r.tally, r.exhausted, NONE if r.eliminated is None else r.eliminated]
        for r in count.rounds
    ]
    moves = []
    for before, after in zip(count.rounds, count.rounds[1:], strict=False):
        if before.seat == after.seat and before.eliminated is not None:
            gained, lost = transfers(before, after)
            moves.append([after.seat, after.round, before.eliminated, *gained, lost])
    return rounds, moves, list(count.winners)


def report_row(el: Election) -> dict[str, Any]:
    """An election as the audit report lists it."""
    return {
        "id": el.id,
        "community": el.community,
        "kind": ElectionKind(el.kind).name,
        "seats": el.seats,
        "ballots": len(el.ballots),
        "in_person": el.in_person,
        "paper": el.paper,
        "by_proxy": len(el.proxied),
        "skipped": el.skipped,
        "rounds": len(el.rounds),
        "winners": el.winners,
    }


_HANDLERS: Final = {
    "ElectionOpened": election_opened,
    "ElectionBallotsCast": election_ballots_cast,
    "ElectionBallotSkipped": ballot_skipped,
    "PaperBallotsCast": paper_ballots_cast,
    "RoundCounted": round_counted,
    "VotesTransferred": votes_transferred,
    "ElectionCounted": election_counted,
    **election_proxies.HANDLERS,
}
