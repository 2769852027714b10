"""`run_audit`: walk the chain from the deployment block, rebuild and re-check everything, compare
with the contracts' views, the deployed code with a fresh compile, and the storage with proofs.

It trusts the chain's data and nothing else: not the index database, not the API's database, and
not the deployment file (whose claims are checked). It returns an AuditResult and raises only
AuditInfraError (or another LedgerError) when the audit itself cannot be carried out.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ledger.audit import funds, recount, registry, timebank
from ledger.audit.abi import ContractAbi, error_selectors
from ledger.audit.bytecode import Build, DeploymentCheck, check_deployment, fresh_build
from ledger.audit.chain import Call, ChainWalker, ChunkResult, FetchedChunk, fetch_chunk, hex0x
from ledger.audit.context import Ctx
from ledger.audit.ethcodec import hb, hi
from ledger.audit.model import RULES, AuditResult, Finding, Warning_
from ledger.audit.recount import CAST_BALLOTS, OUTCOMES, decide
from ledger.audit.rpc import AuditInfraError, RpcClient
from ledger.audit.sigs import BallotVerifier
from ledger.audit.state import STATE_VERSION, AuditState, Checkpoint
from ledger.audit.views import check_proofs, compare_views
from ledger.build import manifest_hash
from ledger.config import Settings
from ledger.deploy import PLAN

TOOL: Final = "commons-ledger audit/1"
REPORT_FORMAT: Final = "commons-audit-report/1"
CHECKPOINT_EVERY_S: Final = 30.0
REGISTRY_EMITTERS: Final = {
    "CommunityCreated": {"createCommunity"},
    "AdminTransferred": {"transferAdmin"},
    "RoleGranted": {"grantRole"},
    "RoleRevoked": {"revokeRole"},
    "RollUpdated": {"updateRoll"},
    "RollPublished": {"updateRoll", "publishRoll"},
}
COUNCIL_EMITTERS: Final = {
    "ProposalOpened": "openProposal",
    "ProposalFinalized": "finalize",
    "MilestoneRecorded": "recordMilestone",
}


@dataclass(frozen=True)
class Progress:
    phase: str  # "compile", "walk", "views", "proofs", "done"
    block: int
    first: int
    last: int
    findings: int
    ballots: int

    @property
    def fraction(self) -> float:
        span = max(self.last - self.first + 1, 1)
        return min(max((self.block - self.first + 1) / span, 0.0), 1.0)


@dataclass
class AuditOptions:
    rpc_url: str
    record: dict[str, Any]
    settings: Settings = field(default_factory=Settings)
    record_source: str | None = None  # where the deployment record was read from (for the report)
    from_block: int | None = None
    to_block: int | None = None
    all_proofs: bool = False
    resume: bool = True
    chunk_blocks: int = 250
    workers: int | None = None
    progress: Callable[[Progress], None] | None = None


def _record_hash(record: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _addresses(record: dict[str, Any]) -> dict[str, bytes]:
    try:
        out = {key: hb(record["contracts"][key]["address"]) for key, _, _ in PLAN}
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditInfraError(f"the deployment record lacks contract addresses: {exc}") from exc
    if any(len(a) != 20 for a in out.values()):
        raise AuditInfraError("the deployment record holds a malformed address")
    return out


def _manifest_hash_of(build: Build, settings: Settings) -> str | None:
    """The manifest ledger.build would write for this build (to compare with the record's)."""
    try:
        manifest = json.loads((settings.build_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest_hash(manifest)


class _Auditor:
    def __init__(self, options: AuditOptions) -> None:
        self.o = options
        self.rpc = RpcClient(options.rpc_url)
        self.prefetch_rpc = RpcClient(options.rpc_url)
        self.verifier = BallotVerifier(options.workers)
        self.timings: dict[str, float] = {}
        self.resumed_from: int | None = None

    def close(self) -> None:
        self.verifier.close()
        self.rpc.close()
        self.prefetch_rpc.close()

    # ---------------------------------------------------------------------------------- run

    def run(self) -> AuditResult:
        started = time.perf_counter()
        o = self.o
        chain_id = hi(self.rpc.call("eth_chainId"))
        head = hi(self.rpc.call("eth_blockNumber"))
        contracts = _addresses(o.record)
        deploy_block = int(o.record.get("block", 0))
        to_block = head if o.to_block is None else o.to_block
        if to_block > head:
            raise AuditInfraError(f"--to-block {to_block} is beyond the head ({head})")
        from_block = deploy_block if o.from_block is None else max(o.from_block, deploy_block)
        if from_block > to_block:
            raise AuditInfraError(f"nothing to audit: from block {from_block} > to block {to_block}")
        audit_dir = o.settings.data_dir / "audit"
        compile_pool = ThreadPoolExecutor(1, thread_name_prefix="audit-compile")
        compiled: Future[Build] = compile_pool.submit(
            fresh_build, o.settings, o.record.get("compiler") or {}, audit_dir / "build-cache"
        )
        try:
            compiler = o.record["compiler"]
            if not compiler.get("version") or "settings" not in compiler:
                raise KeyError("compiler")
        except (KeyError, TypeError, AttributeError) as exc:
            raise AuditInfraError("the deployment record does not name its compiler") from exc
        binding = hashlib.sha256(
            json.dumps([STATE_VERSION, TOOL, chain_id, _record_hash(o.record), from_block]).encode()
        ).hexdigest()
        checkpoint = Checkpoint(audit_dir / f"checkpoint-{chain_id}-{binding[:16]}.json.gz", binding)
        state = self._start_state(checkpoint, deploy_block, to_block)
        in_range: Callable[[int], bool] = lambda block: block >= from_block  # noqa: E731
        build_started = time.perf_counter()
        build: Build | None = None

        def need_build() -> Build:
            nonlocal build
            if build is None:
                self._progress("compile", state.next_block, from_block, to_block, state, 0)
                try:
                    build = compiled.result()
                except AuditInfraError:
                    raise
                except Exception as exc:
                    raise AuditInfraError(f"the fresh compile failed: {exc}") from exc
                self.timings["compile_s"] = round(time.perf_counter() - build_started, 3)
            return build

        abis_holder: dict[str, ContractAbi] = {}
        ctx_holder: list[Ctx] = []

        def context() -> Ctx:
            if not ctx_holder:
                b = need_build()
                for key, name, _ in PLAN:
                    abis_holder[key] = ContractAbi(name, b.contracts[name].abi)
                ctx_holder.append(
                    Ctx(
                        state=state,
                        chain_id=chain_id,
                        contracts=contracts,
                        abis=abis_holder,
                        verifier=self.verifier,
                        in_range=in_range,
                        error_names=error_selectors([c.abi for c in b.contracts.values()]),
                    )
                )
            return ctx_holder[0]

        walk_started = time.perf_counter()
        self._walk(state, contracts, chain_id, from_block, to_block, in_range, context, checkpoint)
        self.timings["walk_s"] = round(time.perf_counter() - walk_started, 3)
        ctx = context()
        b = need_build()
        compile_pool.shutdown(wait=False)
        checks_started = time.perf_counter()
        funds.final_checks(ctx, to_block)
        timebank.final_checks(ctx, to_block)
        self._progress("views", to_block, from_block, to_block, state, 0)
        seen = compare_views(ctx, self.rpc, to_block)
        code = {
            key: hb(self.rpc.call("eth_getCode", [hex0x(address), hex(to_block)]))
            for key, address in contracts.items()
        }
        deployment = check_deployment(
            self.rpc, o.record, b, chain_id, to_block, code, _manifest_hash_of(b, o.settings)
        )
        self._progress("proofs", to_block, from_block, to_block, state, 0)
        header = self.rpc.call("eth_getBlockByNumber", [hex(to_block), False])
        if state.last_hash is not None and hb(header["hash"]) != state.last_hash:
            raise AuditInfraError("the chain changed under the audit (a reorg?): run it again")
        proofs = check_proofs(ctx, self.rpc, b, header, code, all_proofs=o.all_proofs)
        self.timings["checks_s"] = round(time.perf_counter() - checks_started, 3)
        self.timings["total_s"] = round(time.perf_counter() - started, 3)
        findings = [
            *state.findings,
            *deployment.findings,
        ]
        warnings = [*state.warnings, *deployment.warnings]
        report = self._report(
            chain_id, contracts, from_block, to_block, header, state, b, seen, deployment,
            proofs, findings, warnings, checkpoint,
        )  # fmt: skip
        self._progress("done", to_block, from_block, to_block, state, 0)
        return AuditResult(findings, warnings, report)

    def _start_state(self, checkpoint: Checkpoint, deploy_block: int, to_block: int) -> AuditState:
        if self.o.resume:
            state = checkpoint.load()
            if state is not None and state.last_hash is not None and state.next_block - 1 <= to_block:
                block = self.rpc.call("eth_getBlockByNumber", [hex(state.next_block - 1), False])
                if block is not None and hb(block["hash"]) == state.last_hash:
                    self.resumed_from = state.next_block
                    return state
        return AuditState(next_block=deploy_block)

    def _progress(self, phase: str, block: int, first: int, last: int, state: AuditState,
                  _: int) -> None:  # fmt: skip
        if self.o.progress is not None:
            self.o.progress(
                Progress(phase, block, first, last, len(state.findings),
                         state.stats.get("ballots_checked", 0))  # fmt: skip
            )

    # --------------------------------------------------------------------------------- walk

    def _walk(self, state: AuditState, contracts: dict[str, bytes], chain_id: int,
              from_block: int, to_block: int, in_range: Callable[[int], bool],
              context: Callable[[], Ctx], checkpoint: Checkpoint) -> None:  # fmt: skip
        if state.next_block > to_block:
            return
        walker = ChainWalker(
            rpc=self.rpc,
            chain_id=chain_id,
            contracts=contracts,
            nonces=state.forward_nonces,
            in_range=in_range,
        )
        watched = {a for k, a in contracts.items() if k != "forwarder"}
        step = max(1, self.o.chunk_blocks)
        ranges = [
            range(start, min(start + step, to_block + 1))
            for start in range(state.next_block, to_block + 1, step)
        ]
        if state.last_hash is None and state.next_block > 0:
            parent = self.rpc.call("eth_getBlockByNumber", [hex(state.next_block - 1), False])
            state.last_hash = hb(parent["hash"]) if parent else None
        pool = ThreadPoolExecutor(1, thread_name_prefix="audit-fetch")
        stop = threading.Event()

        def fetch(numbers: range) -> FetchedChunk:
            if stop.is_set():
                raise AuditInfraError("audit stopped")
            return fetch_chunk(self.prefetch_rpc, numbers, watched, contracts["forwarder"])

        last_save = time.monotonic()
        try:
            future = pool.submit(fetch, ranges[0])
            for i, numbers in enumerate(ranges):
                chunk = future.result()
                if i + 1 < len(ranges):
                    future = pool.submit(fetch, ranges[i + 1])
                result = walker.walk(chunk, state.last_hash)
                ctx = context()
                self._absorb(ctx, state, result, in_range)
                state.next_block = numbers[-1] + 1
                state.last_hash = result.last_hash
                state.last_timestamp = result.last_timestamp
                self._progress("walk", numbers[-1], from_block, to_block, state, 0)
                if time.monotonic() - last_save > CHECKPOINT_EVERY_S:
                    checkpoint.save(state)
                    last_save = time.monotonic()
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
        checkpoint.save(state)

    def _absorb(self, ctx: Ctx, state: AuditState, result: ChunkResult,
                in_range: Callable[[int], bool]) -> None:  # fmt: skip
        state.findings += [f for f in result.findings if f.block is None or in_range(f.block)]
        state.warnings += result.warnings
        for name, value in (
            ("blocks", result.blocks),
            ("transactions", result.transactions),
            ("transactions_to_us", result.our_transactions),
            ("forwarded_requests", result.forwarded),
            ("calls", len(result.calls)),
        ):
            state.bump(name, value)
        # Start every signature check of the chunk before judging any ballot: the pool works
        # while the calls before them are processed.
        prepared: dict[tuple[str, int], Any] = {}
        for call in result.calls:
            if (
                call.input is not None
                and call.target == ctx.contracts["council"]
                and call.input[:4] == CAST_BALLOTS
            ):
                prepared[(call.tx, call.position)] = recount.submit_batch(ctx, call)
        for call in result.calls:
            process_call(ctx, call, prepared)
        state.stats["signatures_verified"] = self.verifier.verified

    # ------------------------------------------------------------------------------- report

    def _report(self, chain_id: int, contracts: dict[str, bytes], from_block: int, to_block: int,
                header: dict[str, Any], state: AuditState, build: Build, seen: dict[str, Any],
                deployment: DeploymentCheck, proofs: list[dict[str, Any]],
                findings: list[Finding], warnings: list[Warning_],
                checkpoint: Checkpoint) -> dict[str, Any]:  # fmt: skip
        o = self.o
        proposals = []
        for p in sorted(state.proposals.values(), key=lambda p: p.id):
            outcome = decide(p, p.tally) if p.outcome else None
            onchain = seen.get("proposals", {}).get(p.id, {})
            proposals.append({
                "id": p.id, "community": p.community, "kind": ["YesNoAbstain", "MultipleChoice"][p.kind],
                "options": p.option_count, "roll_version": p.roll_version, "roll_size": p.roll_size,
                "quorum_bps": p.quorum_bps, "threshold_bps": p.threshold_bps,
                "budget": {"amount": p.budget_amount, "currency": p.budget_currency.decode("ascii", "replace").strip("\x00")},
                "recount_tally": p.tally, "onchain_tally": onchain.get("tally"),
                "recount_outcome": OUTCOMES[outcome[0]] if outcome else None,
                "onchain_outcome": OUTCOMES[p.outcome],
                "ballots": {"relayed": p.relayed, "direct": p.direct, "skipped": p.skipped},
                "opened": {"block": p.opened_block, "tx": p.opened_tx},
                "finalized": {"block": p.finalized_block, "tx": p.finalized_tx} if p.finalized_block else None,
                "milestones": p.milestones,
            })  # fmt: skip
        funds_out = [
            {"community": f.community, "currency": f.currency.decode("ascii", "replace"),
             "threshold": f.threshold, "total_income": f.total_income, "available": f.available,
             "reserved": f.reserved, "total_paid": f.total_paid,
             "onchain": seen.get("funds", {}).get(f.community)}
            for f in sorted(state.funds.values(), key=lambda f: f.community)
        ]  # fmt: skip
        grants = [
            {"proposal": g.proposal, "community": g.community, "amount": g.amount, "paid": g.paid,
             "state": ["None", "Open", "Closed"][g.state], "opened": {"block": g.opened_block, "tx": g.opened_tx}}
            for g in sorted(state.grants.values(), key=lambda g: g.proposal)
        ]  # fmt: skip
        payouts = [
            {"id": r.id, "proposal": r.proposal, "community": r.community, "recipient": hex0x(r.recipient),
             "amount": r.amount, "requester": hex0x(r.requester),
             "status": ["None", "Pending", "Executed", "Cancelled"][r.status],
             "approvers": [hex0x(a) for a in r.approvers]}
            for r in sorted(state.payouts.values(), key=lambda r: r.id)
        ]  # fmt: skip
        banks = []
        for book in sorted(state.timebanks.values(), key=lambda b: b.community):
            entry: dict[str, Any] = {
                "community": book.community, "floor": book.floor, "ceiling": book.ceiling,
                "accounts": len(book.balances), "records": book.recorded, "reversals": book.reversals,
                "sum": sum(book.balances.values()),
            }  # fmt: skip
            if len(book.balances) <= 1000:
                entry["balances"] = {hex0x(a): v for a, v in sorted(book.balances.items())}
            banks.append(entry)
        failed_proofs = [p for p in proofs if not p["ok"]]
        return {
            "format": REPORT_FORMAT,
            "tool": TOOL,
            "generated_at": int(time.time()),
            "chain": {
                "chain_id": chain_id,
                "rpc_url": o.rpc_url,
                "from_block": from_block,
                "to_block": to_block,
                "block_hash": header["hash"],
                "state_root": header["stateRoot"],
            },
            "deployment": {
                "source": o.record_source,
                "record_hash": _record_hash(o.record),
                "block": o.record.get("block"),
                "contracts": {k: hex0x(a) for k, a in contracts.items()},
            },
            "ok": not findings,
            "summary": {
                "findings": len(findings),
                "warnings": len(warnings),
                "rules_broken": sorted({f.rule for f in findings}),
                "rules_checked": len(RULES),
                **{k: state.stats.get(k, 0) for k in (
                    "blocks", "transactions", "transactions_to_us", "forwarded_requests", "calls",
                    "ballots_checked", "signatures_verified", "service_records_checked")},
                "proposals": len(state.proposals),
                "communities": len(state.communities),
                "proofs_checked": len(proofs),
                "proofs_failed": len(failed_proofs),
                "resumed_from_block": self.resumed_from,
                "compiled_from_cache": build.from_cache,
            },  # fmt: skip
            "timings": self.timings,
            "findings": [f.to_json() for f in findings],
            "warnings": [w.to_json() for w in warnings],
            "proposals": proposals,
            "funds": funds_out,
            "grants": grants,
            "payouts": payouts,
            "timebank": banks,
            "bytecode": {
                "compiler": build.compiler_version,
                "settings": build.settings,
                "contracts": deployment.contracts,
            },
            "proofs": {"checked": len(proofs), "failed": failed_proofs,
                       "sample": proofs if len(proofs) <= 200 else proofs[:200]},  # fmt: skip
            "fund_trail": state.trail,
            "checkpoint": {"file": str(checkpoint.path), "resumed_from_block": self.resumed_from},
        }


def process_call(ctx: Ctx, call: Call, prepared: dict[tuple[str, int], Any]) -> None:
    """Judge one call into one of our contracts: by its calldata where that carries signed
    messages (ballots, service records, reversals), and by its events otherwise."""
    role = ctx.role_of.get(call.target)
    if role is None or role == "forwarder":
        return
    abi = ctx.abis[role]
    fn = abi.function_of(call.input) if call.input is not None else None
    name = fn.name if fn is not None else None
    if call.input is not None and fn is None:
        if call.logs:
            ctx.find("event.unexplained", call, "a known function", hex0x(call.input[:4]),
                     f"{role}: events from a call to no known function")  # fmt: skip
        return
    if role == "council" and name == "castBallots":
        recount.cast_ballots(ctx, call, prepared.get((call.tx, call.position)))
        return
    args: dict[str, Any] | None = None
    if fn is not None and call.input is not None:
        try:
            args = fn.decode_input(call.input)
        except Exception as exc:
            ctx.warn(role, call, f"{name} calldata not decodable ({exc}); judged from its events")
    if args is not None:
        if role == "council" and name == "castVote":
            recount.cast_vote(ctx, call, args)
            return
        if role == "timebank" and name in ("recordService", "recordServices"):
            timebank.record_services(ctx, call, name, args)
            return
        if role == "timebank" and name == "reverseService":
            timebank.reverse_service(ctx, call, args)
            return
    for log in call.logs:
        if log.address != call.target:
            ctx.find("event.unexplained", call, call.target, log.address,
                     "an event of another contract inside this call")  # fmt: skip
            continue
        decoded = ctx.decode(role, log)
        if decoded is None:
            ctx.find("event.unexplained", call, f"an event of {abi.name}",
                     hex0x(log.topics[0]) if log.topics else "no topic",
                     f"{role} emitted an event its ABI does not declare")  # fmt: skip
            continue
        event, values = decoded
        if role == "registry":
            allowed = REGISTRY_EMITTERS.get(event, set())
            if name is not None and name not in allowed:
                ctx.find("event.unexplained", call, sorted(allowed), name,
                         f"{event} emitted by a call that does not emit it")  # fmt: skip
            registry.handle(ctx, call, name, args, event, values)
        elif role == "council":
            expected_fn = COUNCIL_EMITTERS.get(event)
            if event in ("BallotCast", "BallotSkipped"):
                if name is None:
                    recount.ballot_event_only(ctx, call, log)
                else:
                    ctx.find("event.unexplained", call, "castVote or castBallots", name,
                             f"{event} emitted by another function")  # fmt: skip
                continue
            if name is not None and name != expected_fn:
                ctx.find("event.unexplained", call, expected_fn, name,
                         f"{event} emitted by a call that does not emit it")  # fmt: skip
            if event == "ProposalOpened":
                recount.proposal_opened(ctx, call, name, args, values)
            elif event == "ProposalFinalized":
                recount.proposal_finalized(ctx, call, values)
            elif event == "MilestoneRecorded":
                recount.milestone_recorded(ctx, call, args, values)
        elif role == "fund":
            funds.handle(ctx, call, name, args, event, values)
        elif role == "timebank":
            timebank.handle_event(ctx, call, name, event, values, log)


def run_audit(options: AuditOptions) -> AuditResult:
    auditor = _Auditor(options)
    try:
        return auditor.run()
    finally:
        auditor.close()


def load_record(path: Path) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AuditInfraError(f"cannot read the deployment record {path}: {exc}") from exc
    return record
