"""The contracts' own view of the state at the audited block, set against the rebuilt state:
first through their view functions, then — because a view is only code — through the storage
itself, proven word by word against the block's stateRoot (eth_getProof, verified in Python).

The storage slots come from solc's storageLayout of the fresh compile; the expected words are
packed from the rebuilt values exactly as the contracts pack them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ledger.audit.bytecode import Build
from ledger.audit.chain import to_hex
from ledger.audit.context import Ctx, addr, show
from ledger.audit.ethcodec import hex_bytes
from ledger.audit.proofs import ProofError, check_get_proof
from ledger.audit.recount import outcome_name
from ledger.audit.state import AuditState
from ledger.hashing import checksum_address, keccak
from ledger.transport import RpcClient, RpcFailure

SAMPLE = 48


# ---------------------------------------------------------------------------- view functions


@dataclass
class ViewCall:
    role: str
    fn: str
    args: tuple[Any, ...]
    check: Any  # callable(outputs) -> None


def _eth_call(rpc: RpcClient, ctx: Ctx, block: int, calls: list[ViewCall]) -> None:
    requests = []
    for c in calls:
        data = ctx.abis[c.role].by_name[c.fn].encode_call(*c.args)
        requests.append(
            ("eth_call", [{"to": to_hex(ctx.contracts[c.role]), "data": to_hex(data)}, hex(block)])
        )
    answers = rpc.batch(requests, allow_errors=True)
    for c, answer in zip(calls, answers, strict=True):
        if isinstance(answer, RpcFailure):
            c.check(None)
            continue
        try:
            outputs = ctx.abis[c.role].by_name[c.fn].decode_output(hex_bytes(answer))
        except Exception:
            outputs = None
        c.check(outputs)


def _key_text(key: tuple[int, bytes, int, int]) -> str:
    community, auditor, registered, revoked = key
    return f"community {community}, auditor 0x{auditor.hex()}, block {registered}" + (
        f", revoked in block {revoked}" if revoked else ""
    )


def _books(values: tuple[Any, ...]) -> str:
    return f"income {values[2]}, available {values[3]}, reserved {values[4]}, paid {values[5]}"


def compare_views(ctx: Ctx, rpc: RpcClient, block: int) -> dict[str, Any]:
    """Check every rebuilt figure against the contracts' views; returns what they said."""
    state = ctx.state
    calls: list[ViewCall] = []
    seen: dict[str, Any] = {}

    def find(rule: str, expected: Any, found: Any, detail: str) -> None:
        ctx.find(rule, None, expected, found, detail, block=block)

    def unanswered(what: str) -> None:
        find(
            "fund.balance" if "fund" in what else "council.tally",
            "an answer",
            "the call failed",
            f"{what}: the contract's view reverted or answered nonsense",
        )

    # --- wiring: the immutables, read back through their views
    forwarder = ctx.contracts["forwarder"]
    for role in ("registry", "council", "fund", "timebank"):

        def wiring(out: Any, role: str = role) -> None:
            if out is None or addr(out[0]) != forwarder:
                find(
                    "deploy.wiring",
                    forwarder,
                    show(addr(out[0])) if out else "no answer",
                    f"{role}'s trusted forwarder is not the recorded forwarder",
                )

        calls.append(ViewCall(role, "trustedForwarder", (), wiring))
    for role, fn, target in (
        ("council", "registry", "registry"),
        ("fund", "registry", "registry"),
        ("fund", "council", "council"),
        ("timebank", "registry", "registry"),
    ):

        def points(out: Any, role: str = role, fn: str = fn, target: str = target) -> None:
            if out is None or addr(out[0]) != ctx.contracts[target]:
                find(
                    "deploy.wiring",
                    ctx.contracts[target],
                    show(addr(out[0])) if out else "none",
                    f"{role}.{fn}() is not the recorded {target}",
                )

        calls.append(ViewCall(role, fn, (), points))

    def domain(out: Any) -> None:
        if out is None or bytes(out[0]) != ctx.council_domain:
            find(
                "deploy.wiring",
                ctx.council_domain,
                bytes(out[0]) if out else "none",
                "the council's EIP-712 domain separator is not (CommonsCouncil, 1, chain, council)",
            )

    calls.append(ViewCall("council", "DOMAIN_SEPARATOR", (), domain))
    probe = (bytes(20), bytes(19) + b"\x01", 1, b"AUDIT\x00\x00\x00", bytes(32), 0)

    def tb_domain(out: Any) -> None:
        from ledger.audit.timebank import record_id

        expected = keccak(b"\x19\x01" + ctx.timebank_domain + record_id(1, probe))
        if out is None or bytes(out[0]) != expected:
            find(
                "deploy.wiring",
                expected,
                bytes(out[0]) if out else "none",
                "the time bank's EIP-712 domain is not (CommonsTimeBank, 1, chain, timebank)",
            )

    calls.append(
        ViewCall(
            "timebank",
            "serviceDigest",
            (1, (to_hex(probe[0]), to_hex(probe[1]), *probe[2:])),
            tb_domain,
        )
    )

    # --- registry
    def count(n: int, what: str, rule: str) -> Any:
        def check(out: Any) -> None:
            if out is None or int(out[0]) != n:
                find(
                    rule,
                    n,
                    out[0] if out else "none",
                    f"the contract counts another number of {what}",
                )

        return check

    calls.append(
        ViewCall(
            "registry",
            "communityCount",
            (),
            count(len(state.communities), "communities", "registry.community"),
        )
    )
    for cid, community in state.communities.items():

        def snapshot(out: Any, c: Any = community) -> None:
            if out is None or (int(out[0]), int(out[1])) != (c.roll_version, c.roll_size):
                find(
                    "registry.roll",
                    f"v{c.roll_version} of {c.roll_size}",
                    f"v{out[0]} of {out[1]}" if out else "none",
                    f"community {c.id}'s published roll differs from the rebuilt roll",
                )

        calls.append(ViewCall("registry", "rollSnapshot", (cid,), snapshot))

        def committee(out: Any, c: Any = community) -> None:
            size = len(c.roles["COMMITTEE"])
            if out is None or int(out[0]) != size:
                find(
                    "registry.permission",
                    size,
                    out[0] if out else "none",
                    f"community {c.id}'s committee size differs from its role events",
                )

        calls.append(ViewCall("registry", "committeeSize", (cid,), committee))

    for fingerprint, key in state.auditor_keys.items():

        def auditor_key(out: Any, fp: bytes = fingerprint, k: Any = key) -> None:
            rebuilt = (k.community, k.auditor, k.registered_at, k.revoked_at)
            found = None if out is None else (int(out[0]), addr(out[1]), int(out[2]), int(out[3]))
            if found != rebuilt:
                find(
                    "registry.auditor_key_view",
                    _key_text(rebuilt),
                    _key_text(found) if found else "none",
                    f"report key 0x{fp.hex()}: the Registry's registration differs from its events",
                )

        calls.append(ViewCall("registry", "auditorKey", (fingerprint,), auditor_key))

    # --- council
    calls.append(
        ViewCall(
            "council",
            "proposalCount",
            (),
            count(len(state.proposals), "proposals", "council.tally"),
        )
    )
    proposals_seen: dict[int, Any] = {}
    for pid, p in state.proposals.items():

        def proposal(out: Any, p: Any = p) -> None:
            if out is None:
                unanswered(f"proposal {p.id}")
                return
            view = out[0]
            tally = [int(t) for t in view[16]]
            proposals_seen[p.id] = {"tally": tally, "outcome": outcome_name(int(view[14]))}
            if tally != p.tally:
                find(
                    "council.tally",
                    p.tally,
                    tally,
                    f"proposal {p.id}: the contract's tally is not the recount of its ballots",
                )
            if int(view[14]) != p.outcome:
                find(
                    "council.outcome",
                    outcome_name(p.outcome),
                    outcome_name(int(view[14])),
                    f"proposal {p.id}: the contract's outcome is not the one it finalized with",
                )
            if (int(view[11]), int(view[12])) != (p.roll_version, p.roll_size):
                find(
                    "council.proposal",
                    f"v{p.roll_version} of {p.roll_size}",
                    f"v{view[11]} of {view[12]}",
                    f"proposal {p.id}: the contract's roll snapshot changed",
                )
            if int(view[18]) != p.milestones or int(view[17]) != p.execution:
                find(
                    "council.milestone",
                    f"{p.milestones} milestones, status {p.execution}",
                    f"{view[18]} milestones, status {view[17]}",
                    f"proposal {p.id}: the contract's execution record differs",
                )

        calls.append(ViewCall("council", "getProposal", (pid,), proposal))
    seen["proposals"] = proposals_seen

    # --- fund
    calls.append(
        ViewCall(
            "fund", "incomeCount", (), count(state.income_count, "income records", "fund.balance")
        )
    )
    calls.append(
        ViewCall(
            "fund", "payoutCount", (), count(len(state.payouts), "payout requests", "fund.balance")
        )
    )
    funds_seen: dict[int, Any] = {}
    for cid, fund in state.funds.items():

        def fund_view(out: Any, f: Any = fund) -> None:
            if out is None:
                unanswered(f"fund of community {f.community}")
                return
            view = out[0]
            found = (
                bytes(view[0]),
                int(view[1]),
                int(view[2]),
                int(view[3]),
                int(view[4]),
                int(view[5]),
            )
            expected = (
                f.currency.ljust(3, b"\x00"),
                f.threshold,
                f.total_income,
                f.available,
                f.reserved,
                f.total_paid,
            )
            funds_seen[f.community] = dict(
                zip(
                    ("currency", "threshold", "income", "available", "reserved", "paid"),
                    (show(found[0]), *found[1:]),
                    strict=True,
                )
            )
            if found != expected:
                find(
                    "fund.balance",
                    _books(expected),
                    _books(found),
                    f"community {f.community}: fundOf differs from the books rebuilt from events",
                )

        calls.append(ViewCall("fund", "fundOf", (cid,), fund_view))
    seen["funds"] = funds_seen
    for pid, grant in state.grants.items():

        def grant_view(out: Any, g: Any = grant) -> None:
            if out is None:
                unanswered(f"grant of proposal {g.proposal}")
                return
            view = out[0]
            found = (int(view[0]), int(view[1]), int(view[2]), int(view[3]))
            expected = (g.community, g.amount, g.paid, g.state)
            if found != expected:
                find(
                    "fund.balance",
                    expected,
                    found,
                    f"grant of proposal {g.proposal}: grantOf differs from the rebuilt grant",
                )

        calls.append(ViewCall("fund", "grantOf", (pid,), grant_view))
    for rid, payout in state.payouts.items():

        def payout_view(out: Any, r: Any = payout) -> None:
            if out is None:
                unanswered(f"payout {r.id}")
                return
            view = out[0]
            status = r.status
            grant = state.grants.get(r.proposal)
            if status == 1 and grant is not None and grant.state == 2:
                status = 4  # Lapsed: reported, never stored
            found = (
                int(view[0]),
                addr(view[1]),
                int(view[2]),
                addr(view[3]),
                int(view[4]),
                [addr(a) for a in view[5]],
            )
            expected = (r.proposal, r.recipient, r.amount, r.requester, status, r.approvers)
            if found != expected:
                find(
                    "fund.balance",
                    show(expected),
                    show(found),
                    f"payout {r.id}: payoutOf differs from the rebuilt request",
                )

        calls.append(ViewCall("fund", "payoutOf", (rid,), payout_view))

    # --- time bank
    for cid, book in state.timebanks.items():
        for account, balance in book.balances.items():

            def balance_view(out: Any, c: int = cid, a: bytes = account, b: int = balance) -> None:
                if out is None or int(out[0]) != b:
                    find(
                        "timebank.balance",
                        b,
                        out[0] if out else "none",
                        f"community {c}: balanceOf({checksum_address(a)}) differs from the "
                        "rebuilt balance",
                    )

            calls.append(ViewCall("timebank", "balanceOf", (cid, to_hex(account)), balance_view))

        def limits(out: Any, b: Any = book) -> None:
            if out is None or (int(out[0]), int(out[1])) != (b.floor, b.ceiling):
                find(
                    "timebank.limit",
                    (b.floor, b.ceiling),
                    tuple(out) if out else "none",
                    f"community {b.community}: limitsOf differs from LimitsSet",
                )

        calls.append(ViewCall("timebank", "limitsOf", (cid,), limits))
    _eth_call(rpc, ctx, block, calls)
    return seen


