"""The secret-ballot audit: every secret vote rebuilt from ISecretBallot's events and the
calldata of the calls that emitted them, and every rule the contract skips or trusts checked
again off-chain with ledger.secret: the trustees' keys, deals, complaints and answers (each
answer's Feldman check redone), the qualified set, election key and verification keys; every
counted ballot's window, signature, roll membership, single use and proofs; the aggregate
re-derived from the counted, non-voided ballots; every batch hash, challenge and partial
decryption; the finalized tally decrypted again. An invalid ballot still counted when the vote
is finalized is named (rule secret.proof): nobody challenged it in its window."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.fetch import Log
from ledger.audit.state import SecretVote
from ledger.hashing import keccak
from ledger.protocol.generated import Constants, Domains, SecretDisqualifyReason, Types
from ledger.secret import ballot as secret_ballot
from ledger.secret import dkg
from ledger.secret import tally as secret_tally
from ledger.secret.errors import SecretBallotError
from ledger.secret.group import G, Point, R
from ledger.secret.transcript import VoteContext
from ledger.signing.digests import domain_separator
from ledger.signing.eip712 import recover_compact

MAX_OPTIONS: Final = Constants.MAX_SECRET_OPTIONS
MAX_TRUSTEES: Final = Constants.MAX_TRUSTEES
ROLL_SNAPSHOT_LIFETIME: Final = Constants.ROLL_SNAPSHOT_LIFETIME


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    handler = _HANDLERS.get(e.name)
    if handler is not None:
        handler(ctx, call, e)


def _vote(ctx: Ctx, call: Call, e: Emitted, rule: str) -> SecretVote | None:
    vid = int(e.ev["voteId"])
    vote = ctx.state.secret_votes.get(vid)
    if vote is None:
        ctx.find(rule, call, "an opened secret vote", vid, f"{e.name} for no secret vote")
    return vote


def _point(words: Sequence[int]) -> Point:
    return Point.from_words(int(words[0]), int(words[1]))


def _points(words: Sequence[int]) -> list[Point]:
    return [_point(words[w : w + 2]) for w in range(0, len(words), 2)]


def _context(ctx: Ctx, vid: int) -> VoteContext:
    return VoteContext(ctx.chain_id, int.from_bytes(ctx.contracts["secret"], "big"), vid)


# ------------------------------------------------------------------------------- opening


def _params_fault(p: dict[str, Any], timestamp: int) -> str | None:
    options, threshold = int(p["optionCount"]), int(p["threshold"])
    trustees = [addr(t) for t in p["trustees"]]
    if not 2 <= options <= MAX_OPTIONS:
        return f"{options} options"
    if not 1 <= threshold <= len(trustees) <= MAX_TRUSTEES:
        return f"{threshold} of {len(trustees)} trustees"
    if len(set(trustees)) != len(trustees) or bytes(20) in trustees:
        return "a repeated or zero trustee"
    times = [int(p[k]) for k in ("keysBy", "dealsBy", "complaintsBy", "answersBy", "opensAt")]
    closes, until = int(p["closesAt"]), int(p["challengesUntil"])
    ordered = all(a <= b for a, b in pairwise(times))
    if not (
        timestamp < times[0]
        and ordered
        and times[-1] < closes < until
        and closes <= timestamp + ROLL_SNAPSHOT_LIFETIME
    ):
        return f"schedule {[*times, closes, until]} at time {timestamp}"
    return None


def vote_opened(ctx: Ctx, call: Call, e: Emitted) -> None:
    state, ev = ctx.state, e.ev
    vid, cid, opener = int(ev["voteId"]), int(ev["communityId"]), addr(ev["opener"])
    p = ev["params"]
    ctx.actor_is(call, opener, "SecretVoteOpened")
    if vid != len(state.secret_votes) + 1:
        ctx.find("secret.vote", call, len(state.secret_votes) + 1, vid, "ids out of order")
    community = state.communities.get(cid)
    if community is None or not community.has("COMMITTEE", opener):
        ctx.find(
            "secret.vote",
            call,
            "a COMMITTEE member",
            opener,
            f"secret vote {vid} opened by an account outside its community's committee",
        )
    fault = _params_fault(p, call.timestamp)
    if fault:
        ctx.find("secret.vote", call, "valid parameters", fault, f"secret vote {vid}")
    version, size = int(ev["rollVersion"]), int(ev["rollSize"])
    if community is not None and (version, size) != (community.roll_version, community.roll_size):
        ctx.find(
            "secret.vote",
            call,
            f"roll v{community.roll_version} of {community.roll_size}",
            f"roll v{version} of {size}",
            f"secret vote {vid} snapshots another roll than the published one",
        )
    options = int(p["optionCount"])
    state.secret_votes[vid] = SecretVote(
        id=vid,
        community=cid,
        options=options,
        question=bytes(p["questionHash"]),
        trustees=[addr(t) for t in p["trustees"]],
        threshold=int(p["threshold"]),
        schedule=[
            int(p[k])
            for k in (
                "keysBy",
                "dealsBy",
                "complaintsBy",
                "answersBy",
                "opensAt",
                "closesAt",
                "challengesUntil",
            )
        ],
        roll_version=version,
        aggregate=[0] * (4 * options),
    )


# ------------------------------------------------------------------------------- key generation

# Index of each deadline in SecretVote.schedule.
KEYS, DEALS, COMPLAINTS, ANSWERS, OPENS, CLOSES, CHALLENGES = range(7)


def _trustee_step(
    ctx: Ctx, call: Call, e: Emitted, vote: SecretVote, k: int, window: tuple[int, int]
) -> bool:
    """The step's trustee exists and took it itself, in its window (False: findings made)."""
    if not 1 <= k <= len(vote.trustees):
        ctx.find("secret.dkg", call, "a trustee number", k, f"{e.name}, secret vote {vote.id}")
        return False
    ctx.actor_is(call, vote.trustees[k - 1], e.name)
    start, end = (vote.schedule[w] if w >= 0 else 0 for w in window)
    if not start <= call.timestamp < end or vote.key_state != "pending":
        ctx.find(
            "secret.dkg",
            call,
            f"within {start}..{end}, before the key is fixed",
            call.timestamp,
            f"{e.name} of trustee {k}, secret vote {vote.id}",
        )
    return True


