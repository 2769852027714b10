"""One stress run: set up, (calibrate,) load, faults under load, drain, verify, report."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ledger.deploy import Deployment
from ledger.tx import send
from stress import faults, verify, workload
from stress.sampler import Sampler
from stress.system import Community, Stack, log, month_long_vote

RESULTS = Path(__file__).parent / "results"
DRAIN_TIMEOUT_S = 300.0
AUDIT_TIMEOUT_S = 600.0
WARMUP_RATE, WARMUP_S = 50.0, 6.0


@dataclass
class Config:
    rate: float | None  # None: calibrate first
    load_s: float
    faults: list[str]
    fault_gap_s: float  # from one fault's start to the next
    fault_hold_s: float  # how long disk-full and gas-out last
    tail_s: float  # load after the last fault's gap
    service_every: int = 10
    proposals: int = 4
    tmpfs_mb: int = 4096
    calibration_rates: list[float] = field(
        default_factory=lambda: [100, 150, 200, 250, 300, 400, 500, 600]
    )
    calibration_step_s: float = 15.0
    rate_margin: float = 0.85
    concurrency: int = 64
    name: str = "stress"
    # A compile cache for the closing audit (the test suite's, already warm); None: it compiles
    # contracts/ afresh (~20 s of CPU).
    audit_build_cache: str | None = None

    @property
    def total_s(self) -> float:
        return self.load_s + len(self.faults) * self.fault_gap_s + self.tail_s


@dataclass
class LoadRun:
    """One load generator run over messages [start, start + count)."""

    start: int
    count: int
    rate: float
    result: dict[str, Any]


class Run:
    def __init__(self, config: Config, root: Path) -> None:
        self.config = config
        self.root = root
        self.stack = Stack(root, tmpfs_mb=config.tmpfs_mb)
        self.messages: list[workload.Message] = []
        self.loads: list[LoadRun] = []
        self.fault_log: list[dict[str, Any]] = []
        self.calibration: dict[str, Any] | None = None
        self.deployment: Deployment | None = None
        self.community: Community | None = None
        self.proposals: list[int] = []

    # --- helpers ----------------------------------------------------------------------------------

    @property
    def d(self) -> Deployment:
        assert self.deployment is not None
        return self.deployment

    def add_messages(self, plan: workload.Plan, proposals: list[int]) -> tuple[int, int]:
        """Sign the plan's messages and append them to the file the load generator reads."""
        assert self.community is not None
        t = time.monotonic()
        signed = workload.sign(
            plan,
            proposal_ids=proposals,
            ballot_separator=bytes(self.d.council.functions.DOMAIN_SEPARATOR().call()),
            community=self.community.id,
            chain_id=self.d.chain_id,
            timebank=self.d.timebank.address,
        )
        start = len(self.messages)
        self.messages += signed
        with open(self.root / "messages.tsv", "a") as fh:
            fh.write("\n".join(m.line() for m in signed) + "\n")
        log(f"signed {len(signed)} messages in {time.monotonic() - t:.1f}s")
        return start, len(signed)

    def open_round(self, plan: workload.Plan, first: bool) -> list[int]:
        """Put the plan's people on the roll (a new published version) and open its proposals."""
        w3, d = self.stack.w3, self.d
        t = time.monotonic()
        roll = plan.roll()
        if first:
            self.community = self.stack.community(d, roll, plan.proposals)
            ids = self.community.proposals
        else:
            assert self.community is not None
            member, cid = self.community.member, self.community.id
            for i in range(0, len(roll), 1000):
                publish = i + 1000 >= len(roll)
                send(w3, member, d.registry.functions.updateRoll(cid, roll[i : i + 1000], [],
                                                                 publish))  # fmt: skip
            now = w3.eth.get_block("latest")["timestamp"]
            ids = []
            for n in range(plan.proposals):
                params = month_long_vote(cid, f"stress round proposal {n}", now)
                send(w3, member, d.council.functions.openProposal(params))
                ids.append(d.council.functions.proposalCount().call())
        self.proposals += ids
        log(f"roll of {len(roll)} and proposals {ids} in {time.monotonic() - t:.1f}s")
        return ids

    def loadgen(self, start: int, count: int, rate: float, drain_s: float) -> subprocess.Popen[str]:
        out = self.root / f"load-{start}.json"
        args = [sys.executable, "-m", "stress.loadgen", "--url", self.stack.api_url,
                "--input", str(self.root / "messages.tsv"), "--start", str(start),
                "--count", str(count), "--rate", str(rate), "--drain-s", str(drain_s),
                "--concurrency", str(self.config.concurrency), "--out", str(out)]  # fmt: skip
        proc = subprocess.Popen(
            args,
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            stderr=open(self.stack.logs / f"loadgen-{start}.log", "ab"),  # noqa: SIM115
            text=True,
            start_new_session=True,
        )
        self.stack.extra.append(_as_proc(f"loadgen-{start}", proc))
        return proc

    def finish_load(
        self, proc: subprocess.Popen[str], start: int, count: int, rate: float
    ) -> LoadRun:
        proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed: see {self.stack.logs}")
        result = json.loads((self.root / f"load-{start}.json").read_text())
        run = LoadRun(start, count, rate, result)
        self.loads.append(run)
        return run

    def wait_relay_idle(self, timeout: float) -> float | None:
        """Seconds until the outbox has nothing queued or sent (None if not within `timeout`)."""
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            counts = self.stack.relay_counts()
            if counts is not None and counts.get("queued", 0) + counts.get("sent", 0) == 0:
                return round(time.monotonic() - t, 2)
            time.sleep(0.5)
        return None

    # --- phases -----------------------------------------------------------------------------------

    def setup(self) -> None:
        log(f"run directory {self.root}; data dir on tmpfs: {self.stack.mounted}")
        self.stack.start_chain()
        self.deployment = self.stack.deploy()
        log(f"deployed at block {self.d.start_block}")

    def calibrate(self) -> float:
        cfg = self.config
        steps_total = int(sum(r * cfg.calibration_step_s for r in cfg.calibration_rates))
        steps_total += int(WARMUP_RATE * WARMUP_S)
        plan = workload.Plan.make(steps_total, service_every=cfg.service_every, proposals=1)
        ids = self.open_round(plan, first=True)
        start, _ = self.add_messages(plan, ids)
        self.stack.wait_snapshot(self.stack.w3.eth.block_number)
        self.stack.start_api()
        steps: list[dict[str, Any]] = []
        offset = start
        # Warm-up, not judged: the first messages load the roll and the proposal into the
        # relay's caches (tens of thousands of addresses).
        warm = int(WARMUP_RATE * WARMUP_S)
        self.finish_load(self.loadgen(offset, warm, WARMUP_RATE, drain_s=60), offset, warm,
                         WARMUP_RATE)  # fmt: skip
        self.wait_relay_idle(60)
        offset += warm
        best = 0.0
        for rate in cfg.calibration_rates:
            count = int(rate * cfg.calibration_step_s)
            proc = self.loadgen(offset, count, rate, drain_s=60)
            run = self.finish_load(proc, offset, count, rate)
            drain = self.wait_relay_idle(60)
            offset += count
            step = step_figures(run.result, cfg.calibration_step_s)
            step["relay_drain_s"] = drain
            step["sustainable"] = bool(
                step["acked_in_window"] >= 0.97 * count
                and step["ack_p95_ms"] <= 1000
                and drain is not None
                and drain <= 5
            )
            steps.append(step)
            log(f"calibration {rate:.0f}/s: {step}")
            if not step["sustainable"]:
                break
            best = rate
            self.wait_relay_idle(120)
        if best == 0:
            best = cfg.calibration_rates[0] / 2
        chosen = round(best * cfg.rate_margin, 1)
        self.calibration = {
            "step_s": cfg.calibration_step_s,
            "steps": steps,
            "highest_sustainable_step": best,
            "margin": cfg.rate_margin,
            "chosen_rate": chosen,
            "criterion": "acked >= 97% of offered within the step, ack p95 <= 1 s, relay drained "
            "within 5 s of the step's end",
        }
        return chosen

    def main(self, rate: float) -> dict[str, Any]:
        cfg = self.config
        count = int(rate * cfg.total_s)
        plan = workload.Plan.make(count, service_every=cfg.service_every, proposals=cfg.proposals)
        first = self.community is None
        ids = self.open_round(plan, first=first)
        start, _ = self.add_messages(plan, ids)
        head = self.stack.w3.eth.block_number
        self.stack.wait_snapshot(head)
        if self.stack.api is None or not self.stack.api.alive():
            self.stack.start_api()
        head_start = self.stack.w3.eth.block_number
        sampler = Sampler(self.stack)
        sampler.start()
        log(f"load: {count} messages at {rate}/s over {cfg.total_s:.0f}s from block {head_start}")
        proc = self.loadgen(start, count, rate, drain_s=DRAIN_TIMEOUT_S)
        first_line = proc.stdout.readline() if proc.stdout else ""
        t0 = float(first_line.split()[1]) if first_line.startswith("t0") else time.time()
        try:
            for k, name in enumerate(cfg.faults):
                at = t0 + cfg.load_s + k * cfg.fault_gap_s
                _sleep_until(at, proc)
                log(f"fault: {name}")
                started = time.time()
                try:
                    details = faults.FAULTS[name](self.stack, cfg.fault_hold_s)
                except Exception as exc:  # a fault that could not be injected is a finding
                    details = {"error": f"{type(exc).__name__}: {exc}"}
                    log(f"fault {name} failed: {exc}")
                    self._revive()
                ended = time.time()
                self.fault_log.append({"name": name, "t_start": round(started - t0, 2),
                                       "t_end": round(ended - t0, 2), **details})  # fmt: skip
                log(f"fault {name} done: {details}")
            load = self.finish_load(proc, start, count, rate)
        finally:
            if proc.poll() is None:
                proc.kill()
        log("offered everything; waiting for the relay to drain")
        drain = self.wait_relay_idle(DRAIN_TIMEOUT_S)
        sampler.stop()
        self._recovery_times(t0, sampler.samples)
        return {
            "t0": t0,
            "rate": rate,
            "count": count,
            "head_start": head_start,
            "drain_after_load_s": drain,
            "samples": sampler.samples,
            "load": load,
        }

    def _revive(self) -> None:
        if self.stack.chain is None or not self.stack.chain.alive():
            with contextlib.suppress(Exception):
                self.stack.start_chain()
        if self.stack.api is None or not self.stack.api.alive():
            with contextlib.suppress(Exception):
                self.stack.start_api()

    def _recovery_times(self, t0: float, samples: list[dict[str, Any]]) -> None:
        """Per fault, the relay's backlog just before it and at its worst afterwards (sampled
        through the API every few seconds); `recovered_s` comes from the chain (report.py)."""
        with_relay = [s for s in samples if "relay" in s]
        for fault in self.fault_log:
            start, end = t0 + fault["t_start"], t0 + fault["t_end"]
            before = [backlog(s) for s in with_relay if start - 15 <= s["t"] < start]
            fault["backlog_before"] = max(before) if before else None
            fault["peak_backlog"] = max(
                (backlog(s) for s in with_relay if start <= s["t"] <= end + 30), default=None
            )

    # --- verification -----------------------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        assert self.community is not None
        stack, d = self.stack, self.d
        acked: dict[int, str] = {}
        refused: list[int] = []
        offered: list[int] = []
        refusals: list[Any] = []
        for run in self.loads:
            offered += range(run.start, run.start + run.count)
            acked.update({i: rid for i, rid, *_ in run.result["acks"]})
            refused += [i for i, *_ in run.result["refused"]]
            refusals += run.result["refused"][:5]
        view = verify.read_chain(stack.w3, d, self.community.id, self.proposals)
        accounting = verify.account(self.messages, offered, acked, refused, view)
        log(f"accounting: {accounting}")
        head = stack.w3.eth.block_number
        index_ok: dict[str, Any] = {"ok": False}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                import httpx

                chain = httpx.get(f"{stack.api_url}/v1/chain", timeout=10).json()
                if (chain.get("indexedHead") or 0) >= head:
                    index_ok = verify.index_matches(stack.api_url, self.proposals, view)
                    break
            time.sleep(1)
        tallies = verify.tallies_match(d, self.proposals, view)
        balances = verify.balances_match(d, self.community.id, self.messages, view)
        stack.stop_api()  # the outbox is read once nothing writes it
        claims = verify.outbox_claims(stack.data_dir / "relay.sqlite", self.messages, acked, view)
        return {
            "view": view,
            "accounting": asdict(accounting),
            "refusal_examples": refusals,
            "outbox": claims,
            "tallies": tallies,
            "timebank": balances,
            "index": index_ok,
        }

    def audit(self) -> dict[str, Any]:
        commons = Path(sys.executable).parent / "commons"
        env = self.stack.env(COMMONS_RPC_URL=self.stack.rpc_url)
        probe = subprocess.run([str(commons), "audit", "--help"], env=env, capture_output=True,
                               text=True, check=False, timeout=60)  # fmt: skip
        if probe.returncode != 0:
            return {"available": False, "detail": "`commons audit` does not exist yet"}
        out_dir = self.root / "audit"
        out_dir.mkdir(exist_ok=True)
        if self.config.audit_build_cache:
            (self.stack.data_dir / "audit").mkdir(exist_ok=True)
            (self.stack.data_dir / "audit" / "build-cache").symlink_to(
                self.config.audit_build_cache, target_is_directory=True
            )
        args = [str(commons), "audit"]
        if "--out" in probe.stdout:
            args += ["--out", str(out_dir)]
        if "--fresh" in probe.stdout:
            args += ["--fresh"]
        key = self.root / "auditor-key.pem"
        made = subprocess.run(
            [str(commons), "audit", "keygen", str(key)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if made.returncode == 0 and key.exists():
            args += ["--key", str(key)]
        t = time.monotonic()
        try:
            done = subprocess.run(args, env=env, capture_output=True, text=True, check=False,
                                  timeout=AUDIT_TIMEOUT_S, cwd=self.root)  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"available": True, "clean": False, "detail": "timed out"}
        (out_dir / "stdout.txt").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
        return {
            "available": True,
            "command": " ".join(args[1:]),
            "exit_code": done.returncode,
            "clean": done.returncode == 0,
            "seconds": round(time.monotonic() - t, 1),
            "tail": (done.stdout + done.stderr).strip().splitlines()[-8:],
        }

    def close(self) -> None:
        self.stack.close()


def backlog(sample: dict[str, Any]) -> int:
    relay = sample.get("relay", {})
    return int(relay.get("queued", 0)) + int(relay.get("sent", 0))


def step_figures(result: dict[str, Any], step_s: float) -> dict[str, Any]:
    t0 = result["t0"]
    in_window = [a for a in result["acks"] if a[2] <= t0 + step_s + 1]
    lat = sorted(ms for _, ms in result["latencies"])
    return {
        "rate": result["rate"],
        "offered": result["count"],
        "acked_in_window": len(in_window),
        "acked_per_s": round(len(in_window) / (step_s + 1), 1),
        "ack_p50_ms": percentile(lat, 50),
        "ack_p95_ms": percentile(lat, 95),
        "refused": len(result["refused"]),
    }


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 1)


