"""The contracts' storage at the audited block, set against the rebuilt state: a view is only
code, so the words themselves are proven against the block's stateRoot (eth_getProof, verified
in Python). A sample of them, or all with `all_proofs`.

The storage slots come from solc's storageLayout of the fresh compile; the expected words are
packed from the rebuilt values exactly as the contracts pack them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ledger.audit.bytecode import Build
from ledger.audit.context import Ctx
from ledger.audit.ethcodec import hex_bytes, to_hex
from ledger.audit.layout import Layout, pack
from ledger.audit.proofs import ProofError, check_get_proof
from ledger.audit.state import AuditState
from ledger.deploy import PLAN
from ledger.hashing import keccak
from ledger.transport import RpcClient

SAMPLE = 48


@dataclass
class Expected:
    role: str
    slot: int
    value: int
    what: str


def _struct(
    role: str, layout: Layout, label: str, key: int, values: dict[str, int], what: str
) -> list[Expected]:
    """The words of a struct in a mapping, packed from its members' rebuilt values."""
    slot, struct = layout.mapping(label, key)
    words = pack(layout.members(struct), values)
    return [Expected(role, slot + k, v, f"{what} (word {k})") for k, v in words.items()]


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
        values = {
            "available": f.available,
            "reserved": f.reserved,
            "totalIncome": f.total_income,
            "totalPaid": f.total_paid,
            "currency": int.from_bytes(f.currency or b"", "big"),
            "threshold": f.threshold,
        }
        out += _struct("fund", fund, "_funds", cid, values, f"fund of community {cid}")
    for pid, g in state.grants.items():
        values = {"communityId": g.community, "amount": g.amount, "paid": g.paid, "state": g.state}
        out += _struct("fund", fund, "_grants", pid, values, f"grant of proposal {pid}")
    for rid, r in state.payouts.items():
        values = {
            "proposalId": r.proposal,
            "recipient": int.from_bytes(r.recipient, "big"),
            "amount": r.amount,
            "requester": int.from_bytes(r.requester, "big"),
            "status": r.status,
            "approvalCount": len(r.approvers),
        }
        out += _struct("fund", fund, "_payouts", rid, values, f"payout {rid}")
    registry = Layout(build.contracts["Registry"].layout)
    for cid, c in state.communities.items():
        values = {
            "admin": int.from_bytes(c.admin, "big"),
            "rollVersion": c.roll_version,
            "rollSize": c.roll_size,
            "pendingSize": c.pending_size,
            "nextIndex": c.next_index,
        }
        out += _struct("registry", registry, "_communities", cid, values, f"community {cid}")
        slot, _ = registry.mapping("_pendingAdmins", cid)
        pending = int.from_bytes(c.pending_admin, "big")
        out.append(Expected("registry", slot, pending, f"community {cid}'s pending admin"))
        for old, new in c.replacements.items():
            slot, _ = registry.mapping("_replacements", cid, old)
            out.append(
                Expected(
                    "registry",
                    slot,
                    int.from_bytes(new, "big"),
                    f"replacement of {to_hex(old)} in {cid}",
                )
            )
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
    for role, _, _ in PLAN:
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