# ---------------------------------------------------------------------------- storage proofs


class Layout:
    """Slots from solc's storageLayout output."""

    def __init__(self, layout: dict[str, Any]) -> None:
        self.vars = {v["label"]: v for v in layout.get("storage", [])}
        self.types = layout.get("types", {}) or {}

    def base(self, label: str) -> tuple[int, str]:
        var = self.vars[label]
        return int(var["slot"]), var["type"]

    def mapping(self, label: str, *keys: int | bytes) -> tuple[int, str]:
        slot, kind = self.base(label)
        for key in keys:
            raw = key.rjust(32, b"\x00") if isinstance(key, bytes) else key.to_bytes(32, "big")
            slot = int.from_bytes(keccak(raw + slot.to_bytes(32, "big")), "big")
            kind = self.types[kind]["value"]
        return slot, kind

    def members(self, struct: str) -> dict[str, tuple[int, int, int]]:
        """label -> (slot offset, byte offset, size)."""
        return {
            m["label"]: (
                int(m["slot"]),
                int(m["offset"]),
                int(self.types[m["type"]]["numberOfBytes"]),
            )
            for m in self.types[struct]["members"]
        }


def pack(fields: dict[str, tuple[int, int, int]], values: dict[str, int]) -> dict[int, int]:
    """Words (by slot offset) holding `values`, packed as solc packs struct members."""
    words: dict[int, int] = {}
    for label, value in values.items():
        slot, offset, size = fields[label]
        words[slot] = words.get(slot, 0) | ((value & ((1 << (8 * size)) - 1)) << (8 * offset))
    return words


