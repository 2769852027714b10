"""`run_audit`: walk the chain from the deployment block, rebuild and re-check everything, compare
with the contracts' views, the deployed code with a fresh compile, and the storage with proofs.

It trusts the chain's data and nothing else: not the index database, not the API's database, and
not the deployment file (whose claims are checked). It returns an AuditResult and raises only
AuditInfraError (or another LedgerError) when the audit itself cannot be carried out.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

from ledger.audit import anchor as anchoring
from ledger.audit import budget, elections, funds, initiatives, ratings, recount, secret, timebank
from ledger.audit import pins as pinning
from ledger.audit.abi import ContractAbi, error_selectors
from ledger.audit.acks import AckEntry, check_acks
from ledger.audit.bytecode import Build, DeploymentCheck, check_deployment, fresh_build
from ledger.audit.chain import ChainWalker, ChunkResult
from ledger.audit.context import Ctx
from ledger.audit.dispatch import process_call
from ledger.audit.ethcodec import hex_bytes, hex_int, to_hex
from ledger.audit.fetch import ChunkJob, VerifiedChunk, verify_chunk
from ledger.audit.model import RULES, AuditResult, AuditWarning, Finding
from ledger.audit.page import check_page
from ledger.audit.proven_storage import check_proofs
from ledger.audit.recount import decide, outcome_name
from ledger.audit.reexec import Replayer, check_storage, spec_of
from ledger.audit.served import ServedCheck
from ledger.audit.sigs import POOL_THRESHOLD, BallotVerifier, parse_batch
from ledger.audit.state import STATE_VERSION, AuditState, Checkpoint
from ledger.audit.views import compare_views
from ledger.build import manifest_hash
from ledger.config import Settings
from ledger.deploy import PLAN
from ledger.errors import AuditInfraError, NodeError
from ledger.protocol.generated import BallotKind, Domains, Functions, GrantState, PayoutStatus
from ledger.signing.digests import domain_separator
from ledger.transport import RpcClient, node_name

TOOL: Final = "commons-ledger audit/1"
REPORT_FORMAT: Final = "commons-audit-report/1"
CHECKPOINT_EVERY_S: Final = 30.0
POOLED_BLOCKS: Final = 150  # from this many blocks on, chunks are verified in worker processes


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
    chunk_blocks: int = 50
    workers: int | None = None
    pool_chunks: bool | None = None  # verify chunks in worker processes (None: when many blocks)
    progress: Callable[[Progress], None] | None = None
    # The relay's signed acknowledgements to check against the chain, and the relayer trusted
    # to have signed them (None: any, each named in the findings).
    acks: list[AckEntry] | None = None
    relayer: str | None = None
    pins: Sequence[Path] = ()  # earlier signed reports (files or directories) whose heads to check
    api_url: str | None = None  # a running API whose answers to compare with the chain
    anchors: Path | None = None  # anchors.json: heads anchored on a second network, read back there


def _record_hash(record: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _addresses(record: dict[str, Any]) -> dict[str, bytes]:
    try:
        out = {key: hex_bytes(record["contracts"][key]["address"]) for key, _, _ in PLAN}
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
        self.timings: dict[str, Any] = {}
        self.resumed_from: int | None = None
        self.chunk_cpu = 0.0
        self.pooled = False
        self.signatures_before = 0

    def close(self) -> None:
        self.verifier.close()
        self.rpc.close()
        self.prefetch_rpc.close()

    # ---------------------------------------------------------------------------------- run

    def run(self) -> AuditResult:
        collecting = gc.isenabled()
        # An audit builds millions of small objects that live to its end: the cyclic collector
        # would rescan them again and again (a third of the time of a large election's audit).
        gc.disable()
        try:
            return self._run()
        finally:
            if collecting:
                gc.enable()

    def _run(self) -> AuditResult:
        started = time.perf_counter()
        cpu_started = time.process_time()
        o = self.o
        chain_id = hex_int(self.rpc.call("eth_chainId"))
        head = hex_int(self.rpc.call("eth_blockNumber"))
        contracts = _addresses(o.record)
        deploy_block = int(o.record.get("block", 0))
        to_block = head if o.to_block is None else o.to_block
        if to_block > head:
            raise AuditInfraError(f"--to-block {to_block} is beyond the head ({head})")
        from_block = deploy_block if o.from_block is None else max(o.from_block, deploy_block)
        if from_block > to_block:
            raise AuditInfraError(
                f"nothing to audit: from block {from_block} > to block {to_block}"
            )
        try:
            compiler = o.record["compiler"]
            if not compiler.get("version") or "settings" not in compiler:
                raise KeyError("compiler")
        except (KeyError, TypeError, AttributeError) as exc:
            raise AuditInfraError("the deployment record does not name its compiler") from exc
        # Views, code and proofs are read at the audited block: the node must still hold its
        # state (anvil --prune-history keeps only recent blocks').
        _, missing = self.rpc.try_call(
            "eth_getBalance", [to_hex(contracts["council"]), hex(to_block)]
        )
        if missing:
            raise AuditInfraError(
                f"the node no longer has the state of block {to_block} ({missing}): audit a "
                "recent block, or use a node that keeps history"
            )
        audit_dir = o.settings.data_dir / "audit"
        compile_pool = ThreadPoolExecutor(1, thread_name_prefix="audit-compile")

        def timed_build() -> Build:
            begun = time.perf_counter()
            build = fresh_build(
                o.settings, o.record.get("compiler") or {}, audit_dir / "build-cache"
            )
            self.timings["compile_s"] = round(time.perf_counter() - begun, 3)
            return build

        compiled: Future[Build] = compile_pool.submit(timed_build)
        binding = hashlib.sha256(
            json.dumps([STATE_VERSION, TOOL, chain_id, _record_hash(o.record), from_block]).encode()
        ).hexdigest()
        checkpoint = Checkpoint(
            audit_dir / f"checkpoint-{chain_id}-{binding[:16]}.json.gz", binding
        )
        self.checkpoint = checkpoint
        state = self._start_state(checkpoint, deploy_block, to_block)
        # This run's verifier counts only the blocks it walks; a resumed state counted the rest.
        self.signatures_before = int(state.stats.get("signatures_verified", 0))
        in_range: Callable[[int], bool] = lambda block: block >= from_block  # noqa: E731
        build: Build | None = None

        def need_build() -> Build:
            nonlocal build
            if build is None:
                self._progress("compile", state.next_block, from_block, to_block, state, 0)
                waited = time.perf_counter()
                try:
                    build = compiled.result()
                except AuditInfraError:
                    raise
                except Exception as exc:
                    raise AuditInfraError(f"the fresh compile failed: {exc}") from exc
                self.timings["compile_wait_s"] = round(time.perf_counter() - waited, 3)
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
        first = self.rpc.call("eth_getBlockByNumber", [hex(deploy_block), False])
        Replayer.self_test()
        self.replayer = Replayer(chain_id, contracts, spec_of(first))
        if state.next_block > deploy_block:
            # Resumed: the checkpoint holds the rules' state, not revm's; replay up to it.
            for chunk in range(deploy_block, state.next_block, max(1, self.o.chunk_blocks)):
                stop = min(chunk + max(1, self.o.chunk_blocks), state.next_block)
                job = self._job(contracts, chain_id, from_block, chunk, stop)
                self.replayer.feed(verify_chunk(job, self.rpc))
        self._walk(state, contracts, chain_id, from_block, to_block, in_range, context)
        self.timings["walk_s"] = round(time.perf_counter() - walk_started, 3)
        self.timings["reexec_s"] = round(self.replayer.seconds, 3)
        ctx = context()
        b = need_build()
        compile_pool.shutdown(wait=False)
        # The state is final: save it for the next run while the final checks read the chain.
        post_findings, post_warnings = ctx.detach()
        saver = threading.Thread(
            target=self._save, args=(checkpoint, state, post_warnings), name="audit-checkpoint"
        )
        saver.start()
        checks_started = time.perf_counter()
        funds.final_checks(ctx, to_block)
        timebank.final_checks(ctx, to_block)
        initiatives.final_checks(ctx, to_block)
        ratings.final_checks(ctx, to_block)
        budget.final_checks(ctx, to_block)
        self._progress("views", to_block, from_block, to_block, state, 0)
        seen = compare_views(ctx, self.rpc, to_block)
        code = {
            key: hex_bytes(self.rpc.call("eth_getCode", [to_hex(address), hex(to_block)]))
            for key, address in contracts.items()
        }
        deployment = check_deployment(
            self.rpc, o.record, b, chain_id, to_block, code, _manifest_hash_of(b, o.settings)
        )
        self._progress("proofs", to_block, from_block, to_block, state, 0)
        header = self.rpc.call("eth_getBlockByNumber", [hex(to_block), False])
        if state.last_hash is not None and hex_bytes(header["hash"]) != state.last_hash:
            raise AuditInfraError("the chain changed under the audit (a reorg?): run it again")
        proofs = check_proofs(ctx, self.rpc, b, header, code, all_proofs=o.all_proofs)
        storage_started = time.perf_counter()
        layouts = {key: b.contracts[name].layout for key, name, _ in PLAN}
        storage, storage_findings, skipped = check_storage(self.replayer, self.rpc, header, layouts)
        self.timings["storage_check_s"] = round(time.perf_counter() - storage_started, 3)
        self.timings["checks_s"] = round(time.perf_counter() - checks_started, 3)
        pinned, pin_warnings = pinning.collect(o.pins, chain_id)
        anchored, anchor_warnings = anchoring.collect(o.anchors, chain_id)
        pin_warnings += anchor_warnings
        pin_findings = pinning.check(self.rpc, [*pinned, *anchored])
        served_findings: list[Finding] = []
        page_digests: dict[str, str] = {}
        if o.api_url is not None:
            served = ServedCheck(o.api_url, self.rpc, contracts, ctx.abis, deploy_block, to_block)
            served_findings, served_warnings = served.run(state)
            pin_warnings += served_warnings
            page_findings, page_warnings, page_digests = check_page(o.settings, o.api_url)
            served_findings += page_findings
            pin_warnings += page_warnings
        saver.join()
        self.timings["total_s"] = round(time.perf_counter() - started, 3)
        self.timings["main_cpu_s"] = round(time.process_time() - cpu_started, 3)
        self.timings["chunk_cpu_s"] = round(self.chunk_cpu, 3)
        self.timings["chunks_in_workers"] = self.pooled
        findings = [
            *state.findings,
            *post_findings,
            *deployment.findings,
            *self.replayer.findings,
            *storage_findings,
            *pin_findings,
            *served_findings,
        ]
        warnings = [*state.warnings, *post_warnings, *deployment.warnings, *self.replayer.warnings]
        relay = None
        if o.acks is not None:
            relay = check_acks(
                self.rpc, chain_id, contracts, deploy_block, to_block, o.acks, o.relayer
            )
            findings += relay.findings
            warnings += relay.warnings
        warnings += pin_warnings
        report = self._report(
            chain_id,
            contracts,
            from_block,
            to_block,
            header,
            state,
            b,
            seen,
            deployment,
            proofs,
            findings,
            warnings,
            checkpoint,
        )
        report["reexecution"] = {
            "engine": f"revm (pyrevm {version('pyrevm')})",
            "blocks": self.replayer.blocks,
            "transactions": self.replayer.transactions,
            "seconds": round(self.replayer.seconds, 3),
            "contracts": [dataclasses.asdict(c) for c in storage],
        }
        if relay is not None:
            report["relay_acks"] = {**relay.summary(), "entries": relay.entries}
        report["skipped_checks"] = skipped
        if skipped:
            report["ok"] = False
        if page_digests:
            report["page"] = {"fresh_build_sha256": page_digests}
        report["pins"] = {
            "checked": len(pinned),
            "anchors": len(anchored),
            "broken": len(pin_findings),
        }
        self._progress("done", to_block, from_block, to_block, state, 0)
        return AuditResult(findings, warnings, report)

    @staticmethod
    def _save(checkpoint: Checkpoint, state: AuditState, warnings: list[AuditWarning]) -> None:
        try:
            checkpoint.save(state)
        except (OSError, TypeError, ValueError) as exc:
            warnings.append(AuditWarning("checkpoint", None, None, f"not saved: {exc}"))

    def _start_state(self, checkpoint: Checkpoint, deploy_block: int, to_block: int) -> AuditState:
        if self.o.resume:
            state = checkpoint.load()
            if (
                state is not None
                and state.last_hash is not None
                and state.next_block - 1 <= to_block
            ):
                block = self.rpc.call("eth_getBlockByNumber", [hex(state.next_block - 1), False])
                if block is not None and hex_bytes(block["hash"]) == state.last_hash:
                    self.resumed_from = state.next_block
                    return state
        return AuditState(next_block=deploy_block)

    def _progress(
        self, phase: str, block: int, first: int, last: int, state: AuditState, _: int
    ) -> None:
        if self.o.progress is not None:
            self.o.progress(
                Progress(
                    phase,
                    block,
                    first,
                    last,
                    len(state.findings),
                    state.stats.get("ballots_checked", 0),
                )
            )

    # --------------------------------------------------------------------------------- walk

    def _walk(
        self,
        state: AuditState,
        contracts: dict[str, bytes],
        chain_id: int,
        from_block: int,
        to_block: int,
        in_range: Callable[[int], bool],
        context: Callable[[], Ctx],
    ) -> None:
        if state.next_block > to_block:
            return
        walker = ChainWalker(
            rpc=self.rpc,
            chain_id=chain_id,
            contracts=contracts,
            nonces=state.forward_nonces,
            in_range=in_range,
        )
        step = max(1, self.o.chunk_blocks)
        ranges = [
            range(start, min(start + step, to_block + 1))
            for start in range(state.next_block, to_block + 1, step)
        ]
        if state.last_hash is None and state.next_block > 0:
            parent = self.rpc.call("eth_getBlockByNumber", [hex(state.next_block - 1), False])
            state.last_hash = hex_bytes(parent["hash"]) if parent else None
        jobs = [self._job(contracts, chain_id, from_block, r.start, r.stop) for r in ranges]
        # Many blocks: fetch and verify chunks in worker processes, several ahead. Few: one
        # thread fetches the next chunk while this one is judged (a pool costs more to start).
        many = to_block - state.next_block + 1 >= POOLED_BLOCKS
        pooled = self.verifier.workers >= 2 and (
            self.o.pool_chunks if self.o.pool_chunks is not None else many
        )
        self.pooled = pooled
        executor: Executor = self.verifier.pool() if pooled else ThreadPoolExecutor(1)
        ahead = self.verifier.workers + 1 if pooled else 1

        def submit(job: ChunkJob) -> Future[VerifiedChunk]:
            if pooled:
                return executor.submit(verify_chunk, job)
            return executor.submit(verify_chunk, job, self.prefetch_rpc)

        last_save = time.monotonic()
        walked_hash = state.last_hash
        queue: deque[Future[VerifiedChunk]] = deque()
        upcoming = iter(jobs)
        pending: tuple[range, ChunkResult, dict[tuple[str, int], Any]] | None = None
        try:
            for job in upcoming:
                queue.append(submit(job))
                if len(queue) >= ahead:
                    break
            for numbers in ranges:
                chunk = queue.popleft().result()
                self.chunk_cpu += chunk.cpu_s
                self.replayer.feed(chunk)
                following = next(upcoming, None)
                if following is not None:
                    queue.append(submit(following))
                result = walker.walk(chunk, walked_hash)
                walked_hash = result.last_hash
                ctx = context()
                # Ballots relayed through the forwarder are checked here (the chunk workers
                # check those sent straight to the council), before the chunk before is judged.
                prepared = self._prepare_ballots(ctx, result, chunk)
                if pending is not None:
                    self._absorb(ctx, state, *pending, in_range)
                    self._progress("walk", pending[0][-1], from_block, to_block, state, 0)
                pending = (numbers, result, prepared)
                if time.monotonic() - last_save > CHECKPOINT_EVERY_S:
                    self._save(self.checkpoint, state, state.warnings)
                    last_save = time.monotonic()
            if pending is not None:
                self._absorb(context(), state, *pending, in_range)
                self._progress("walk", pending[0][-1], from_block, to_block, state, 0)
        finally:
            for future in queue:
                future.cancel()
            if not pooled:
                executor.shutdown(wait=True, cancel_futures=True)

    def _job(
        self, contracts: dict[str, bytes], chain_id: int, from_block: int, start: int, stop: int
    ) -> ChunkJob:
        council = contracts["council"]
        return ChunkJob(
            url=self.o.rpc_url,
            start=start,
            stop=stop,
            watched=frozenset(a for k, a in contracts.items() if k != "forwarder"),
            forwarder=contracts["forwarder"],
            council=council,
            council_domain=domain_separator(*Domains.Council, chain_id, council),
            strict_from=from_block,
        )

    def _prepare_ballots(
        self, ctx: Ctx, result: ChunkResult, chunk: VerifiedChunk
    ) -> dict[tuple[str, int], Any]:
        batches = [
            call
            for call in result.calls
            if call.input is not None
            and call.target == ctx.contracts["council"]
            and call.input[:4] == Functions.castBallots.selector
        ]
        prepared: dict[tuple[str, int], Any] = {}
        rest = []
        for call in batches:
            checked = chunk.ballots.get(call.tx) if call.via == "tx" else None
            parsed = parse_batch(call.input) if checked is not None and call.input else None
            if checked is not None and parsed is not None:
                self.verifier.count(len(parsed[1]) // 128)
                prepared[(call.tx, call.position)] = (parsed[0], parsed[1], lambda c=checked: c)
            else:
                rest.append(call)
        many = sum(len(c.input or b"") for c in rest) // 128 >= POOL_THRESHOLD
        for call in rest:
            prepared[(call.tx, call.position)] = recount.submit_batch(ctx, call, pooled=many)
        return prepared

    def _absorb(
        self,
        ctx: Ctx,
        state: AuditState,
        numbers: range,
        result: ChunkResult,
        prepared: dict[tuple[str, int], Any],
        in_range: Callable[[int], bool],
    ) -> None:
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
        for call in result.calls:
            try:
                process_call(ctx, call, prepared)
            except (AuditInfraError, NodeError, KeyboardInterrupt):
                raise
            except Exception as exc:
                # Data no rule anticipates (an enum out of range, a malformed event from code
                # that is not ours): a call that cannot be judged is itself unexplained.
                found = f"{type(exc).__name__}: {exc}"
                ctx.find("event.unexplained", call, "a judgeable call", found, "call not judged")
        state.stats["signatures_verified"] = self.signatures_before + self.verifier.verified
        state.forward_nonces = result.nonces
        state.next_block = numbers[-1] + 1
        state.last_hash = result.last_hash
        state.last_timestamp = result.last_timestamp

    # ------------------------------------------------------------------------------- report

    def _report(
        self,
        chain_id: int,
        contracts: dict[str, bytes],
        from_block: int,
        to_block: int,
        header: dict[str, Any],
        state: AuditState,
        build: Build,
        seen: dict[str, Any],
        deployment: DeploymentCheck,
        proofs: list[dict[str, Any]],
        findings: list[Finding],
        warnings: list[AuditWarning],
        checkpoint: Checkpoint,
    ) -> dict[str, Any]:
        o = self.o
        proposals = []
        for p in sorted(state.proposals.values(), key=lambda p: p.id):
            outcome = decide(p, p.tally) if p.outcome else None
            onchain = seen.get("proposals", {}).get(p.id, {})
            proposals.append(
                {
                    "id": p.id,
                    "community": p.community,
                    "kind": BallotKind(p.kind).name,
                    "secret_vote": p.secret_vote or None,
                    "options": p.option_count,
                    "roll_version": p.roll_version,
                    "roll_size": p.roll_size,
                    "quorum_bps": p.quorum_bps,
                    "threshold_bps": p.threshold_bps,
                    "budget": {
                        "amount": p.budget_amount,
                        "currency": p.budget_currency.decode("ascii", "replace").strip("\x00"),
                    },
                    "recount_tally": p.tally,
                    "onchain_tally": onchain.get("tally"),
                    "recount_outcome": outcome_name(outcome[0]) if outcome else None,
                    "onchain_outcome": outcome_name(p.outcome),
                    "ballots": {
                        "relayed": p.relayed,
                        "direct": p.direct,
                        "skipped": p.skipped,
                        "by_proxy": len(p.proxy_ballots),
                        "proxy_overridden": p.overridden,
                    },
                    "opened": {"block": p.opened_block, "tx": p.opened_tx},
                    "finalized": {"block": p.finalized_block, "tx": p.finalized_tx}
                    if p.finalized_block
                    else None,
                    "milestones": p.milestones,
                }
            )
        funds_out = [
            {
                "community": f.community,
                "currency": f.currency.decode("ascii", "replace"),
                "threshold": f.threshold,
                "total_income": f.total_income,
                "available": f.available,
                "reserved": f.reserved,
                "total_paid": f.total_paid,
                "onchain": seen.get("funds", {}).get(f.community),
            }
            for f in sorted(state.funds.values(), key=lambda f: f.community)
        ]
        grants = [
            {
                "proposal": g.proposal,
                "community": g.community,
                "amount": g.amount,
                "paid": g.paid,
                "state": GrantState(g.state).name,
                "opened": {"block": g.opened_block, "tx": g.opened_tx},
            }
            for g in sorted(state.grants.values(), key=lambda g: g.proposal)
        ]
        payouts = [
            {
                "id": r.id,
                "proposal": r.proposal,
                "community": r.community,
                "recipient": to_hex(r.recipient),
                "amount": r.amount,
                "requester": to_hex(r.requester),
                "status": PayoutStatus(r.status).name,
                "approvers": [to_hex(a) for a in r.approvers],
            }
            for r in sorted(state.payouts.values(), key=lambda r: r.id)
        ]
        banks = []
        for book in sorted(state.timebanks.values(), key=lambda b: b.community):
            entry: dict[str, Any] = {
                "community": book.community,
                "floor": book.floor,
                "ceiling": book.ceiling,
                "accounts": len(book.balances),
                "records": book.recorded,
                "reversals": book.reversals,
                "sum": sum(book.balances.values()),
            }
            if len(book.balances) <= 1000:
                entry["balances"] = {to_hex(a): v for a, v in sorted(book.balances.items())}
            banks.append(entry)
        failed_proofs = [p for p in proofs if not p["ok"]]
        return {
            "format": REPORT_FORMAT,
            "tool": TOOL,
            "generated_at": int(time.time()),
            "chain": {
                "chain_id": chain_id,
                # A report is published: the node by scheme, host and port (a provider's URL
                # may carry its key), files by name (the server's directories are its own).
                "rpc_url": node_name(o.rpc_url),
                "from_block": from_block,
                "to_block": to_block,
                "block_hash": header["hash"],
                "state_root": header["stateRoot"],
            },
            "deployment": {
                "source": None if o.record_source is None else Path(o.record_source).name,
                "record_hash": _record_hash(o.record),
                "block": o.record.get("block"),
                "contracts": {k: to_hex(a) for k, a in contracts.items()},
            },
            "ok": not findings,
            "summary": {
                "findings": len(findings),
                "warnings": len(warnings),
                "rules_broken": sorted({f.rule for f in findings}),
                "rules_checked": len(RULES),
                **{
                    k: state.stats.get(k, 0)
                    for k in (
                        "blocks",
                        "transactions",
                        "transactions_to_us",
                        "forwarded_requests",
                        "calls",
                        "ballots_checked",
                        "signatures_verified",
                        "service_records_checked",
                    )
                },
                "proposals": len(state.proposals),
                "communities": len(state.communities),
                "proofs_checked": len(proofs),
                "proofs_failed": len(failed_proofs),
                "resumed_from_block": self.resumed_from,
                "compiled_from_cache": build.from_cache,
            },
            "timings": self.timings,
            "findings": [f.to_json() for f in findings],
            "warnings": [w.to_json() for w in warnings],
            "proposals": proposals,
            "funds": funds_out,
            "grants": grants,
            "payouts": payouts,
            "timebank": banks,
            "elections": [
                elections.report_row(e)
                for e in sorted(state.elections.values(), key=lambda e: e.id)
            ],
            "budget_rounds": [
                budget.report_row(r)
                for r in sorted(state.budget_rounds.values(), key=lambda r: r.id)
            ],
            "secret_votes": [
                secret.report_row(v)
                for v in sorted(state.secret_votes.values(), key=lambda v: v.id)
            ],
            "bytecode": {
                "compiler": build.compiler_version,
                "settings": build.settings,
                "contracts": deployment.contracts,
            },
            "proofs": {
                "checked": len(proofs),
                "failed": failed_proofs,
                "sample": proofs if len(proofs) <= 200 else proofs[:200],
            },
            "fund_trail": state.trail,
            "admin_acts": state.admin_acts,
            "rotations": state.rotations,
            "checkpoint": {"file": checkpoint.path.name, "resumed_from_block": self.resumed_from},
        }


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
