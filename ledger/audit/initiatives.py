"""The initiatives recount: every initiative re-derived from its events and every co-signature
judged again from the `coSign` calldata, by IInitiatives' rules.

A relayed co-signature is judged in the contract's order: initiative still collecting (not
promoted, before `closesAt`), low-s EIP-712 signature by the named signer (the digest recomputed
here from the Initiatives domain, not the contract's), signer on the roll at the initiative's
snapshot (the roll rebuilt from RollUpdated/RollPublished), not counted before. The judgement
must match the event the contract emitted for it (CoSigned with that digest, or
CoSignatureSkipped with that reason). The batch whose recount reaches `needed` must promote the
initiative, and the council proposal it opened must be the one the initiative describes; a
proposal naming the Initiatives contract as proposer without a promotion is a finding too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from ledger.audit import recount
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.state import Initiative
from ledger.currency import is_currency_code
from ledger.protocol.generated import (
    BallotKind,
    CoSignatureSkipReason,
    Domains,
    Events,
    InitiativeRules,
)
from ledger.signing.digests import cosignature_digest, domain_separator
from ledger.signing.eip712 import recover_compact

Skip = CoSignatureSkipReason
BPS: Final = recount.BPS
LIFETIME: Final = recount.ROLL_SNAPSHOT_LIFETIME
COSIGNED: Final = Events.CoSigned.topic
COSIGNATURE_SKIPPED: Final = Events.CoSignatureSkipped.topic
PROMOTED: Final = Events.InitiativePromoted.topic
YES_NO_ABSTAIN_OPTIONS: Final = 3


def skip_name(value: int | None) -> str:
    if value is None:
        return "counted"
    try:
        return Skip(value).name
    except ValueError:
        return f"CoSignatureSkipReason({value})"


def _rules(value: Any) -> list[int]:
    """An InitiativeRules struct as decoded (by name or in order) to its fields in order."""
    if isinstance(value, dict):
        return [int(value[name]) for name in InitiativeRules._fields]
    return [int(v) for v in value]


def rules_fault(rules: list[int]) -> str | None:
    threshold, signing, voting, quorum, passing = rules
    if not 0 < threshold <= BPS:
        return f"threshold {threshold} basis points"
    if not (0 < signing <= LIFETIME and 0 < voting <= LIFETIME):
        return f"signing period {signing} s, voting period {voting} s"
    if quorum > BPS or not BPS // 2 <= passing < BPS:
        return f"quorum {quorum} / pass {passing} basis points"
    return None


def needed(threshold_bps: int, roll_size: int) -> int:
    return max(1, -(-threshold_bps * roll_size // BPS))


def _domain(ctx: Ctx) -> bytes:
    return domain_separator(*Domains.Initiatives, ctx.chain_id, ctx.contracts["initiatives"])


# ------------------------------------------------------------------------------ rules, submission


def rules_set(ctx: Ctx, call: Call, e: Emitted) -> None:
    cid, rules = int(e.ev["communityId"]), _rules(e.ev["rules"])
    setter = addr(e.ev["setBy"])
    ctx.actor_is(call, setter, "InitiativeRulesSet")
    community = ctx.state.communities.get(cid)
    if community is None or community.admin != setter:
        ctx.find(
            "initiative.rules",
            call,
            "the community's admin",
            setter,
            f"initiative rules of community {cid} set by someone other than its admin",
        )
    fault = rules_fault(rules)
    if fault:
        ctx.find("initiative.rules", call, "rules within bounds", fault, f"community {cid}'s rules")
    ctx.state.initiative_rules[cid] = rules


def submitted(ctx: Ctx, call: Call, e: Emitted) -> None:
    ev, state = e.ev, ctx.state
    iid, cid, author = int(ev["initiativeId"]), int(ev["communityId"]), addr(ev["author"])
    ctx.actor_is(call, author, "InitiativeSubmitted")

    def fault(expected: Any, found: Any, detail: str) -> None:
        ctx.find("initiative.submission", call, expected, found, f"initiative {iid}: {detail}")

    if iid != len(state.initiatives) + 1:
        fault(len(state.initiatives) + 1, iid, "initiatives are numbered sequentially from 1")
    community = state.communities.get(cid)
    rules = _rules(ev["rules"])
    version, size = int(ev["rollVersion"]), int(ev["rollSize"])
    if community is None:
        fault("an existing community", cid, "submitted to a community that does not exist")
    else:
        if (version, size) != (community.roll_version, community.roll_size):
            fault(
                f"roll v{community.roll_version} of {community.roll_size}",
                f"roll v{version} of {size}",
                "snapshots another roll than the published one",
            )
        if not community.resident_now(author):
            fault("a resident on the published roll", author, "submitted by a non-resident")
        if rules != state.initiative_rules.get(cid):
            fault(state.initiative_rules.get(cid), rules, "carries other rules than the admin set")
    if bytes(ev["textHash"]) == bytes(32):
        fault("a text hash", "none", "no text hash")
    budget, currency = int(ev["budgetAmount"]), bytes(ev["budgetCurrency"])
    if budget and not is_currency_code(currency):
        fault("an ISO 4217 code", currency, "budget without a currency")
    if int(ev["needed"]) != needed(rules[0], size):
        fault(needed(rules[0], size), int(ev["needed"]), "threshold not the share of its roll")
    if int(ev["closesAt"]) != call.timestamp + rules[1]:
        fault(call.timestamp + rules[1], int(ev["closesAt"]), "window not the signing period")
    state.initiatives[iid] = Initiative(
        id=iid,
        community=cid,
        author=author,
        text_hash=bytes(ev["textHash"]),
        budget_amount=budget,
        budget_currency=currency,
        roll_version=version,
        roll_size=size,
        needed=int(ev["needed"]),
        opens_at=call.timestamp,
        closes_at=int(ev["closesAt"]),
        rules=rules,
        opened_tx=call.tx,
    )


# ---------------------------------------------------------------------------------- co-signatures


def _judge(
    ctx: Ctx, item: Initiative, collecting: bool, separator: bytes, entry: Any
) -> tuple[int | None, bytes]:
    """(the skip reason the rules give this co-signature or None if it counts, its digest)."""
    signer = addr(entry["signer"])
    r, vs = bytes(entry["r"]), int.from_bytes(bytes(entry["vs"]), "big")
    digest = cosignature_digest(separator, item.id, signer)
    if not collecting:
        return Skip.InitiativeNotCollecting, digest
    recovered = recover_compact(digest, r, vs)
    if recovered is None:
        return Skip.MalleableSignature, digest
    if recovered != signer:
        return Skip.BadSignature, digest
    member = ctx.state.communities[item.community].members.get(signer)
    if member is None or not member.member_at(item.roll_version):
        return Skip.NotOnRoll, digest
    if signer in item.signed:
        return Skip.AlreadyCoSigned, digest
    return None, digest


def co_sign(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """A coSign call judged from its calldata: each co-signature, its event, the promotion."""
    iid = int(args["initiativeId"])
    item = ctx.state.initiatives.get(iid)
    here = ctx.contracts["initiatives"]
    own = [log for log in call.logs if log.address == here]
    _council_logs(ctx, call, [log for log in call.logs if log.address != here])
    if item is None:
        ctx.find(
            "initiative.cosignature",
            call,
            "an existing initiative",
            iid,
            "co-signatures relayed for an initiative never submitted",
        )
        return
    entries = list(args["coSignatures"])
    separator = _domain(ctx)
    collecting = item.proposal == 0 and call.timestamp < item.closes_at
    judged = []
    for entry in entries:
        reason, digest = _judge(ctx, item, collecting, separator, entry)
        if reason is None:
            item.signed.add(addr(entry["signer"]))
        judged.append((addr(entry["signer"]), reason, digest))
    per_item = [log for log in own if log.topics[:1] != [PROMOTED]]
    promotions = [log for log in own if log.topics[:1] == [PROMOTED]]
    if len(per_item) != len(entries):
        ctx.find(
            "initiative.cosignature",
            call,
            f"{len(entries)} co-signature events",
            len(per_item),
            f"coSign on initiative {iid}: one event per co-signature expected",
        )
    for (signer, reason, digest), log in zip(judged, per_item, strict=False):
        _check_event(ctx, call, item, signer, reason, digest, log)
    reaches = collecting and len(item.signed) >= item.needed
    _check_promotion(ctx, call, item, reaches, promotions)
    ctx.state.bump("cosignatures_checked", len(entries))


def _check_event(
    ctx: Ctx,
    call: Call,
    item: Initiative,
    signer: bytes,
    reason: int | None,
    digest: bytes,
    log: Log,
) -> None:
    topic = log.topics[0] if log.topics else b""
    if len(log.topics) != 3 or int.from_bytes(log.topics[1], "big") != item.id:
        found = "another event"
    elif log.topics[2][12:] != signer:
        found = f"an event for {to_hex(log.topics[2][12:])}"
    elif topic == COSIGNED:
        item.counted += 1
        found = "counted"
        if reason is None and log.data[:32] != digest:
            ctx.find(
                "initiative.digest",
                call,
                digest,
                log.data[:32],
                f"initiative {item.id}: CoSigned of {to_hex(signer)} carries another digest",
            )
    elif topic == COSIGNATURE_SKIPPED:
        item.skipped += 1
        found = f"skipped ({skip_name(int.from_bytes(log.data[:32], 'big'))})"
    else:
        found = to_hex(topic)
    expected = "counted" if reason is None else f"skipped ({skip_name(reason)})"
    if found != expected:
        ctx.find(
            "initiative.cosignature",
            call,
            expected,
            found,
            f"initiative {item.id}: co-signature of {to_hex(signer)} judged otherwise by the rules",
        )


def _check_promotion(
    ctx: Ctx, call: Call, item: Initiative, reaches: bool, promotions: list[Log]
) -> None:
    if not reaches:
        if promotions:
            ctx.find(
                "initiative.promotion",
                call,
                "no promotion",
                f"{len(promotions)} InitiativePromoted",
                f"initiative {item.id} promoted without reaching {item.needed} co-signatures",
            )
        return
    if len(promotions) != 1:
        ctx.find(
            "initiative.promotion",
            call,
            "one InitiativePromoted",
            len(promotions),
            f"initiative {item.id} reached {len(item.signed)} of {item.needed} co-signatures",
        )
        return
    (log,) = promotions
    proposal = int.from_bytes(log.topics[2], "big") if len(log.topics) == 3 else 0
    count = int.from_bytes(log.data[:32], "big")
    if count != len(item.signed):
        ctx.find(
            "initiative.count",
            call,
            len(item.signed),
            count,
            f"initiative {item.id} promoted with another count than the recount",
        )
    item.proposal = proposal
    item.promoted_tx, item.promoted_block = call.tx, call.block


def _council_logs(ctx: Ctx, call: Call, logs: list[Log]) -> None:
    """The Council's ProposalOpened inside a promoting coSign call, judged as the Council's own
    call by the Initiatives contract (as a traced call would present it)."""
    council = ctx.contracts["council"]
    for log in logs:
        decoded = ctx.decode("council", log) if log.address == council else None
        if decoded is None or decoded[0] != "ProposalOpened":
            ctx.find(
                "event.unexplained",
                call,
                "ProposalOpened of the council",
                to_hex(log.topics[0]) if log.topics else "no topic",
                "coSign emitted an event of another contract",
            )
            continue
        inner = dataclasses.replace(
            call, actor=ctx.contracts["initiatives"], target=council, input=None, logs=[log]
        )
        recount.handle_event(ctx, inner, Emitted("openProposal", None, *decoded), log)


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    """An Initiatives event outside coSign (whose events its calldata judges)."""
    if e.name in ("CoSigned", "CoSignatureSkipped", "InitiativePromoted"):
        # Only a coSign call emits these; untraced, there is no calldata to judge them by.
        if e.fn is not None:
            ctx.find("event.unexplained", call, "coSign", e.fn, f"{e.name} emitted by {e.fn}")
        else:
            ctx.warn("initiatives", call, f"{e.name} without its calldata: not re-judged")
        return
    emitter, apply = EVENTS.get(e.name, (None, None))
    if apply is None or (e.fn is not None and e.fn != emitter):
        ctx.find(
            "event.unexplained",
            call,
            emitter,
            e.fn,
            f"{e.name} emitted by a call that does not emit it",
        )
    if apply is not None:
        apply(ctx, call, e)


EVENTS: Final = {
    "InitiativeRulesSet": ("setRules", rules_set),
    "InitiativeSubmitted": ("submit", submitted),
}


# ---------------------------------------------------------------------------------- final checks


def final_checks(ctx: Ctx, block: int) -> None:
    """Every promotion opened the proposal its initiative describes, and every proposal opened by
    the Initiatives contract is some initiative's promotion."""
    initiatives_address = ctx.contracts["initiatives"]
    promoted = {i.proposal: i for i in ctx.state.initiatives.values() if i.proposal}
    for pid, p in ctx.state.proposals.items():
        if p.proposer != initiatives_address:
            continue
        item = promoted.get(pid)
        if item is None:
            ctx.find(
                "initiative.promotion",
                None,
                "a promoted initiative",
                "none",
                f"proposal {pid} names the Initiatives contract as proposer without a promotion",
                block=p.opened_block,
            )
            continue
        _, _, voting, quorum, passing = item.rules
        expected = (
            item.community,
            item.text_hash,
            BallotKind.YesNoAbstain,
            YES_NO_ABSTAIN_OPTIONS,
            item.promoted_block,
            voting,
            quorum,
            passing,
            item.budget_amount,
            item.budget_currency,
        )
        found = (
            p.community,
            p.text_hash,
            p.kind,
            p.option_count,
            p.opened_block,
            p.closes_at - p.opens_at,
            p.quorum_bps,
            p.threshold_bps,
            p.budget_amount,
            p.budget_currency,
        )
        if expected != found:
            ctx.find(
                "initiative.promotion",
                None,
                expected,
                found,
                f"initiative {item.id} became proposal {pid}, which describes something else "
                "(community, text, kind, options, block, voting period, quorum, pass, budget)",
                block=item.promoted_block,
            )
    for item in ctx.state.initiatives.values():
        if item.proposal and item.proposal not in ctx.state.proposals:
            ctx.find(
                "initiative.promotion",
                None,
                "an opened council proposal",
                item.proposal,
                f"initiative {item.id} promoted to a proposal the council never opened",
                block=item.promoted_block,
            )
        if item.counted != len(item.signed):
            ctx.find(
                "initiative.count",
                None,
                len(item.signed),
                item.counted,
                f"initiative {item.id}: CoSigned events count another number than the recount",
                block=block,
            )
