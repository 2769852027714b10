"""Elections: one election read from the chain by name, and its ballots and rounds as CSV
replayed from the index (the ElectionBallotCast, RoundCounted and VotesTransferred events)."""

from __future__ import annotations

import csv
import io
from typing import Any

from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.schemas import ElectionOut
from api.services import poll
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
    in_person = poll.in_person_count(services, election_id)
    return ElectionOut(
        election_id=election_id,
        community_id=v.communityId,
        candidates=["0x" + bytes(c).hex() for c in v.candidates],
        seats=v.seats,
        kind=ElectionKind(v.kind).name,
        max_choices=v.maxChoices,
        opens_at=v.opensAt,
        closes_at=v.closesAt,
        roll_version=v.rollVersion,
        roll_size=v.rollSize,
        state=ElectionState(v.state).name,
        ballot_count=v.ballotCount,
        online_count=v.ballotCount - in_person,
        in_person_count=in_person,
        tally=list(v.tally),
        winners=list(v.winners),
    )


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
        [
            e.block_number,
            e.tx_hash,
            e.args["voter"],
            f"0x{int(e.args['choices']):016x}",
            _choices_text(kind, int(e.args["choices"])),
        ]
        for e in _events(services, election_id, "ElectionBallotCast")
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