@dataclass
class Expected:
    role: str
    slot: int
    value: int
    what: str


def _expected_words(
    state: AuditState, build: Build, sample: int | None, seed: bytes
) -> list[Expected]:
    out: list[Expected] = []
    rng = random.Random(seed)

    def pick(items: list[Any]) -> list[Any]:
        if sample is None or len(items) <= sample:
            return items
        return rng.sample(items, sample)

    council = Layout(build.contracts["Council"].layout)
    for pid, p in state.proposals.items():
        slot, struct = council.mapping("_proposals", pid)
        fields = council.members(struct)
        packed = sum(t << (32 * i) for i, t in enumerate(p.tally))
        offset = fields["tally"][0]
        out.append(Expected("council", slot + offset, packed, f"proposal {pid} tally (recount)"))
    fund = Layout(build.contracts["CommunityFund"].layout)
    for cid, f in state.funds.items():
        slot, struct = fund.mapping("_funds", cid)
        words = pack(
            fund.members(struct),
            {
                "available": f.available,
                "reserved": f.reserved,
                "totalIncome": f.total_income,
                "totalPaid": f.total_paid,
                "currency": int.from_bytes(f.currency or b"", "big"),
                "threshold": f.threshold,
            },
        )
        for k, v in words.items():
            out.append(Expected("fund", slot + k, v, f"fund of community {cid} (word {k})"))
    for pid, g in state.grants.items():
        slot, struct = fund.mapping("_grants", pid)
        words = pack(
            fund.members(struct),
            {"communityId": g.community, "amount": g.amount, "paid": g.paid, "state": g.state},
        )
        for k, v in words.items():
            out.append(Expected("fund", slot + k, v, f"grant of proposal {pid} (word {k})"))
    for rid, r in state.payouts.items():
        slot, struct = fund.mapping("_payouts", rid)
        words = pack(
            fund.members(struct),
            {
                "proposalId": r.proposal,
                "recipient": int.from_bytes(r.recipient, "big"),
                "amount": r.amount,
                "requester": int.from_bytes(r.requester, "big"),
                "status": r.status,
                "approvalCount": len(r.approvers),
            },
        )
        for k, v in words.items():
            out.append(Expected("fund", slot + k, v, f"payout {rid} (word {k})"))
    registry = Layout(build.contracts["Registry"].layout)
    for cid, c in state.communities.items():
        slot, struct = registry.mapping("_communities", cid)
        words = pack(
            registry.members(struct),
            {
                "admin": int.from_bytes(c.admin, "big"),
                "rollVersion": c.roll_version,
                "rollSize": c.roll_size,
                "pendingSize": c.pending_size,
                "nextIndex": c.next_index,
            },
        )
        for k, v in words.items():
            out.append(Expected("registry", slot + k, v, f"community {cid} (word {k})"))
        slot, _ = registry.mapping("_pendingAdmins", cid)
        pending = int.from_bytes(c.pending_admin, "big")
        out.append(Expected("registry", slot, pending, f"community {cid}'s pending admin"))
        for account in pick(list(c.members)):
            member = c.members[account]
            if len(member.intervals) > 3:
                continue  # the contract keeps three intervals; older ones may be pruned
            value = member.index + 1
            for k, (join, leave) in enumerate(reversed(member.intervals)):
                value |= (join << (64 + 64 * k)) | (leave << (96 + 64 * k))
            slot, _ = registry.mapping("_records", cid, account)
            out.append(
                Expected("registry", slot, value, f"roll record of {to_hex(account)} in {cid}")
            )
    timebank = Layout(build.contracts["TimeBank"].layout)
    for cid, book in state.timebanks.items():
        accounts = set(book.balances) | set(book.nonces)
        for account in pick(sorted(accounts)):
            base, window = book.window_word(account)
            balance = book.balances.get(account, 0) & ((1 << 64) - 1)
            stamp = book.stamps.get(account, 0)
            slot, _ = timebank.mapping("_accounts", cid, account)
            out.append(
                Expected(
                    "timebank",
                    slot,
                    (balance << 192) | (stamp << 160) | (base << 128) | window,
                    f"time-bank account {to_hex(account)} in {cid}",
                )
            )
    # The roots a reversal is judged against: a word set by hand would let one through.
    batches = state.timebank_batches
    if batches:
        slot, _ = timebank.base("_batchCount")
        out.append(Expected("timebank", slot, max(batches), "time-bank batch count"))
    for batch_id in pick(sorted(batches)):
        slot, _ = timebank.mapping("_batchRoots", batch_id)
        root = int.from_bytes(batches[batch_id], "big")
        out.append(Expected("timebank", slot, root, f"time-bank batch {batch_id}'s root"))
    return out