def _sleep_until(at: float, proc: subprocess.Popen[str]) -> None:
    while time.time() < at:
        if proc.poll() is not None:
            raise RuntimeError("the load generator ended before the faults were done")
        time.sleep(min(0.2, max(0.0, at - time.time())))


def _as_proc(name: str, popen: subprocess.Popen[str]) -> Any:
    from stress.system import Proc

    return Proc(name, popen)  # type: ignore[arg-type]


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()]}


def execute(
    config: Config, out_dir: Path, *, keep_run_dir: bool = False, argv: Sequence[str] = ()
) -> dict[str, Any]:
    """Run everything and return the results (also written to `out_dir`)."""
    from stress import report

    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = Path(os.environ.get("STRESS_WORKDIR", "/tmp")) / f"commons-{config.name}-{stamp}"
    run = Run(config, root)
    started = time.time()
    results: dict[str, Any] = {
        "command": " ".join(["python -m stress", *argv]),
        "config": asdict(config),
        "machine_start": machine(),
    }
    try:
        run.setup()
        rate = config.rate
        if rate is None:
            rate = run.calibrate()
        main = run.main(rate)
        checked = run.verify()
        results.update(report.assemble(run, main, checked))
        results["audit"] = run.audit()
    finally:
        if keep_run_dir:
            with contextlib.suppress(Exception):
                run.stack.keep_data()
        run.close()
        results["machine_end"] = machine()
        results["wall_s"] = round(time.time() - started, 1)
        if not keep_run_dir and root.exists():
            shutil.rmtree(root, ignore_errors=True)
    results["ok"] = report.passed(results)
    report.write(results, out_dir, config.name)
    return results
