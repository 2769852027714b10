"""In-person ballots as the index records them: a ballot counted in person is an entry of an
ElectionBallotsCast in a transaction that also holds the poll office's InPersonBallotVouched for
the same voter (IPollOffice's NatSpec)."""

from __future__ import annotations

from api.services import ballots_cast
from api.services.container import Services


def in_person_count(
    services: Services, election_id: int, cast: list[ballots_cast.CountedBallot] | None = None
) -> int:
    """How many of the election's counted ballots came in person; `cast`: its counted ballots,
    when the caller has read them already."""
    where = {"electionId": election_id}
    vouched = {
        (e.tx_hash, e.args["voter"])
        for e in services.index.events(
            contract="poll_office", event="InPersonBallotVouched", where=where, limit=None
        )
    }
    if not vouched:
        return 0
    if cast is None:
        cast = ballots_cast.counted(services, election_id)
    return sum((b.tx_hash, b.voter) in vouched for b in cast)