def check_proofs(
    ctx: Ctx,
    rpc: RpcClient,
    build: Build,
    block: dict[str, Any],
    code: dict[str, bytes],
    *,
    all_proofs: bool,
) -> list[dict[str, Any]]:
    """Prove the sampled words (and each contract's code hash) against the block's stateRoot."""
    number = int(block["number"], 16)
    state_root = hex_bytes(block["stateRoot"])
    expected = _expected_words(
        ctx.state, build, None if all_proofs else SAMPLE, hex_bytes(block["hash"])
    )
    by_role: dict[str, list[Expected]] = {}
    for e in expected:
        by_role.setdefault(e.role, []).append(e)
    rows: list[dict[str, Any]] = []
    for role in ("forwarder", "registry", "council", "fund", "timebank"):
        wanted = by_role.get(role, [])
        slots = sorted({e.slot for e in wanted})
        proven: dict[int, int] = {}
        code_hash: bytes | None = None
        for start in range(0, max(len(slots), 1), 200):
            chunk = slots[start : start + 200]
            answer, error = rpc.try_call(
                "eth_getProof",
                [
                    to_hex(ctx.contracts[role]),
                    ["0x" + s.to_bytes(32, "big").hex() for s in chunk],
                    hex(number),
                ],
            )
            if error:
                ctx.warn(
                    "proof", None, f"{role}: eth_getProof unavailable at block {number}: {error}"
                )
                break
            try:
                result = check_get_proof(state_root, answer)
            except (ProofError, KeyError, ValueError) as exc:
                ctx.find(
                    "state.proof",
                    None,
                    "a proof that verifies against the stateRoot",
                    str(exc),
                    f"{role}: the node's proof does not verify",
                    block=number,
                )
                break
            proven.update(result.storage)
            code_hash = result.account.code_hash
        if code_hash is not None and code_hash != keccak(code.get(role, b"")):
            ctx.find(
                "state.code_hash",
                None,
                keccak(code.get(role, b"")),
                code_hash,
                f"{role}: the proven code hash is not the hash of the code compared",
                block=number,
            )
        for e in wanted:
            if e.slot not in proven:
                continue
            ok = proven[e.slot] == e.value
            rows.append(
                {
                    "contract": role,
                    "slot": hex(e.slot),
                    "what": e.what,
                    "expected": hex(e.value),
                    "proven": hex(proven[e.slot]),
                    "ok": ok,
                }
            )
            if not ok:
                ctx.find(
                    "state.proof",
                    None,
                    hex(e.value),
                    hex(proven[e.slot]),
                    f"{role}: {e.what} in storage (proven against block {number}'s stateRoot) "
                    f"is not the recomputed value",
                    block=number,
                )
    return rows
