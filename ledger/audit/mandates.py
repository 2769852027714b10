"""The proxy audit: every mandate re-derived from the `appoint` / `revoke` calldata and judged by
IMandates' rules, and every council proxy ballot judged from the `castProxyBallots` calldata.

An appointment is judged in the contract's order: low-s EIP-712 signature by the resident (the
digest recomputed here from the Mandates domain), the resident's next nonce, a scope that names
its vote, a proxy other than the resident, both on the community's published roll, the proxy
under the limit (the mandate it replaces not counted); a revocation: signature, nonce, a live
mandate. A proxy ballot: proposal open, option in range, low-s signature by the proxy, voter and
proxy on the proposal's roll snapshot, the voter's live mandate naming the proxy for this
proposal or every vote, the voter not yet voted, the proxy under the limit on this proposal.
Each judgement must match the events the contract emitted for it; a counted proxy ballot joins
the recount's tally (ledger.audit.recount), which the resident's own ballot later overrides.
"""

from __future__ import annotations

from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.ethcodec import to_hex
from ledger.audit.recount import phase
from ledger.audit.state import Proposal
from ledger.ballot_kinds import is_secret
from ledger.protocol.generated import (
    Constants,
    Domains,
    Events,
    MandateScope,
    MandateSkipReason,
    ProposalState,
    ProxyBallotSkipReason,
)
from ledger.signing.digests import domain_separator
from ledger.signing.eip712 import recover_compact
from ledger.signing.mandates import (
    Mandate,
    ProxyBallot,
    Revocation,
    mandate_digest,
    proxy_ballot_digest,
    revocation_digest,
)

Skip = MandateSkipReason
ProxySkip = ProxyBallotSkipReason
DEFAULT_PROXY_LIMIT: Final = Constants.DEFAULT_PROXY_LIMIT
APPOINTED: Final = Events.MandateAppointed.topic
REVOKED: Final = Events.MandateRevoked.topic
SKIPPED: Final = Events.MandateSkipped.topic
PROXY_CAST: Final = Events.ProxyBallotCast.topic
PROXY_SKIPPED: Final = Events.ProxyBallotSkipped.topic

# One expected or emitted event of a batch: (topic, key, detail), compared whole.
Expected = tuple[bytes, int, bytes, Any]


def limit_of(ctx: Ctx, community: int) -> int:
    return ctx.state.proxy_limits.get(community, DEFAULT_PROXY_LIMIT)


def held_by(ctx: Ctx, community: int, proxy: bytes) -> int:
    return sum(1 for (c, _), m in ctx.state.mandates.items() if c == community and m[0] == proxy)


def _signed(digest: bytes, entry: Any, signer: bytes) -> int | None:
    """None if `signer` signed `digest` low-s, else the skip reason (both enums agree on these)."""
    recovered = recover_compact(
        digest, bytes(entry["r"]), int.from_bytes(bytes(entry["vs"]), "big")
    )
    if recovered is None:
        return int(Skip.MalleableSignature)
    if recovered != signer:
        return int(Skip.BadSignature)
    return None


def _separator(ctx: Ctx) -> bytes:
    return domain_separator(*Domains.Mandates, ctx.chain_id, ctx.contracts["mandates"])


# ------------------------------------------------------------------------------- mandates


def _appoint_fault(ctx: Ctx, m: Mandate, entry: Any) -> int | None:
    resident, proxy = bytes.fromhex(m.resident[2:]), bytes.fromhex(m.proxy[2:])
    reason = _signed(mandate_digest(_separator(ctx), m), entry, resident)
    if reason is not None:
        return reason
    if m.nonce != ctx.state.mandate_nonces.get(resident, 0):
        return Skip.StaleNonce
    all_votes = m.scope == MandateScope.AllVotes
    if m.scope > MandateScope.Election or (
        m.vote_id != 0 if all_votes else not 0 < m.vote_id < 2**64
    ):
        return Skip.InvalidScope
    if proxy == resident:
        return Skip.SelfProxy
    community = ctx.state.communities.get(m.community_id)
    if community is None or not community.resident_now(resident):
        return Skip.ResidentNotOnRoll
    if not community.resident_now(proxy):
        return Skip.ProxyNotOnRoll
    held = held_by(ctx, m.community_id, proxy)
    current = ctx.state.mandates.get((m.community_id, resident))
    if current is not None and current[0] == proxy:
        held -= 1
    if held >= limit_of(ctx, m.community_id):
        return Skip.ProxyOverLimit
    return None


