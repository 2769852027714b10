"""The poll audit: every in-person ballot batch judged again from the PollOffice calldata (the
officer's EIP-712 signature, low s, and the officer holding POLL_OFFICER in the election's
community at that block), each ballot's InPersonBallotVouched or InPersonBallotRefused compared
with that judgement; the ballots vouched for are what the elections audit then accepts without a
voter's signature (ledger.audit.elections), so the recount includes them and one resident still
counts once across channels."""

from __future__ import annotations

from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.state import Election
from ledger.hashing import keccak
from ledger.protocol.generated import Domains, Events, PollSkipReason, Types
from ledger.signing.digests import domain_separator
from ledger.signing.eip712 import recover_compact

VOUCHED: Final = Events.InPersonBallotVouched.topic
REFUSED: Final = Events.InPersonBallotRefused.topic


def _digest(ctx: Ctx, eid: int, voter: bytes, choices: int, officer: bytes) -> bytes:
    separator = domain_separator(*Domains.PollOffice, ctx.chain_id, ctx.contracts["poll_office"])
    struct_hash = keccak(
        Types.InPersonBallot.typehash
        + eid.to_bytes(32, "big")
        + bytes(12)
        + voter
        + choices.to_bytes(32, "big")
        + bytes(12)
        + officer
    )
    return keccak(b"\x19\x01" + separator + struct_hash)


def _refusal(ctx: Ctx, el: Election, entry: Any) -> PollSkipReason | None:
    """Why the poll office must refuse this ballot (None: it vouches for it)."""
    voter, officer = addr(entry["voter"]), addr(entry["officer"])
    digest = _digest(ctx, el.id, voter, int(entry["choices"]), officer)
    signer = recover_compact(digest, bytes(entry["r"]), int.from_bytes(bytes(entry["vs"]), "big"))
    if signer is None:
        return PollSkipReason.MalleableOfficerSignature
    if signer != officer:
        return PollSkipReason.BadOfficerSignature
    if not ctx.state.communities[el.community].has("POLL_OFFICER", officer):
        return PollSkipReason.NotPollOfficer
    return None


def _said(log: Log) -> str:
    """What an event of the batch says of its ballot, in the words cast_in_person expects."""
    topic = log.topics[0] if log.topics else b""
    who = ""
    if len(log.topics) == 4:
        who = f"{to_hex(log.topics[2][12:])} by {to_hex(log.topics[3][12:])}"
    if topic == VOUCHED:
        return f"vouched {who}"
    if topic == REFUSED:
        return f"refused {who} ({PollSkipReason(int.from_bytes(log.data[:32], 'big')).name})"
    return to_hex(topic)


def cast_in_person(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """A PollOffice batch judged from its calldata: each ballot's officer signature and role."""
    eid = int(args["electionId"])
    el = ctx.state.elections.get(eid)
    if el is None:
        ctx.find("poll.in_person", call, "an existing election", eid, "in-person ballots")
        return
    entries = list(args["ballots"])
    own = [log for log in call.logs if log.topics[:1] in ([VOUCHED], [REFUSED])]
    if len(own) != len(entries):
        ctx.find(
            "poll.in_person",
            call,
            f"{len(entries)} InPersonBallotVouched/Refused events",
            len(own),
            f"election {eid}: one event per in-person ballot expected",
        )
    # Only this transaction's vouched ballots may be handed to Elections in it.
    el.vouched, el.vouched_tx = [], call.tx
    for entry, log in zip(entries, own, strict=False):
        reason = _refusal(ctx, el, entry)
        who = f"{to_hex(addr(entry['voter']))} by {to_hex(addr(entry['officer']))}"
        expected = f"vouched {who}" if reason is None else f"refused {who} ({reason.name})"
        found = _said(log)
        if found != expected:
            ctx.find(
                "poll.in_person",
                call,
                expected,
                found,
                f"election {eid}: an in-person ballot judged otherwise by the rules",
            )
        if reason is None:
            el.vouched.append((addr(entry["voter"]), int(entry["choices"])))
    ctx.state.bump("in_person_ballots_checked", len(entries))


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    """A PollOffice event outside a judged batch: untraced, there is no calldata to judge."""
    if e.fn is not None:
        ctx.find("event.unexplained", call, "castInPersonBallots", e.fn, f"{e.name} by {e.fn}")
    else:
        ctx.warn("poll_office", call, f"{e.name} without its calldata: not re-judged")
