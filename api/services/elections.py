"""Elections: a community's elections and one election read from the chain by name, with its
candidates' statements from the text store; its ballots as CSV and its count round by round (as
CSV and as JSON for the page's charts) replayed from the index (the ElectionBallotsCast,
RoundCounted, VotesTransferred and CandidateElected events)."""

from __future__ import annotations

import csv
import io
from typing import Any

from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.schemas import (
    ElectionOut,
    ElectionRoundOut,
    ElectionRoundsOut,
    ElectionSeatOut,
    Page,
)
from api.services import ballots_cast, paper, poll
from api.services.container import Services
from ledger.protocol.generated import ElectionKind, ElectionState, ElectionView
from ledger.signing.election_ballots import nibbles


def _view(services: Services, election_id: int) -> ElectionView:
    """404 `UnknownElection` for an id no election has."""
    try:
        raw = services.deployment.elections.functions.getElection(election_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownElection", f"no election {election_id}") from exc
    return ElectionView(**raw._asdict())


def election(services: Services, election_id: int) -> ElectionOut:
    v = _view(services, election_id)
    candidates = ["0x" + bytes(c).hex() for c in v.candidates]
    boxes = paper.counts(services, election_id)
    on_paper = sum(b.ballots for b in boxes)
    by_proxy = int(services.deployment.elections.functions.proxyBallotCount(election_id).call())
    # A ranked election holds every ballot and counts them (a resident's own ballot takes its
    # proxy ballot's place); an approval one only adds each to the tally (ballotCount stays 0), so
    # its residents' own ballots are counted from their events (read once, for both counts).
    if v.kind == ElectionKind.Ranked:
        own = v.ballotCount - on_paper - by_proxy
        in_person = poll.in_person_count(services, election_id)
    else:
        cast = ballots_cast.counted(services, election_id)
        own = len(cast)
        in_person = poll.in_person_count(services, election_id, cast)
    return ElectionOut(
        election_id=election_id,
        community_id=v.communityId,
        candidates=candidates,
        statements=[services.store.get_text(c) for c in candidates],
        seats=v.seats,
        kind=ElectionKind(v.kind).name,  # type: ignore[arg-type]
        max_choices=v.maxChoices,
        opens_at=v.opensAt,
        closes_at=v.closesAt,
        roll_version=v.rollVersion,
        roll_size=v.rollSize,
        state=ElectionState(v.state).name,  # type: ignore[arg-type]
        ballot_count=own + by_proxy + on_paper,
        online_count=own - in_person,
        in_person_count=in_person,
        proxy_count=by_proxy,
        paper_count=on_paper,
        box_counts=boxes,
        tally=list(v.tally),
        winners=list(v.winners),
    )


def elections(
    services: Services, community: int | None, limit: int, offset: int
) -> Page[ElectionOut]:
    """Elections, newest first: which ones from the index, each one's state from the chain."""
    where = {"communityId": community} if community is not None else None
    opened = services.index.events(
        contract="elections",
        event="ElectionOpened",
        where=where,
        limit=limit,
        offset=offset,
        order="desc",
    )
    total = services.index.count(contract="elections", event="ElectionOpened", where=where)
    items = [election(services, int(e.args["electionId"])) for e in opened]
    return Page(items=items, total=total, limit=limit, offset=offset)


def _choices_text(kind: int, choices: int) -> str:
    """A ballot as people read it: a ranking "2>0>1", or approvals "0 3"."""
    if kind == ElectionKind.Approval:
        return " ".join(str(c) for c in range(16) if choices >> c & 1)
    digits = nibbles(choices)
    length = next((k for k in range(1, 16) if digits[k] == digits[k - 1]), 16)
    return ">".join(str(c) for c in digits[:length])


def _events(services: Services, election_id: int, event: str) -> list[Any]:
    return services.index.events(
        contract="elections", event=event, where={"electionId": election_id}, limit=None
    )


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def ballots_csv(services: Services, election_id: int) -> str:
    """Every counted ballot in the order counted: block, tx, voter, choices as signed and read."""
    kind = _view(services, election_id).kind
    rows = [
        [b.block_number, b.tx_hash, b.voter, f"0x{b.choices:016x}", _choices_text(kind, b.choices)]
        for b in ballots_cast.counted(services, election_id)
    ]
    return _csv(["block", "txHash", "voter", "choices", "read"], rows)


def rounds_csv(services: Services, election_id: int) -> str:
    """One row per candidate per round: its votes, what it received from the candidate
    eliminated before the round, and the round's exhausted ballots and elimination."""
    _view(services, election_id)
    received = {
        (int(e.args["seat"]), int(e.args["round"])): e.args
        for e in _events(services, election_id, "VotesTransferred")
    }
    rows = []
    for e in _events(services, election_id, "RoundCounted"):
        seat, number = int(e.args["seat"]), int(e.args["round"])
        moved = received.get((seat, number))
        eliminated = int(e.args["eliminated"])
        for candidate, votes in enumerate(e.args["tally"]):
            rows.append(
                [
                    seat,
                    number,
                    candidate,
                    votes,
                    "" if moved is None else moved["received"][candidate],
                    e.args["exhausted"],
                    "yes" if candidate == eliminated else "",
                ]
            )
    header = ["seat", "round", "candidate", "votes", "received", "exhausted", "eliminated"]
    return _csv(header, rows)


def rounds(services: Services, election_id: int) -> ElectionRoundsOut:
    """The count so far as the chain's events record it, seat by seat: each round's votes,
    exhausted ballots and elimination, where the eliminated candidate's ballots went, and who
    won the seat with how many votes."""
    kind = ElectionKind(_view(services, election_id).kind).name
    none = services.deployment.elections.functions.NONE().call()  # "filled the seat"
    moved = {
        (int(e.args["seat"]), int(e.args["round"])): e.args
        for e in _events(services, election_id, "VotesTransferred")
    }
    elected = {
        int(e.args["seat"]): e.args for e in _events(services, election_id, "CandidateElected")
    }
    by_seat: dict[int, list[ElectionRoundOut]] = {}
    for e in _events(services, election_id, "RoundCounted"):
        seat, number = int(e.args["seat"]), int(e.args["round"])
        transfer = moved.get((seat, number))
        eliminated = int(e.args["eliminated"])
        by_seat.setdefault(seat, []).append(
            ElectionRoundOut(
                round=number,
                tally=[int(v) for v in e.args["tally"]],
                exhausted=int(e.args["exhausted"]),
                eliminated=None if eliminated == none else eliminated,
                transferred_from=None if transfer is None else int(transfer["from"]),
                received=None if transfer is None else [int(v) for v in transfer["received"]],
            )
        )
    seats = [
        ElectionSeatOut(
            seat=seat,
            rounds=by_seat[seat],
            elected=int(elected[seat]["candidate"]) if seat in elected else None,
            votes=int(elected[seat]["votes"]) if seat in elected else None,
        )
        for seat in sorted(by_seat)
    ]
    return ElectionRoundsOut(election_id=election_id, kind=kind, seats=seats)  # type: ignore[arg-type]