def appoint(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """An appoint call judged from its calldata: each appointment and its events."""
    expected: list[Expected] = []
    for entry in args["mandates"]:
        cid, resident = int(entry["communityId"]), addr(entry["resident"])
        m = Mandate(
            cid,
            to_hex(resident),  # type: ignore[arg-type]
            to_hex(addr(entry["proxy"])),  # type: ignore[arg-type]
            MandateScope(int(entry["scope"])),
            int(entry["voteId"]),
            int(entry["nonce"]),
        )
        reason = _appoint_fault(ctx, m, entry)
        if reason is not None:
            expected.append((SKIPPED, cid, resident, int(reason)))
            continue
        ctx.state.mandate_nonces[resident] = m.nonce + 1
        current = ctx.state.mandates.get((cid, resident))
        if current is not None:
            expected.append((REVOKED, cid, resident, current[0]))
        proxy = addr(entry["proxy"])
        ctx.state.mandates[(cid, resident)] = (proxy, int(m.scope), m.vote_id)
        expected.append((APPOINTED, cid, resident, proxy))
    _compare(ctx, call, "appoint", expected)
    ctx.state.bump("mandates_checked", len(args["mandates"]))


def revoke(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """A revoke call judged from its calldata: each revocation and its event."""
    expected: list[Expected] = []
    for entry in args["revocations"]:
        cid, resident, nonce = (
            int(entry["communityId"]),
            addr(entry["resident"]),
            int(entry["nonce"]),
        )
        v = Revocation(cid, to_hex(resident), nonce)  # type: ignore[arg-type]
        reason = _signed(revocation_digest(_separator(ctx), v), entry, resident)
        if reason is None and nonce != ctx.state.mandate_nonces.get(resident, 0):
            reason = Skip.StaleNonce
        current = ctx.state.mandates.get((cid, resident))
        if reason is None and current is None:
            reason = Skip.NoMandate
        if reason is not None or current is None:
            expected.append((SKIPPED, cid, resident, int(reason or 0)))
            continue
        ctx.state.mandate_nonces[resident] = nonce + 1
        del ctx.state.mandates[(cid, resident)]
        expected.append((REVOKED, cid, resident, current[0]))
    _compare(ctx, call, "revoke", expected)
    ctx.state.bump("mandates_checked", len(args["revocations"]))


def _emitted(call: Call, address: bytes) -> list[Expected]:
    found: list[Expected] = []
    for log in call.logs:
        if log.address != address or len(log.topics) < 3:
            found.append((log.topics[0] if log.topics else b"", -1, b"", None))
            continue
        topic, cid, who = log.topics[0], int.from_bytes(log.topics[1], "big"), log.topics[2][12:]
        if topic == SKIPPED:
            detail: Any = int.from_bytes(log.data[32:64], "big")
        elif len(log.topics) == 4:
            detail = log.topics[3][12:]
        else:
            detail = None
        found.append((topic, cid, who, detail))
    return found


def _name(item: Expected | None) -> str:
    if item is None:
        return "no event"
    topic, cid, who, detail = item
    names = {APPOINTED: "MandateAppointed", REVOKED: "MandateRevoked", SKIPPED: "MandateSkipped"}
    name = names.get(topic, to_hex(topic))
    if topic == SKIPPED and isinstance(detail, int):
        try:
            shown: Any = Skip(detail).name
        except ValueError:
            shown = detail
    else:
        shown = to_hex(detail) if isinstance(detail, bytes) else detail
    return f"{name}(community {cid}, {to_hex(who)}, {shown})"


def _compare(ctx: Ctx, call: Call, fn: str, expected: list[Expected]) -> None:
    found = _emitted(call, ctx.contracts["mandates"])
    for i in range(max(len(expected), len(found))):
        want = expected[i] if i < len(expected) else None
        got = found[i] if i < len(found) else None
        if want != got:
            ctx.find(
                "mandate.judgement",
                call,
                _name(want),
                _name(got),
                f"{fn}: event {i} is not what the mandate rules give",
            )
            return


def limit_set(ctx: Ctx, call: Call, e: Emitted) -> None:
    cid, setter = int(e.ev["communityId"]), addr(e.ev["setBy"])
    ctx.actor_is(call, setter, "ProxyLimitSet")
    community = ctx.state.communities.get(cid)
    if community is None or community.admin != setter:
        ctx.find(
            "mandate.limit",
            call,
            "the community's admin",
            setter,
            f"proxy limit of community {cid} set by someone other than its admin",
        )
    ctx.state.proxy_limits[cid] = int(e.ev["limit"])


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Any) -> None:
    """A Mandates event outside appoint and revoke (whose events their calldata judges)."""
    if e.name == "ProxyLimitSet" and e.fn in (None, "setProxyLimit"):
        limit_set(ctx, call, e)
        return
    if e.fn is None:
        ctx.warn("mandates", call, f"{e.name} without its calldata: not re-judged")
        return
    ctx.find("event.unexplained", call, "appoint or revoke", e.fn, f"{e.name} emitted by {e.fn}")


# --------------------------------------------------------------------------- proxy ballots


def _proxy_fault(ctx: Ctx, p: Proposal, b: ProxyBallot, entry: Any, timestamp: int) -> int | None:
    voter, proxy = bytes.fromhex(b.voter[2:]), bytes.fromhex(b.proxy[2:])
    if phase(p, timestamp) != ProposalState.Open:
        return ProxySkip.ProposalNotOpen
    if is_secret(p.kind):
        return ProxySkip.SecretBallotsOnly
    if b.option >= p.option_count:
        return ProxySkip.InvalidOption
    reason = _signed(proxy_ballot_digest(ctx.council_domain, b), entry, proxy)
    if reason is not None:
        return reason
    members = ctx.state.communities[p.community].members
    voter_member, proxy_member = members.get(voter), members.get(proxy)
    if voter_member is None or not voter_member.member_at(p.roll_version):
        return ProxySkip.NotOnRoll
    if proxy_member is None or not proxy_member.member_at(p.roll_version):
        return ProxySkip.ProxyNotOnRoll
    mandate = ctx.state.mandates.get((p.community, voter))
    covers = mandate is not None and (
        mandate[1] == MandateScope.AllVotes
        or (mandate[1] == MandateScope.Proposal and mandate[2] == p.id)
    )
    if mandate is None or not covers or mandate[0] != proxy:
        return ProxySkip.NoMandate
    if voter in p.voted:
        return (
            ProxySkip.AlreadyVotedByProxy if voter in p.proxy_ballots else ProxySkip.VotedThemself
        )
    if p.proxy_used.get(proxy, 0) >= limit_of(ctx, p.community):
        return ProxySkip.ProxyOverLimit
    return None


def cast_proxy_ballots(ctx: Ctx, call: Call, fn: str, args: dict[str, Any]) -> None:
    """A castProxyBallots call judged from its calldata: each proxy ballot and its event."""
    pid = int(args["proposalId"])
    p = ctx.state.proposals.get(pid)
    if p is None:
        ctx.find(
            "council.ballot_event",
            call,
            "an existing proposal",
            pid,
            "proxy ballots relayed for a proposal that was never opened",
        )
        return
    expected: list[Expected] = []
    for entry in args["ballots"]:
        voter, proxy, option = addr(entry["voter"]), addr(entry["proxy"]), int(entry["option"])
        b = ProxyBallot(pid, to_hex(voter), to_hex(proxy), option)  # type: ignore[arg-type]
        reason = _proxy_fault(ctx, p, b, entry, call.timestamp)
        if reason is not None:
            expected.append((PROXY_SKIPPED, pid, voter, (proxy, int(reason))))
            continue
        p.voted.add(voter)
        p.tally[option] += 1
        p.event_tally[option] += 1
        p.proxy_ballots[voter] = (proxy, option)
        p.proxy_used[proxy] = p.proxy_used.get(proxy, 0) + 1
        digest = proxy_ballot_digest(ctx.council_domain, b)
        expected.append((PROXY_CAST, pid, voter, (proxy, option, digest)))
    found: list[Expected] = []
    for log in call.logs:
        if len(log.topics) != 4:
            found.append((log.topics[0] if log.topics else b"", -1, b"", None))
            continue
        topic, proxy_topic = log.topics[0], log.topics[3][12:]
        if topic == PROXY_CAST:
            detail: Any = (proxy_topic, log.data[31], bytes(log.data[32:64]))
        else:
            detail = (proxy_topic, int.from_bytes(log.data[:32], "big"))
        found.append((topic, int.from_bytes(log.topics[1], "big"), log.topics[2][12:], detail))
    for i in range(max(len(expected), len(found))):
        want = expected[i] if i < len(expected) else None
        got = found[i] if i < len(found) else None
        if want != got:
            ctx.find(
                "council.proxy_ballot",
                call,
                _proxy_name(want),
                _proxy_name(got),
                f"castProxyBallots on proposal {pid}: event {i} is not what the rules give",
            )
            break
    ctx.state.bump("proxy_ballots_checked", len(args["ballots"]))


def _proxy_name(item: Expected | None) -> str:
    if item is None:
        return "no event"
    topic, _, voter, detail = item
    if topic == PROXY_CAST:
        return f"ProxyBallotCast({to_hex(voter)} by {to_hex(detail[0])}, option {detail[1]})"
    if topic == PROXY_SKIPPED and isinstance(detail, tuple):
        try:
            reason: Any = ProxySkip(detail[1]).name
        except ValueError:
            reason = detail[1]
        return f"ProxyBallotSkipped({to_hex(voter)} by {to_hex(detail[0])}, {reason})"
    return to_hex(topic)
