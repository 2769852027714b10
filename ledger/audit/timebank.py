"""Time-bank balances rebuilt from the service records in the calldata and the events, with
both sides' signatures re-verified, the replay window, the limits and zero-sum re-checked.

Each relayed record is judged as TimeBank judges it (ZeroMinutes, SameParty, each side's
signature — the member themself, on the roll; for the community's side a coordinator who is not
the other party — then the nonce window and the limits) and the judgement must match the event
(ServiceRecorded, or ServiceSkipped naming the same error). Each recording call's
ServiceBatchCommitted must carry the next batch id and the hash of the ids it recorded, in order,
rebuilt here. A reversal must reverse a record that was recorded with exactly these fields, once,
signed by both sides of it, each member side on the roll, and its batch proof must hold against
the rebuilt commitment.
"""

from __future__ import annotations

from typing import Any, Final

from ledger.audit import rotation
from ledger.audit.abi import event_of
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.ethcodec import recover_compact, to_hex
from ledger.audit.fetch import Log
from ledger.audit.state import INT64_MAX, INT64_MIN, Service, TimeBankBook
from ledger.hashing import keccak
from ledger.protocol.generated import Events, ServiceRecord
from ledger.signing.digests import service_record_hash, service_reversal_hash, typed_digest

# Read for every log of a recording call: a module global is cheaper than an attribute.
SERVICE_RECORDED: Final = Events.ServiceRecorded.topic
SERVICE_SKIPPED: Final = Events.ServiceSkipped.topic
BATCH_COMMITTED: Final = Events.ServiceBatchCommitted.topic
RECORDED_LOG: Final = event_of(Events.ServiceRecorded)
COMMITTED_LOG: Final = event_of(Events.ServiceBatchCommitted)
SKIPPED_LOG: Final = event_of(Events.ServiceSkipped)
COMMUNITY: Final = bytes(20)
WINDOW: Final = 128
NONCE_LIMIT: Final = 2**32 - 1  # nonceBase is 32 bits in the account word
RULE_FOR_ERROR: Final = {
    "WrongSigner": "timebank.signature",
    "NotCoordinator": "timebank.signature",
    "CoordinatorIsParty": "timebank.signature",
    "NotResident": "timebank.resident",
    "KeyRetired": "timebank.resident",
    "NonceAlreadyUsed": "timebank.nonce",
    "NonceTooFarAhead": "timebank.nonce",
    "BelowFloor": "timebank.limit",
    "AboveCeiling": "timebank.limit",
    "ZeroMinutes": "timebank.record_event",
    "SameParty": "timebank.record_event",
}


def batch_root(record_ids: list[bytes]) -> bytes:
    """TimeBank's commitment to a recording call: keccak256 of its record ids, in order."""
    return keccak(b"".join(record_ids))


def record_id(cid: int, record: tuple[Any, ...]) -> bytes:
    """A ServiceRecord's id (its EIP-712 struct hash) from its fields in the struct's order."""
    provider, recipient, minutes, category, note, nonce = record
    return service_record_hash(
        cid, addr(provider), addr(recipient), minutes, bytes(category), bytes(note), nonce
    )


def id_of(cid: int, record: dict[str, Any]) -> bytes:
    """The id of a record read by name: a call's ServiceRecord and a ServiceRecorded event name
    its fields alike."""
    return record_id(cid, tuple(record[name] for name in ServiceRecord._fields))


def _digest(ctx: Ctx, struct_hash: bytes) -> bytes:
    return typed_digest(ctx.timebank_domain, struct_hash)


def _side(
    ctx: Ctx,
    cid: int,
    party: bytes,
    other: bytes,
    digest: bytes,
    sig: dict[str, Any],
    require_resident: bool,
) -> str | None:
    signer, low_s = recover_compact(digest, bytes(sig["r"]), bytes(sig["vs"]))
    signer = signer if low_s and signer is not None else COMMUNITY
    community = ctx.state.communities.get(cid)
    if party == COMMUNITY:
        if signer == COMMUNITY or community is None or not community.has("COORDINATOR", signer):
            return "NotCoordinator"
        if signer == other:
            return "CoordinatorIsParty"
        return None
    if signer != party:
        return "WrongSigner"
    if require_resident and (community is None or not community.resident_now(party)):
        return "KeyRetired" if rotation.retired_replacement(ctx, cid, party) else "NotResident"
    return None


def _roll_version(ctx: Ctx, cid: int) -> int:
    community = ctx.state.communities.get(cid)
    return community.roll_version if community is not None else 0


