"""A committee member opens an election: a `ledger.admin` act (an `AdminCall`, checked and
simulated before anything is signed, then sent directly or through the API's relay).

Each candidate's statement lives off-chain: it is stored through the API's /v1/texts before the
election is signed, and the election commits to each statement's keccak256, in the order that
settles ties (IElections). The statement's first line is the candidate's name on the page.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.admin import AdminCall, AdminChain, AdminRefused, RelayApi, Signer
from ledger.offchain import text_hash
from ledger.proposal_acts import OPEN_LEAD_S, TEXTS_PATH, period_seconds
from ledger.protocol.generated import ElectionKind, ElectionParams, Functions, Roles


@dataclass(frozen=True)
class ElectionDraft:
    """What the committee member gives: the statements (one per candidate, in tie order), how
    ballots are cast and counted, how many seats, the most choices a ballot takes, how long."""

    community: int
    statements: tuple[str, ...]
    kind: ElectionKind
    seats: int
    max_choices: int
    period_s: int

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(bytes.fromhex(text_hash(s)[2:]) for s in self.statements)


def draft(
    community: int,
    statements: Sequence[str],
    *,
    kind: ElectionKind,
    seats: int,
    max_choices: int | None,
    period: str,
) -> ElectionDraft:
    """A draft from what a person gives; refuses, in one sentence, what no election can be.
    `max_choices` None: every candidate (ranked), or the number of seats (approval)."""
    count = len(statements)
    if count < 2:
        raise AdminRefused(f"an election needs at least 2 candidates, not {count}")
    for i, statement in enumerate(statements, 1):
        if not statement.strip():
            raise AdminRefused(f"candidate {i}'s statement is empty")
    if len(set(statements)) < count:
        raise AdminRefused("two candidates have the same statement: nobody could tell them apart")
    if not 1 <= seats < count:
        raise AdminRefused(f"{count} candidates can fill 1 to {count - 1} seats, not {seats}")
    default = count if kind is ElectionKind.Ranked else seats
    choices = default if max_choices is None else max_choices
    if not 1 <= choices <= count:
        raise AdminRefused(f"a ballot may take 1 to {count} choices, not {choices}")
    return ElectionDraft(community, tuple(statements), kind, seats, choices, period_seconds(period))


def check_draft(chain: AdminChain, election: ElectionDraft) -> None:
    """What the contracts bound by their own constants: candidates, the period, the roll."""
    elections, registry = chain.deployment.elections.functions, chain.registry.functions
    most = elections.MAX_CANDIDATES().call()
    if len(election.statements) > most:
        raise AdminRefused(
            f"an election has at most {most} candidates, not {len(election.statements)}"
        )
    longest = registry.ROLL_SNAPSHOT_LIFETIME().call()
    if election.period_s > longest:
        raise AdminRefused(
            f"a voting period of {election.period_s // 86_400} days is longer than the roll "
            f"snapshot is kept ({longest // 86_400} days)"
        )
    roll = chain.view("registry", "rollSnapshot", election.community)
    if roll["size"] == 0:
        raise AdminRefused(
            f"community {election.community} has no published roll: no one could vote "
            "(the registrar publishes it with `commons admin roll`)"
        )


def open_election(election: ElectionDraft, now: int, opens_in_s: int = 0) -> AdminCall:
    """The act, open from `now` (the chain's latest block time), or `opens_in_s` later (time to
    declare paper boxes), for the draft's period."""
    opens = now + opens_in_s if opens_in_s else now - OPEN_LEAD_S
    params = ElectionParams(
        communityId=election.community,
        candidates=election.hashes,
        seats=election.seats,
        kind=election.kind,
        maxChoices=election.max_choices,
        opensAt=opens,
        closesAt=max(now, opens) + election.period_s,
    )
    closes = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(params.closesAt))
    ranked = election.kind is ElectionKind.Ranked
    kind, per_ballot = ("a ranked", "ranks") if ranked else ("an approval", "approvals")
    seats = "1 seat" if election.seats == 1 else f"{election.seats} seats"
    return AdminCall(
        "elections",
        Functions.openElection,
        # A plain tuple (web3 encodes a struct from one), its candidates a list.
        ((*params[:1], list(params.candidates), *params[2:]),),
        f"open {kind} election for {seats} in community {election.community} among "
        f"{len(election.statements)} candidates (statement hashes "
        + ", ".join("0x" + h.hex()[:8] + "…" for h in election.hashes)
        + f"), up to {election.max_choices} {per_ballot} a ballot, voting until {closes}",
        Signer.ROLE,
        "ElectionOpened",
        election.community,
        Roles.COMMITTEE,
    )


def store_statements(api: RelayApi, election: ElectionDraft) -> None:
    """Store every statement through the API; each hash it reports must be the one signed."""
    for statement, digest in zip(election.statements, election.hashes, strict=True):
        stored = api.post(TEXTS_PATH, {"text": statement})
        expected = "0x" + digest.hex()
        if str(stored.get("hash", "")).lower() != expected:
            raise AdminRefused(
                f"the API at {api.api_url} stored a statement under hash {stored.get('hash')}, "
                f"not its keccak256 {expected}; nothing was signed"
            )
