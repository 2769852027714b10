"""Communities, roles and versioned rolls, rebuilt from Registry's events.

The roll follows IRegistry's rules: changes are staged into version published + 1, an address
removed and re-added (or added and removed) within one pending version ends up as if neither
happened, a resident's index is handed out on first addition and kept, and a publication puts the
staged version in force with the size the staging implies. Membership at a version is then a
lookup in the resident's intervals, which is how the recount judges eligibility at a snapshot.

Auditors' report keys are rebuilt from AuditorKeyRegistered / AuditorKeyRevoked alone: a key
(sha256 of its raw Ed25519 public key) is registered once, by an account holding AUDITOR in the
community at that moment, for itself; it is revoked at most once, by that auditor or the
community's admin. `commons audit verify-report` trusts a report's signer only through them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ledger.audit import rotation
from ledger.audit.abi import address_arrays
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.fetch import Log
from ledger.audit.state import AuditorKey, Community, Member
from ledger.protocol.generated import ROLE_NAMES

NOBODY = bytes(20)


def _community(ctx: Ctx, call: Call, community_id: int, event: str) -> Community | None:
    community = ctx.state.communities.get(community_id)
    if community is None:
        ctx.find(
            "registry.community",
            call,
            "an existing community",
            community_id,
            f"{event} for a community that was never created",
        )
    return community


def _admin(ctx: Ctx, call: Call, community: Community, what: str) -> None:
    if call.actor is not None and call.actor != community.admin:
        ctx.find(
            "registry.permission",
            call,
            community.admin,
            call.actor,
            f"{what} in community {community.id} by an account that is not its admin",
        )


def _registrar(ctx: Ctx, call: Call, community: Community, what: str) -> None:
    if call.actor is not None and not community.has("REGISTRAR", call.actor):
        ctx.find(
            "registry.permission",
            call,
            "a REGISTRAR",
            call.actor,
            f"{what} in community {community.id} by an account without the REGISTRAR role",
        )


def _admin_handover(ctx: Ctx, call: Call, community: Community, e: Emitted) -> None:
    """Two steps: the admin names a pending admin (or withdraws the offer); only the account
    named then takes the role, by its own call."""
    name, ev = e.name, e.ev
    if name == "AdminTransferred":
        new, previous = addr(ev["newAdmin"]), addr(ev["previousAdmin"])
        ctx.actor_is(call, new, name)
        if community.pending_admin == NOBODY or new != community.pending_admin:
            ctx.find(
                "registry.permission",
                call,
                community.pending_admin,
                new,
                f"community {community.id}'s admin role taken by an account never named for it",
            )
        if previous != community.admin:
            ctx.find(
                "registry.permission",
                call,
                community.admin,
                previous,
                "AdminTransferred names another previous admin",
            )
        community.admin, community.pending_admin = new, NOBODY
        return
    _admin(ctx, call, community, "admin handover started or withdrawn")
    named, pending = addr(ev["admin"]), addr(ev["pendingAdmin"])
    if named != community.admin:
        ctx.find(
            "registry.permission",
            call,
            community.admin,
            named,
            f"{name} names another admin",
        )
    if name == "AdminTransferStarted":
        if pending == NOBODY:
            ctx.find(
                "registry.permission", call, "an account", "address(0)", "admin offered to nobody"
            )
        community.pending_admin = pending
        return
    if pending == NOBODY or pending != community.pending_admin:
        ctx.find(
            "registry.permission",
            call,
            community.pending_admin,
            pending,
            "AdminTransferCancelled withdraws another offer than the pending one",
        )
    community.pending_admin = NOBODY


def _created(ctx: Ctx, call: Call, e: Emitted) -> None:
    state = ctx.state
    cid, admin = int(e.ev["communityId"]), addr(e.ev["admin"])
    expected = len(state.communities) + 1
    if cid != expected or cid in state.communities:
        ctx.find(
            "registry.community",
            call,
            expected,
            cid,
            "communities must be numbered sequentially from 1",
        )
    ctx.actor_is(call, admin, e.name)
    state.communities[cid] = Community(cid, admin)


def _role_changed(ctx: Ctx, call: Call, community: Community, e: Emitted) -> None:
    name, ev = e.name, e.ev
    account = addr(ev["account"])
    ctx.actor_is(call, addr(ev["sender"]), name)
    _admin(ctx, call, community, "role changed")
    role = ROLE_NAMES.get(bytes(ev["role"]))
    if role is None:
        ctx.find(
            "registry.permission",
            call,
            "COMMITTEE, REGISTRAR, COORDINATOR, AUDITOR or POLL_OFFICER",
            bytes(ev["role"]),
            "a role outside the five known ones changed",
        )
        return
    members = community.roles[role]
    if name == "RoleGranted":
        if account in members:
            ctx.find(
                "registry.permission",
                call,
                "not yet granted",
                "already granted",
                f"{role} granted twice to one account",
            )
        members.add(account)
        return
    if account not in members:
        ctx.find(
            "registry.permission",
            call,
            "granted",
            "not granted",
            f"{role} revoked from an account that did not hold it",
        )
    members.discard(account)


def _roll_updated(ctx: Ctx, call: Call, community: Community, e: Emitted) -> None:
    fn, args, ev = e.fn, e.args, e.ev
    _registrar(ctx, call, community, "roll changed")
    version = int(ev["version"])
    added = _addresses(ev["added"])
    removed = _addresses(ev["removed"])
    if (
        fn == "updateRoll"
        and args is not None
        and (_addresses(args["added"]) != added or _addresses(args["removed"]) != removed)
    ):
        ctx.find(
            "registry.roll",
            call,
            "the call's added/removed lists",
            "other lists",
            "RollUpdated differs from the updateRoll call",
        )
    if version != community.roll_version + 1:
        ctx.find(
            "registry.roll",
            call,
            community.roll_version + 1,
            version,
            "roll changes must go into the version after the published one",
        )
    stage(ctx, call, community, version, added, removed)


def _roll_published(ctx: Ctx, call: Call, community: Community, e: Emitted) -> None:
    ev = e.ev
    _registrar(ctx, call, community, "roll published")
    version, size = int(ev["version"]), int(ev["size"])
    if version != community.roll_version + 1:
        ctx.find(
            "registry.roll",
            call,
            community.roll_version + 1,
            version,
            "a publication must put the next version in force",
        )
    if size != community.pending_size:
        ctx.find(
            "registry.roll",
            call,
            community.pending_size,
            size,
            f"roll version {version} published with a size its changes do not imply",
        )
    community.roll_version = version
    community.roll_size = community.pending_size
    community.published_at[version] = call.timestamp


def _key_finding(ctx: Ctx, call: Call, expected: Any, found: Any, detail: str) -> None:
    ctx.find("registry.auditor_key", call, expected, found, detail)


def _auditor_key(ctx: Ctx, call: Call, community: Community, e: Emitted) -> None:
    fn, args, name, ev = e.fn, e.args, e.name, e.ev
    keys = ctx.state.auditor_keys
    auditor, fingerprint = addr(ev["auditor"]), bytes(ev["keyFingerprint"])
    short = "0x" + fingerprint.hex()
    if name == "AuditorKeyRegistered":
        ctx.actor_is(call, auditor, name)
        if fn == "registerAuditorKey" and args is not None:
            called = (int(args["communityId"]), bytes(args["keyFingerprint"]))
            if called != (community.id, fingerprint):
                _key_finding(
                    ctx,
                    call,
                    "the call's community and key",
                    "others",
                    f"{name} differs from the registerAuditorKey call",
                )
        if not community.has("AUDITOR", auditor):
            _key_finding(
                ctx,
                call,
                "an AUDITOR",
                auditor,
                f"report key {short} registered in community {community.id} by an account "
                "without the AUDITOR role",
            )
        if fingerprint == bytes(32):
            _key_finding(ctx, call, "a key's sha256", short, "a zero key fingerprint registered")
        earlier = keys.get(fingerprint)
        if earlier is not None:
            _key_finding(
                ctx,
                call,
                "a key never registered",
                f"registered by {earlier.auditor.hex()} in block {earlier.registered_at}",
                f"report key {short} registered twice",
            )
            return
        keys[fingerprint] = AuditorKey(community.id, auditor, call.block)
        return
    ctx.actor_is(call, addr(ev["sender"]), name)
    key = keys.get(fingerprint)
    if key is None:
        _key_finding(
            ctx, call, "a registered key", short, f"report key {short} revoked unregistered"
        )
        return
    if key.revoked_at:
        _key_finding(
            ctx,
            call,
            "in force",
            f"revoked in block {key.revoked_at}",
            f"report key {short} revoked twice",
        )
    if (key.community, key.auditor) != (community.id, auditor):
        _key_finding(
            ctx,
            call,
            f"community {key.community}, auditor {key.auditor.hex()}",
            f"community {community.id}, auditor {auditor.hex()}",
            f"{name} names another registration of report key {short}",
        )
    sender = addr(ev["sender"])
    if sender not in (key.auditor, community.admin):
        _key_finding(
            ctx,
            call,
            "the key's auditor or the community's admin",
            sender,
            f"report key {short} revoked by an account that may not",
        )
    key.revoked_at = key.revoked_at or call.block


def _addresses(values: list[Any]) -> list[bytes]:
    if not values or type(values[0]) is bytes:
        return values  # decoded by hand (abi.address_arrays): 20-byte values throughout
    return [addr(v) for v in values]


def stage(
    ctx: Ctx,
    call: Call,
    community: Community,
    version: int,
    added: list[bytes],
    removed: list[bytes],
) -> None:
    members = community.members
    next_index = community.next_index
    for account in added:
        member = members.get(account)
        if member is None:
            members[account] = Member(next_index, [[version, 0]])
            next_index += 1
            community.pending_size += 1
            continue
        if member.active():
            ctx.find(
                "registry.roll",
                call,
                "not on the staged roll",
                "already on it",
                f"{account.hex()} added to the roll twice",
            )
            continue
        elif member.intervals and member.intervals[-1][1] == version:
            member.intervals[-1][1] = 0  # left earlier in this same pending version: undone
        else:
            rotation.rejoin(ctx, call, community, account)
            member.intervals.append([version, 0])
        community.pending_size += 1
    community.next_index = next_index
    for account in removed:
        member = members.get(account)
        if member is None or not member.active():
            ctx.find(
                "registry.roll",
                call,
                "on the staged roll",
                "not on it",
                f"{account.hex()} removed from the roll without being on it",
            )
            continue
        if member.intervals[-1][0] == version:
            member.intervals.pop()  # joined earlier in this same pending version: undone
        else:
            member.intervals[-1][1] = version
        community.pending_size -= 1


Handler = Callable[[Ctx, Call, Emitted], None]


def _in_community(apply: Callable[[Ctx, Call, Community, Emitted], None]) -> Handler:
    """A handler of an event about an existing community (one never created is named)."""

    def handle(ctx: Ctx, call: Call, e: Emitted) -> None:
        community = _community(ctx, call, int(e.ev.get("communityId", 0)), e.name)
        if community is not None:
            apply(ctx, call, community, e)

    return handle


# Each event: the calls that may emit it (any other call emitting it is unexplained), and what it
# does to the communities, roles, rolls and report keys.
EVENTS: Final[dict[str, tuple[frozenset[str], Handler]]] = {
    "CommunityCreated": (frozenset({"createCommunity"}), _created),
    "AdminTransferStarted": (frozenset({"transferAdmin"}), _in_community(_admin_handover)),
    "AdminTransferCancelled": (frozenset({"cancelAdminTransfer"}), _in_community(_admin_handover)),
    "AdminTransferred": (frozenset({"acceptAdmin"}), _in_community(_admin_handover)),
    "RoleGranted": (frozenset({"grantRole"}), _in_community(_role_changed)),
    "RoleRevoked": (frozenset({"revokeRole"}), _in_community(_role_changed)),
    "RollUpdated": (frozenset({"updateRoll", "replaceResident"}), _in_community(_roll_updated)),
    "RollPublished": (
        frozenset({"updateRoll", "publishRoll", "replaceResident"}),
        _in_community(_roll_published),
    ),
    "ResidentReplaced": (frozenset({"replaceResident"}), _in_community(rotation.replaced)),
    "AuditorKeyRegistered": (frozenset({"registerAuditorKey"}), _in_community(_auditor_key)),
    "AuditorKeyRevoked": (frozenset({"revokeAuditorKey"}), _in_community(_auditor_key)),
}


def handle(
    ctx: Ctx, call: Call, fn: str | None, args: dict[str, Any] | None, name: str, ev: dict[str, Any]
) -> None:
    emitters, apply = EVENTS.get(name, (frozenset(), None))
    if fn is not None and fn not in emitters:
        ctx.find(
            "event.unexplained",
            call,
            sorted(emitters),
            fn,
            f"{name} emitted by a call that does not emit it",
        )
    if apply is None:
        ctx.find("event.unexplained", call, "a Registry event", name, "unexpected Registry event")
        return
    apply(ctx, call, Emitted(fn, args, name, ev))


def update_roll_args(data: bytes) -> dict[str, Any] | None:
    """updateRoll(communityId, added, removed, publish), decoded by hand (large rolls)."""
    body = data[4:]
    arrays = address_arrays(body, (32, 64)) if len(body) >= 128 else None
    if arrays is None:
        return None
    return {
        "communityId": int.from_bytes(body[:32], "big"),
        "added": arrays[0],
        "removed": arrays[1],
        "publish": int.from_bytes(body[96:128], "big") != 0,
    }


def roll_updated_event(log: Log) -> tuple[str, dict[str, Any]] | None:
    """RollUpdated(communityId, version, added, removed), decoded by hand (large rolls)."""
    arrays = address_arrays(log.data, (0, 32)) if len(log.topics) == 3 else None
    if arrays is None:
        return None
    return "RollUpdated", {
        "communityId": int.from_bytes(log.topics[1], "big"),
        "version": int.from_bytes(log.topics[2], "big"),
        "added": arrays[0],
        "removed": arrays[1],
    }