def _move(book: TimeBankBook, creditor: bytes, debtor: bytes, minutes: int) -> str | None:
    credited = book.balances.get(creditor, 0) + minutes
    if credited > (INT64_MAX if creditor == COMMUNITY else book.ceiling):
        return "AboveCeiling"
    debited = book.balances.get(debtor, 0) - minutes
    if debited < (INT64_MIN if debtor == COMMUNITY else book.floor):
        return "BelowFloor"
    book.balances[creditor] = credited
    book.balances[debtor] = debited
    return None


def _judge(ctx: Ctx, cid: int, item: dict[str, Any]) -> tuple[str | None, bytes]:
    """(the error TimeBank would give, or None once applied to the books; the record id)."""
    record, provider_sig, recipient_sig = item["record"], item["providerSig"], item["recipientSig"]
    provider, recipient = addr(record["provider"]), addr(record["recipient"])
    minutes, nonce = int(record["minutesServed"]), int(record["nonce"])
    rid = id_of(cid, record)
    if minutes == 0:
        return "ZeroMinutes", rid
    if provider == recipient:
        return "SameParty", rid
    digest = _digest(ctx, rid)
    error = _side(ctx, cid, provider, recipient, digest, provider_sig, True) or _side(
        ctx, cid, recipient, provider, digest, recipient_sig, True
    )
    if error:
        return error, rid
    book = ctx.state.timebank(cid)
    base = book.nonce_base(provider)
    if book.nonce_used(provider, nonce):
        return "NonceAlreadyUsed", rid
    if nonce - base >= WINDOW or nonce >= NONCE_LIMIT:
        return "NonceTooFarAhead", rid
    error = _move(book, provider, recipient, minutes)
    if error:
        return error, rid
    book.use_nonce(provider, nonce)
    book.stamp(_roll_version(ctx, cid), provider, recipient)
    book.services[rid] = Service(rid, recipient, minutes)
    book.by_nonce[(provider, nonce)] = rid
    book.recorded += 1
    return None, rid