def key_registered(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.dkg")
    k = int(e.ev["trustee"])
    if vote is None or not _trustee_step(ctx, call, e, vote, k, (-1, KEYS)):
        return
    key = [int(w) for w in e.ev["key"]]
    try:
        if _point(key).is_infinity():
            raise ValueError("infinity")
    except (SecretBallotError, ValueError):
        ctx.find("secret.dkg", call, "a point other than infinity", key, f"key of trustee {k}")
    if k in vote.keys:
        ctx.find("secret.dkg", call, "one key", "a second", f"trustee {k}, vote {vote.id}")
    vote.keys[k] = key


def shares_dealt(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.dkg")
    k = int(e.ev["dealer"])
    if vote is None or not _trustee_step(ctx, call, e, vote, k, (KEYS, DEALS)):
        return
    commitments = [int(w) for w in e.ev["commitments"]]
    fault = None
    if k not in vote.keys or k in vote.commitments:
        fault = "a deal without a key, or a second deal"
    elif len(commitments) != 2 * vote.threshold or len(e.ev["encryptedShares"]) != len(
        vote.trustees
    ):
        fault = f"{len(commitments)} commitment words"
    else:
        try:
            _points(commitments)
        except SecretBallotError as exc:
            fault = str(exc)
    if fault:
        ctx.find("secret.dkg", call, "a valid deal", fault, f"dealer {k}, vote {vote.id}")
    vote.commitments[k] = commitments


def deal_complained(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.dkg")
    dealer, accuser = int(e.ev["dealer"]), int(e.ev["accuser"])
    if vote is None or not _trustee_step(ctx, call, e, vote, accuser, (DEALS, COMPLAINTS)):
        return
    if dealer not in vote.commitments or dealer == accuser:
        ctx.find("secret.dkg", call, "a dealer that dealt", dealer, f"complaint of {accuser}")
    vote.complaints.append([dealer, accuser])


def complaint_answered(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.dkg")
    ev = e.ev
    dealer, accuser, share = int(ev["dealer"]), int(ev["accuser"]), int(ev["share"])
    if vote is None or not _trustee_step(ctx, call, e, vote, dealer, (COMPLAINTS, ANSWERS)):
        return
    if [dealer, accuser] not in vote.complaints or any(
        a[:2] == [dealer, accuser] for a in vote.answers
    ):
        ctx.find("secret.dkg", call, "an open complaint", [dealer, accuser], "answer")
    commitments = vote.commitments.get(dealer, [])
    valid = share < R and bool(commitments)
    valid = valid and dkg.share_is_valid(share, accuser, _points(commitments))
    if valid != bool(ev["valid"]):
        ctx.find(
            "secret.dkg",
            call,
            valid,
            bool(ev["valid"]),
            f"the Feldman check of dealer {dealer}'s answer to {accuser}, vote {vote.id}",
        )
    vote.answers.append([dealer, accuser, int(valid)])


def trustee_disqualified(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.dkg")
    if vote is not None:
        vote.disqualified[int(e.ev["trustee"])] = int(e.ev["reason"])


def _expected_qualified(vote: SecretVote) -> tuple[list[int], dict[int, int]]:
    """The qualified trustees and each other's reason, by ISecretBallot's rules."""
    qualified, reasons = [], {}
    for k in range(1, len(vote.trustees) + 1):
        answered = {(a[0], a[1]) for a in vote.answers}
        if any(a[0] == k and not a[2] for a in vote.answers):
            reasons[k] = SecretDisqualifyReason.BadAnswer
        elif k not in vote.keys:
            reasons[k] = SecretDisqualifyReason.NoKey
        elif k not in vote.commitments:
            reasons[k] = SecretDisqualifyReason.NoDeal
        elif any(c[0] == k and (c[0], c[1]) not in answered for c in vote.complaints):
            reasons[k] = SecretDisqualifyReason.NoAnswer
        else:
            qualified.append(k)
    return qualified, {k: int(r) for k, r in reasons.items()}


def _key_closed(ctx: Ctx, call: Call, e: Emitted) -> SecretVote | None:
    vote = _vote(ctx, call, e, "secret.dkg")
    if vote is None:
        return None
    if call.timestamp < vote.schedule[ANSWERS] or vote.key_state != "pending":
        ctx.find("secret.dkg", call, "once, after answersBy", call.timestamp, e.name)
    qualified, reasons = _expected_qualified(vote)
    if reasons != vote.disqualified:
        ctx.find("secret.dkg", call, reasons, vote.disqualified, f"disqualified, vote {vote.id}")
    vote.qualified = qualified
    return vote


def key_generated(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _key_closed(ctx, call, e)
    if vote is None:
        return
    vote.key_state = "fixed"
    q = vote.qualified or []
    bits = sum(1 << k for k in q)
    if bits != int(e.ev["qualified"]) or len(q) < vote.threshold:
        ctx.find("secret.dkg", call, bits, int(e.ev["qualified"]), f"qualified, vote {vote.id}")
    commitments = {k: _points(vote.commitments[k]) for k in q}
    key = dkg.election_key(commitments, q)
    found = [int(w) for w in e.ev["electionKey"]]
    if list(key.words()) != found:
        ctx.find("secret.dkg", call, list(key.words()), found, f"election key, vote {vote.id}")
    vote.key = list(key.words())
    emitted = [int(w) for w in e.ev["verificationKeys"]]
    for k in q:
        expected = list(dkg.verification_key(commitments, q, k).words())
        if emitted[2 * k - 2 : 2 * k] != expected:
            ctx.find("secret.dkg", call, expected, emitted[2 * k - 2 : 2 * k], f"Y_{k}")
        vote.verification_keys[k] = expected


def key_generation_failed(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _key_closed(ctx, call, e)
    if vote is None:
        return
    vote.key_state = "failed"
    q = vote.qualified or []
    at_infinity = (
        len(q) >= vote.threshold
        and dkg.election_key({k: _points(vote.commitments[k]) for k in q}, q).is_infinity()
    )
    if (len(q) >= vote.threshold and not at_infinity) or len(q) != int(e.ev["qualifiedCount"]):
        ctx.find("secret.dkg", call, len(q), int(e.ev["qualifiedCount"]), "a failed key")


# ------------------------------------------------------------------------------- ballots


def _struct_hash(vid: int, voter: bytes, words: Sequence[int]) -> bytes:
    ballot_hash = keccak(b"".join(int(w).to_bytes(32, "big") for w in words))
    return keccak(
        Types.SecretBallot.typehash + vid.to_bytes(32, "big") + bytes(12) + voter + ballot_hash
    )


def _relayed(ctx: Ctx, e: Emitted, voter: bytes, ballot_hash: bytes) -> list[int] | str:
    """The words of the relayed ballot behind this event if its voter signed it, else why not."""
    if e.args is None:
        return "a call that could not be decoded"
    if e.fn != "castSecretBallots":
        return f"a ballot counted by {e.fn}, which takes no ballots"
    separator = domain_separator(*Domains.SecretBallot, ctx.chain_id, ctx.contracts["secret"])
    vid = int(e.ev["voteId"])
    for b in e.args["ballots"]:
        words = [int(w) for w in b["words"]]
        if addr(b["voter"]) != voter:
            continue
        if keccak(b"".join(w.to_bytes(32, "big") for w in words)) != ballot_hash:
            continue
        digest = keccak(b"\x19\x01" + separator + _struct_hash(vid, voter, words))
        signer = recover_compact(digest, bytes(b["r"]), int.from_bytes(bytes(b["vs"]), "big"))
        if signer == voter:
            return words
    return "no ballot in the call signed by the voter with these words"


def _proofs_hold(ctx: Ctx, vote: SecretVote, voter: bytes, words: Sequence[int]) -> bool:
    statement = secret_ballot.BallotStatement(
        _context(ctx, vote.id),
        _point(vote.key),
        int.from_bytes(voter, "big"),
        int.from_bytes(vote.question, "big"),
        vote.options,
    )
    try:
        return secret_ballot.verify(statement, secret_ballot.parse_ballot(words, vote.options))
    except (SecretBallotError, ValueError):
        return False


def _add_ciphertexts(aggregate: list[int], words: Sequence[int], sign: int) -> list[int]:
    out = []
    for w in range(0, len(aggregate), 2):
        term = _point(words[w : w + 2])
        total = _point(aggregate[w : w + 2]) + (term if sign > 0 else -term)
        out += list(total.words())
    return out


def ballot_cast(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.ballot")
    if vote is None:
        return
    voter, ballot_hash = addr(e.ev["voter"]), bytes(e.ev["ballotHash"])
    fault = None
    opens, closes = vote.schedule[OPENS], vote.schedule[CLOSES]
    member = ctx.state.communities[vote.community].members.get(voter)
    if vote.key_state != "fixed" or not opens <= call.timestamp < closes:
        fault = f"cast at {call.timestamp}, outside {opens}..{closes} or before the key"
    elif member is None or not member.member_at(vote.roll_version):
        fault = f"voter not on roll v{vote.roll_version}"
    elif voter in vote.voted:
        fault = "a second ballot of the voter"
    relayed = _relayed(ctx, e, voter, ballot_hash)
    if isinstance(relayed, str):
        fault = fault or relayed
    if fault:
        ctx.find("secret.ballot", call, "a valid ballot", fault, f"secret vote {vote.id}")
    vote.voted.add(voter)
    ctx.state.bump("secret_ballots")
    if isinstance(relayed, str) or len(relayed) != 7 * vote.options + 2:
        return
    try:
        vote.aggregate = _add_ciphertexts(vote.aggregate, relayed[: 4 * vote.options], 1)
    except SecretBallotError as exc:
        ctx.find("secret.ballot", call, "points of G1", str(exc), f"secret vote {vote.id}")
        return
    struct_hash = _struct_hash(vote.id, voter, relayed)
    valid = _proofs_hold(ctx, vote, voter, relayed)
    vote.ballots[struct_hash] = [voter, int(valid), relayed[: 4 * vote.options]]
    vote.counted += 1
    vote.batch.append(struct_hash)


def ballot_skipped(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = ctx.state.secret_votes.get(int(e.ev["voteId"]))
    if vote is not None:
        vote.skipped += 1


def batch_recorded(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.ballot")
    if vote is None:
        return
    expected = keccak(b"".join(vote.batch))
    found = bytes(e.ev["batchHash"])
    if expected != found or int(e.ev["count"]) != len(vote.batch):
        ctx.find("secret.ballot", call, expected, found, f"batch hash, vote {vote.id}")
    vote.batches.append(list(vote.batch))
    vote.batch = []


def ballot_voided(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.challenge")
    if vote is None:
        return
    voter, batch, position = addr(e.ev["voter"]), int(e.ev["batch"]), int(e.ev["position"])
    closes, until = vote.schedule[CLOSES], vote.schedule[CHALLENGES]
    entries = vote.batches[batch] if batch < len(vote.batches) else []
    struct_hash = entries[position] if position < len(entries) else None
    record = vote.ballots.get(struct_hash) if struct_hash is not None else None
    if struct_hash is None or record is None or record[0] != voter or struct_hash in vote.voided:
        ctx.find("secret.challenge", call, "a counted ballot", [batch, position], "voided")
        return
    if not closes <= call.timestamp < until or record[1]:
        ctx.find(
            "secret.challenge",
            call,
            f"an invalid ballot, voided within {closes}..{until}",
            f"valid={bool(record[1])} at {call.timestamp}",
            f"secret vote {vote.id}",
        )
    vote.voided.add(struct_hash)
    vote.counted -= 1
    vote.aggregate = _add_ciphertexts(vote.aggregate, record[2], -1)


# ------------------------------------------------------------------------------- the tally


def partial_published(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.partial")
    if vote is None:
        return
    k, words = int(e.ev["trustee"]), [int(w) for w in e.ev["partials"]]
    if not 1 <= k <= len(vote.trustees):
        ctx.find("secret.partial", call, "a trustee number", k, f"vote {vote.id}")
        return
    ctx.actor_is(call, vote.trustees[k - 1], e.name)
    if k not in (vote.qualified or []) or call.timestamp < vote.schedule[CHALLENGES]:
        ctx.find("secret.partial", call, "a qualified trustee after the challenges", k, "partial")
    context = _context(ctx, vote.id)
    key = vote.verification_keys.get(k)
    for j in range(vote.options):
        try:
            part = secret_tally.parse_partial(k, j, words[4 * j : 4 * j + 4])
            proven = key is not None and secret_tally.verify_partial(
                context, _point(key), _point(vote.aggregate[4 * j : 4 * j + 2]), part
            )
        except (SecretBallotError, ValueError):
            proven = False
        if not proven:
            ctx.find("secret.partial", call, "a proven partial", f"option {j}", f"trustee {k}")
    vote.partials[k] = [w for j in range(vote.options) for w in words[4 * j : 4 * j + 2]]


def vote_finalized(ctx: Ctx, call: Call, e: Emitted) -> None:
    vote = _vote(ctx, call, e, "secret.tally")
    if vote is None:
        return
    tally = [int(t) for t in e.ev["tally"]]
    vote.tally = tally
    used = sorted(vote.partials)[: vote.threshold]
    if sum(1 << k for k in used) != int(e.ev["used"]) or len(used) < vote.threshold:
        ctx.find("secret.tally", call, used, int(e.ev["used"]), f"trustees, vote {vote.id}")
    if call.timestamp < vote.schedule[CHALLENGES]:
        ctx.find("secret.tally", call, "after the challenges", call.timestamp, "finalized")
    if len(used) >= vote.threshold:
        for j in range(vote.options):
            shares = {k: _point(vote.partials[k][2 * j : 2 * j + 2]) for k in used}
            decrypted = secret_tally.combine(_point(vote.aggregate[4 * j + 2 : 4 * j + 4]), shares)
            if j >= len(tally) or decrypted != tally[j] * G:
                ctx.find("secret.tally", call, "the decryption", tally, f"option {j}")
    if sum(tally) != vote.counted:
        ctx.find("secret.tally", call, vote.counted, sum(tally), "ballots in the tally")
    for struct_hash, (voter, valid, _) in vote.ballots.items():
        if not valid and struct_hash not in vote.voided:
            ctx.find(
                "secret.proof",
                call,
                "proofs that hold, or a challenge",
                "an invalid ballot counted",
                f"secret vote {vote.id}: the ballot of {voter.hex()} was never challenged",
            )


def report_row(vote: SecretVote) -> dict[str, Any]:
    """A secret vote as the audit report lists it."""
    return {
        "id": vote.id,
        "community": vote.community,
        "options": vote.options,
        "trustees": len(vote.trustees),
        "threshold": vote.threshold,
        "qualified": vote.qualified,
        "key": vote.key_state,
        "ballots": vote.counted,
        "skipped": vote.skipped,
        "voided": len(vote.voided),
        "invalid_not_voided": sum(
            1 for h, b in vote.ballots.items() if not b[1] and h not in vote.voided
        ),
        "tally": vote.tally,
    }


_HANDLERS: Final = {
    "SecretVoteOpened": vote_opened,
    "CommunicationKeyRegistered": key_registered,
    "SharesDealt": shares_dealt,
    "DealComplained": deal_complained,
    "ComplaintAnswered": complaint_answered,
    "TrusteeDisqualified": trustee_disqualified,
    "KeyGenerated": key_generated,
    "KeyGenerationFailed": key_generation_failed,
    "SecretBallotCast": ballot_cast,
    "SecretBallotSkipped": ballot_skipped,
    "SecretBatchRecorded": batch_recorded,
    "SecretBallotVoided": ballot_voided,
    "PartialDecryptionPublished": partial_published,
    "SecretVoteFinalized": vote_finalized,
}
