"""The contracts' own view of the state at the audited block, read through their view functions
(eth_call at that block) and set against the rebuilt state. A view is only code: the storage
itself is proven word by word in ledger.audit.proven_storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.audit.context import Ctx, addr, show
from ledger.audit.ethcodec import hex_bytes, to_hex
from ledger.audit.recount import outcome_name
from ledger.audit.rpc import RpcClient, RpcFailure
from ledger.audit.timebank import record_id
from ledger.hashing import checksum_address, keccak


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
