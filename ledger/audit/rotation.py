"""Key rotations (a lost or replaced phone), rebuilt from the Registry's ResidentReplaced and the
TimeBank's BalanceCarriedOver.

A rotation is a registrar's act: the old key leaves and the new one joins the roll in the same
version, which is put in force (the call's RollUpdated and RollPublished are judged by the roll
rules in ledger.audit.registry); the old key must have been on the roll and never replaced, the
new one never on the roll before, so it has no history of its own. A balance moves only along a
recorded rotation, once, by a registrar, and exactly the old key's whole rebuilt balance: the
carried amount is re-derived here, not taken from the event. Each rotation is one row of the
report's "Key rotations" table.
"""

from __future__ import annotations

from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.ethcodec import to_hex
from ledger.audit.state import Community

# TimeBank stamps a retired account with a roll version no roll reaches.
RETIRED_STAMP: Final = 2**32 - 1


def replaced(ctx: Ctx, call: Call, community: Community, e: Emitted) -> None:
    """ResidentReplaced: who replaced which key with which, against the roll and the call."""
    ev, args = e.ev, e.args
    old, new, registrar = addr(ev["oldAccount"]), addr(ev["newAccount"]), addr(ev["registrar"])
    version = int(ev["version"])
    ctx.actor_is(call, registrar, e.name)
    if not community.has("REGISTRAR", registrar):
        _find(
            ctx,
            call,
            "registry.permission",
            "a REGISTRAR",
            registrar,
            f"key {to_hex(old)} replaced in community {community.id} by a non-registrar",
        )
    if args is not None and (addr(args["oldAccount"]), addr(args["newAccount"])) != (old, new):
        _find(
            ctx,
            call,
            "registry.rotation",
            "the call's old and new keys",
            "other keys",
            "ResidentReplaced differs from the replaceResident call",
        )
    earlier = community.replacements.get(old)
    if earlier is not None:
        _find(
            ctx,
            call,
            "registry.rotation",
            "a key never replaced",
            f"replaced before by {to_hex(earlier)}",
            f"key {to_hex(old)} replaced twice in community {community.id}",
        )
    _check_roll(ctx, call, community, old, new, version)
    community.replacements[old] = new
    ctx.state.rotations.append(
        {
            "block": call.block,
            "tx": call.tx,
            "community": community.id,
            "old": to_hex(old),
            "new": to_hex(new),
            "registrar": to_hex(registrar),
            "version": version,
            "carried_minutes": None,
            "carried_block": None,
        }
    )


def _check_roll(
    ctx: Ctx, call: Call, community: Community, old: bytes, new: bytes, version: int
) -> None:
    """The call's roll change (already staged and published by its own events) is exactly this
    swap, in force at `version`: the old key's interval closed (or undone) there, the new key
    fresh, its only interval opening there."""
    if community.roll_version != version:
        _find(
            ctx,
            call,
            "registry.rotation",
            f"roll version {version} in force",
            f"version {community.roll_version}",
            "a rotation's roll version was not published",
        )
    gone, joined = community.members.get(old), community.members.get(new)
    if gone is None or gone.member_at(version) or (gone.intervals and gone.intervals[-1][1] == 0):
        _find(
            ctx,
            call,
            "registry.rotation",
            "the old key off the roll",
            "still on it",
            f"key {to_hex(old)} replaced but not removed in version {version}",
        )
    if joined is None or joined.intervals != [[version, 0]]:
        _find(
            ctx,
            call,
            "registry.rotation",
            f"a fresh key joining in version {version}",
            "a key with roll history" if joined is not None else "not on the roll",
            f"key {to_hex(new)} took over {to_hex(old)} without being fresh",
        )


def carried_over(ctx: Ctx, call: Call, fn: str | None, ev: dict[str, Any]) -> None:
    """BalanceCarriedOver: along a recorded rotation, once, by a registrar, the whole balance."""
    cid = int(ev["communityId"])
    old, new = addr(ev["oldAccount"]), addr(ev["newAccount"])
    registrar, said = addr(ev["registrar"]), int(ev["minutesMoved"])
    ctx.actor_is(call, registrar, "BalanceCarriedOver")
    if fn is not None and fn != "carryOver":
        _find(
            ctx,
            call,
            "event.unexplained",
            "carryOver",
            fn,
            "BalanceCarriedOver emitted by a call that does not emit it",
        )
    community = ctx.state.communities.get(cid)
    if community is None or not community.has("REGISTRAR", registrar):
        _find(
            ctx,
            call,
            "timebank.rotation",
            "a REGISTRAR",
            registrar,
            f"balance of {to_hex(old)} carried over by a non-registrar",
        )
    recorded = community.replacements.get(old) if community is not None else None
    if recorded != new:
        _find(
            ctx,
            call,
            "timebank.rotation",
            f"a rotation {to_hex(old)} -> {to_hex(new)} recorded in the Registry",
            to_hex(recorded) if recorded else "no rotation",
            f"community {cid}: a balance moved without a recorded rotation",
        )
    book = ctx.state.timebank(cid)
    if old in book.carried:
        _find(
            ctx,
            call,
            "timebank.rotation",
            "carried over once",
            f"carried before to {to_hex(book.carried[old])}",
            f"community {cid}: the balance of {to_hex(old)} carried over twice",
        )
    balance = book.balances.get(old, 0)
    if said != balance:
        _find(
            ctx,
            call,
            "timebank.rotation",
            balance,
            said,
            f"community {cid}: the carried amount is not {to_hex(old)}'s balance",
        )
    # The books follow what the chain did (the event's amount), so later checks stay meaningful.
    book.balances[old] = balance - said
    book.balances[new] = book.balances.get(new, 0) + said
    book.carried[old] = new
    book.stamps[old] = RETIRED_STAMP
    _mark_carried(ctx, cid, old, call, said)


def _mark_carried(ctx: Ctx, cid: int, old: bytes, call: Call, minutes: int) -> None:
    for row in reversed(ctx.state.rotations):
        if row["community"] == cid and row["old"] == to_hex(old) and row["carried_block"] is None:
            row["carried_block"], row["carried_minutes"] = call.block, minutes
            return


def retired_replacement(ctx: Ctx, cid: int, account: bytes) -> bytes | None:
    """The key that replaced `account` (TimeBank refuses it with KeyRetired), or None."""
    community = ctx.state.communities.get(cid)
    return community.replacements.get(account) if community is not None else None


def rejoin(ctx: Ctx, call: Call, community: Community, account: bytes) -> None:
    """A replaced key staged back onto the roll (the Registry refuses it)."""
    if account in community.replacements:
        _find(
            ctx,
            call,
            "registry.rotation",
            "a replaced key kept off the roll",
            "added back",
            f"key {to_hex(account)}, replaced by {to_hex(community.replacements[account])}, "
            f"rejoined community {community.id}'s roll",
        )


def _find(ctx: Ctx, call: Call, rule: str, expected: Any, found: Any, detail: str) -> None:
    ctx.find(rule, call, expected, found, detail)