def record_services(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    cid = int(args["communityId"])
    items = [args["item"]] if fn == "recordService" else list(args["items"])
    logs = [log for log in call.logs if log.topics[:1] in ([SERVICE_RECORDED], [SERVICE_SKIPPED])]
    commits = [log for log in call.logs if log.topics[:1] == [BATCH_COMMITTED]]
    others = len(call.logs) - len(logs) - len(commits)
    landed: list[bytes] = []
    if others or len(logs) != len(items):
        ctx.find(
            "timebank.record_event",
            call,
            f"{len(items)} record events",
            f"{len(logs)} (+{others} others)",
            f"{fn} in community {cid}",
        )
    for i, item in enumerate(items):
        error, rid = _judge(ctx, cid, item)
        log = logs[i] if i < len(logs) else None
        if log is None:
            continue
        recorded = log.topics[0] == SERVICE_RECORDED
        record = item["record"]
        said = (RECORDED_LOG if recorded else SKIPPED_LOG).decode(log.topics, log.data)
        if recorded:
            landed.append(rid)
            fields = ("provider", "recipient", "minutesServed", "nonce")
            if [said[f] for f in fields] != [record[f] for f in fields]:
                ctx.find(
                    "timebank.record_event",
                    call,
                    f"record {i} as submitted",
                    "other fields",
                    f"ServiceRecorded differs from record {i} of the {fn} call",
                )
            if error is not None:
                ctx.find(
                    RULE_FOR_ERROR.get(error, "timebank.record_event"),
                    call,
                    f"skipped ({error})",
                    "recorded",
                    f"service {to_hex(rid)} recorded though the rules refuse it as {error}",
                )
        else:
            reason = bytes(said["reason"])[:4]  # the custom error's selector
            named = ctx.error_names.get(bytes(reason), to_hex(bytes(reason)))
            if error is None:
                ctx.find(
                    "timebank.record_event",
                    call,
                    "recorded",
                    f"skipped ({named})",
                    f"service {to_hex(rid)} skipped though the rules accept it",
                )
            elif named != error:
                ctx.find(
                    "timebank.record_event",
                    call,
                    f"skipped ({error})",
                    f"skipped ({named})",
                    f"service {to_hex(rid)} skipped for another reason",
                )
    _check_commit(ctx, call, cid, landed, commits, call.logs[-1:] == commits[-1:])
    ctx.state.bump("service_records_checked", len(items))


def _check_commit(
    ctx: Ctx, call: Call, cid: int, landed: list[bytes], commits: list[Log], last: bool
) -> None:
    """A call that recorded anything commits, as its last event, to exactly what it recorded
    under the next batch id; one that recorded nothing commits nothing. The audit keeps its
    own root, so a reversal is judged against what was recorded, not against what was said."""
    if not landed:
        if commits:
            ctx.find(
                "timebank.batch",
                call,
                "no commitment",
                f"{len(commits)} ServiceBatchCommitted",
                f"a recording call in community {cid} that recorded nothing committed a batch",
            )
        return
    batch_id = max(ctx.state.timebank_batches, default=0) + 1
    root = batch_root(landed)
    ctx.state.timebank_batches[batch_id] = root
    expected = f"batch {batch_id}: {to_hex(root)} ({len(landed)} ids), last event"
    if len(commits) != 1 or not last:
        ctx.find(
            "timebank.batch",
            call,
            expected,
            f"{len(commits)} ServiceBatchCommitted",
            f"a recording call in community {cid} did not commit its records once, last",
        )
        return
    said = COMMITTED_LOG.decode(commits[0].topics, commits[0].data)
    found = (
        int(said["communityId"]),
        int(said["batchId"]),
        bytes(said["root"]),
        int(said["count"]),
    )
    if found != (cid, batch_id, root, len(landed)):
        ctx.find(
            "timebank.batch",
            call,
            expected,
            f"community {found[0]}, batch {found[1]}: {to_hex(found[2])} ({found[3]} ids)",
            "ServiceBatchCommitted differs from the records the call recorded",
        )


def reverse_service(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    cid = int(args["communityId"])
    original = args["original"]
    provider, recipient = addr(original["provider"]), addr(original["recipient"])
    minutes = int(original["minutesServed"])
    rid = id_of(cid, original)
    reason_hash = bytes(args["reasonHash"])
    digest = _digest(ctx, service_reversal_hash(rid, reason_hash))
    book = ctx.state.timebank(cid)
    events = [log for log in call.logs if log.topics[:1] != []]
    if len(events) != 1:
        ctx.find(
            "timebank.reversal",
            call,
            "one ServiceReversed",
            len(events),
            "reverseService emitted other events than one reversal",
        )
    error = _side(ctx, cid, provider, recipient, digest, args["providerSig"], True) or _side(
        ctx, cid, recipient, provider, digest, args["recipientSig"], True
    )
    if error:
        ctx.find(
            RULE_FOR_ERROR[error],
            call,
            "both sides' signatures, members on the roll",
            error,
            f"reversal of {to_hex(rid)} without both residents' consent",
        )
    proof = args["proof"]
    _check_proof(ctx, call, rid, (proof["batchId"], proof["recordIds"], proof["index"]))
    service = book.services.get(rid)
    if service is None:
        recorded_id = book.by_nonce.get((provider, int(original["nonce"])))
        ctx.find(
            "timebank.reversal",
            call,
            to_hex(recorded_id) if recorded_id else "a recorded service",
            to_hex(rid),
            f"reversal of a service that was never recorded with these fields "
            f"(provider {to_hex(provider)}, nonce {int(original['nonce'])})",
        )
    elif service.reversed:
        ctx.find(
            "timebank.reversal",
            call,
            "reversed at most once",
            "reversed again",
            f"service {to_hex(rid)} reversed twice",
        )
    else:
        service.reversed = True
    # A reversal is the original with the sides swapped; the limits apply to it as to any record.
    limit = _move(book, recipient, provider, minutes)
    if limit:
        ctx.find(
            "timebank.limit",
            call,
            "within the limits",
            limit,
            f"reversal of {to_hex(rid)} takes a balance past its limit",
        )
        book.balances[recipient] = book.balances.get(recipient, 0) + minutes
        book.balances[provider] = book.balances.get(provider, 0) - minutes
    book.reversals += 1


def _check_proof(ctx: Ctx, call: Call, rid: bytes, proof: tuple[Any, Any, Any]) -> None:
    """The reversal's batch proof (batch id, record ids, index) against the root the audit
    rebuilt (not the chain's word)."""
    batch_id, ids, index = int(proof[0]), [bytes(i) for i in proof[1]], int(proof[2])
    root = ctx.state.timebank_batches.get(batch_id)
    if root is None or batch_root(ids) != root:
        ctx.find(
            "timebank.reversal",
            call,
            to_hex(root) if root else f"a committed batch {batch_id}",
            to_hex(batch_root(ids)),
            f"reversal of {to_hex(rid)} with record ids that are not batch {batch_id}'s",
        )
    elif index >= len(ids) or ids[index] != rid:
        ctx.find(
            "timebank.reversal",
            call,
            to_hex(rid),
            to_hex(ids[index]) if index < len(ids) else f"index {index} of {len(ids)}",
            f"reversal of {to_hex(rid)}: not the record at index {index} of batch {batch_id}",
        )


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    """Events not covered by a decoded record/reversal call."""
    fn, _, name, ev = e
    cid = int(ev.get("communityId", 0))
    if name == "LimitsSet":
        setter = addr(ev["setBy"])
        ctx.actor_is(call, setter, name)
        community = ctx.state.communities.get(cid)
        if community is None or community.admin != setter:
            ctx.find(
                "timebank.limit",
                call,
                "the community admin",
                setter,
                f"community {cid}'s limits set by an account that is not its admin",
            )
        floor, ceiling = int(ev["floor"]), int(ev["ceiling"])
        if floor > 0 or ceiling < 0:
            ctx.find(
                "timebank.limit",
                call,
                "floor <= 0 <= ceiling",
                f"{floor}..{ceiling}",
                f"community {cid}'s limits do not include zero",
            )
        book = ctx.state.timebank(cid)
        book.floor, book.ceiling = floor, ceiling
        return
    if name == "BalanceCarriedOver":
        rotation.carried_over(ctx, call, fn, ev)
        return
    if fn is not None:
        ctx.find(
            "event.unexplained",
            call,
            "emitted by its own function",
            f"{name} from {fn}",
            f"{name} emitted by a call that does not emit it",
        )
        return
    # The call could not be decoded (traced from another contract): events alone.
    book = ctx.state.timebank(cid)
    if name == "ServiceRecorded":
        provider, recipient = addr(ev["provider"]), addr(ev["recipient"])
        minutes, nonce = int(ev["minutesServed"]), int(ev["nonce"])
        rid = id_of(cid, ev)
        if book.nonce_used(provider, nonce):
            ctx.find(
                "timebank.nonce", call, "an unused nonce", nonce, f"service {to_hex(rid)} replayed"
            )
        error = _move(book, provider, recipient, minutes)
        if error:
            ctx.find(
                "timebank.limit",
                call,
                "within the limits",
                error,
                f"service {to_hex(rid)} takes a balance past its limit",
            )
            book.balances[provider] = book.balances.get(provider, 0) + minutes
            book.balances[recipient] = book.balances.get(recipient, 0) - minutes
        book.use_nonce(provider, nonce)
        book.stamp(_roll_version(ctx, cid), provider, recipient)
        book.services[rid] = Service(rid, recipient, minutes)
        book.by_nonce[(provider, nonce)] = rid
        book.recorded += 1
        ctx.warn("timebank", call, f"service {to_hex(rid)}: signatures not re-verified")
    elif name == "ServiceBatchCommitted":
        _commit_from_events(ctx, call, cid, log)
    elif name == "ServiceReversed":
        provider, recipient = addr(ev["provider"]), addr(ev["recipient"])
        rid, minutes = bytes(ev["recordId"]), int(ev["minutesServed"])
        service = book.services.get(rid)
        if service is None or service.reversed:
            ctx.find(
                "timebank.reversal",
                call,
                "a recorded, unreversed service",
                to_hex(rid),
                "reversal of an unknown or already reversed service",
            )
        else:
            service.reversed = True
        book.balances[recipient] = book.balances.get(recipient, 0) + minutes
        book.balances[provider] = book.balances.get(provider, 0) - minutes
        ctx.warn("timebank", call, f"reversal of {to_hex(rid)}: signatures not re-verified")


def _commit_from_events(ctx: Ctx, call: Call, cid: int, log: Log) -> None:
    """An undecoded call's commitment: its ids are those of the ServiceRecorded events of the
    call since its previous commitment (or its start)."""
    before = call.logs[: call.logs.index(log)]
    landed: list[bytes] = []
    for earlier in before:
        if earlier.address != log.address:
            continue
        if earlier.topics[:1] == [BATCH_COMMITTED]:
            landed = []
        elif earlier.topics[:1] == [SERVICE_RECORDED]:
            landed.append(id_of(cid, RECORDED_LOG.decode(earlier.topics, earlier.data)))
    _check_commit(ctx, call, cid, landed, [log], True)


def final_checks(ctx: Ctx, block: int) -> None:
    for cid, book in ctx.state.timebanks.items():
        total = sum(book.balances.values())
        if total != 0:
            ctx.find(
                "timebank.sum",
                None,
                0,
                total,
                f"community {cid}'s time-bank balances do not sum to zero",
                block=block,
            )
