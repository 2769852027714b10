"""Figures of a stress run: per-10-second windows, fault outcomes, the accounting; written as
JSON (everything) and Markdown (one screen), and printed."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stress.loadgen import WINDOW_S

if TYPE_CHECKING:
    from stress.run import Run


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def windows(run: Run, main: dict[str, Any], view: Any) -> list[dict[str, Any]]:
    cfg = run.config
    t0: float = main["t0"]
    load = main["load"].result
    first = main["load"].start
    main_keys = {m.key for m in run.messages[first : first + main["count"]]}
    landed: dict[int, dict[str, int]] = defaultdict(lambda: {"ballot": 0, "service": 0})
    for key, where in view.landed.items():
        if key in main_keys and where:
            when = view.block_time.get(where[0].block)
            if when is not None:
                landed[int((when - t0) // WINDOW_S)][key[0]] += 1
    batches: dict[int, list[int]] = defaultdict(list)
    for block, _kind, n in view.batches.values():
        when = view.block_time.get(block)
        if when is not None and block >= main["head_start"]:
            batches[int((when - t0) // WINDOW_S)].append(n)
    samples: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for s in main["samples"]:
        samples[int((s["t"] - t0) // WINDOW_S)].append(s)
    last = max([int(k) for k in load["windows"]] + list(landed) + [0])
    out = []
    for w in range(0, last + 1):
        lw = load["windows"].get(str(w), {})
        ss = samples.get(w, [])
        heads = [s["head"] for s in ss if s.get("head") is not None]
        sizes = batches.get(w, [])
        start, end = w * WINDOW_S, (w + 1) * WINDOW_S
        active = [f["name"] for f in run.fault_log
                  if f["t_start"] < end and f["t_end"] + 0.001 >= start]  # fmt: skip
        cpu = _cpu_percent(samples.get(w - 1, [])[-1:] + ss)
        snaps = [s["snapshot"] for s in ss if s.get("snapshot")]
        behind = [s["head"] - s["snapshot"]["block"] for s in ss
                  if s.get("snapshot") and s.get("head") is not None]  # fmt: skip
        out.append(
            {
                "t": start,
                "phase": "load" if end <= cfg.load_s else "faults",
                "faults": active,
                "offered_per_s": round(lw.get("offered", 0) / WINDOW_S, 1),
                "acked_per_s": round(lw.get("acked", 0) / WINDOW_S, 1),
                "errors": {k[6:]: v for k, v in lw.items() if k.startswith("error:")},
                "landed_ballots_per_s": round(landed[w]["ballot"] / WINDOW_S, 1),
                "landed_services_per_s": round(landed[w]["service"] / WINDOW_S, 1),
                "relay_txs": len(sizes),
                "batch_mean": round(statistics.fmean(sizes), 1) if sizes else None,
                "batch_max": max(sizes) if sizes else None,
                "head": max(heads) if heads else None,
                "probe_tx_ms": _median([s["probe_ms"] for s in ss if s.get("probe_ms")]),
                "cpu_percent": cpu,
                "snapshot_mb": round(max(x["mb"] for x in snaps), 1) if snaps else None,
                "snapshots_taken": snaps[-1]["seq"] - snaps[0]["seq"] if snaps else None,
                "blocks_since_snapshot_max": max(behind) if behind else None,
                "relay_backlog_max": max(
                    (
                        s["relay"].get("queued", 0) + s["relay"].get("sent", 0)
                        for s in ss
                        if "relay" in s
                    ),
                    default=None,
                ),
            }
        )
    return out


def _cpu_percent(ss: list[dict[str, Any]]) -> dict[str, float]:
    """CPU use per process over consecutive samples (same PID only: a restart starts over)."""
    used: dict[str, float] = defaultdict(float)
    span = ss[-1]["t"] - ss[0]["t"] if len(ss) > 1 else 0.0
    for a, b in pairwise(ss):
        for name, (pid, cpu) in b.get("cpu", {}).items():
            before = a.get("cpu", {}).get(name)
            if before is not None and before[0] == pid:
                used[name] += cpu - before[1]
    return {k: round(100 * v / span, 1) for k, v in sorted(used.items())} if span else {}


def recovery_times(run: Run, main: dict[str, Any], view: Any) -> None:
    """Per fault: seconds from its end until every message acknowledged by then was on the
    (final) chain — read from the blocks that carry them, not from the API."""
    landed_at: dict[Any, int] = {}
    for key, where in view.landed.items():
        when = view.block_time.get(where[0].block) if where else None
        if when is not None:
            landed_at[key] = when
    acks = sorted((t, i) for i, _, t, _ in main["load"].result["acks"])
    for fault in run.fault_log:
        end = main["t0"] + fault["t_end"]
        times = [landed_at.get(run.messages[i].key) for t, i in acks if t <= end]
        if not times or None in times:
            fault["recovered_s"] = None
            continue
        fault["recovered_s"] = round(max(0.0, max(t for t in times if t is not None) - end), 1)


def assemble(run: Run, main: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    view = checked.pop("view")
    recovery_times(run, main, view)
    per_window = windows(run, main, view)
    load_windows = [w for w in per_window if w["phase"] == "load"]
    steady = load_windows[1:] or load_windows  # the first window includes the ramp-up
    lat = sorted(
        ms for t, ms in main["load"].result["latencies"] if t - main["t0"] < run.config.load_s
    )
    from stress.run import percentile

    def first_last(key: str) -> list[Any]:
        vals = [w[key] for w in steady if w[key] is not None]
        return [vals[0], vals[-1]] if vals else [None, None]

    load = {
        "rate_offered_per_s": main["rate"],
        "duration_s": run.config.load_s,
        "messages": main["count"],
        "acked_per_s_mean": round(statistics.fmean(w["acked_per_s"] for w in steady), 1),
        "acked_per_s_min": min(w["acked_per_s"] for w in steady),
        "landed_per_s_mean": round(
            statistics.fmean(
                w["landed_ballots_per_s"] + w["landed_services_per_s"] for w in steady
            ),
            1,
        ),
        "landed_per_s_min": min(
            w["landed_ballots_per_s"] + w["landed_services_per_s"] for w in steady
        ),
        "ack_ms": {
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "p99": percentile(lat, 99),
        },
        "head_first_last": first_last("head"),
        "batch_mean_first_last": first_last("batch_mean"),
        "probe_tx_ms_first_last": first_last("probe_tx_ms"),
        "relay_backlog_max": max((w["relay_backlog_max"] or 0) for w in load_windows),
    }
    load["held"] = bool(
        load["acked_per_s_min"] >= 0.9 * main["rate"]
        and load["landed_per_s_mean"] >= 0.95 * main["rate"]
    )
    return {
        "calibration": run.calibration,
        "load": load,
        "chain": {
            "deployed_at": run.d.start_block,
            "head_at_load_start": main["head_start"],
            "head_at_end": view.head,
            "relay_txs_total": len(view.batches),
        },
        "drain_after_load_s": main["drain_after_load_s"],
        "faults": run.fault_log,
        **checked,
        "windows": per_window,
        "unsettled_by_loadgen": len(main["load"].result["unsettled"]),
    }


def passed(r: dict[str, Any]) -> bool:
    a = r.get("accounting")
    if not a:
        return False
    audit = r.get("audit", {})
    return bool(
        a["lost"] == 0
        and a["duplicated"] == 0
        and a["phantom"] == 0
        and a["refused"] == 0
        and a["unacknowledged"] == 0
        and r["outbox"]["counted_but_not_that_tx_on_chain"] == 0
        and r["outbox"]["acknowledged_but_not_in_outbox"] == 0
        and set(r["outbox"]["receipt_status"]) <= {"counted"}
        and r["tallies"]["ok"]
        and r["timebank"]["ok"]
        and r["index"]["ok"]
        and (not audit.get("available") or audit.get("clean"))
        and not any("error" in f for f in r["faults"])
    )


def markdown(r: dict[str, Any]) -> str:
    a, load, chain = r.get("accounting", {}), r.get("load", {}), r.get("chain", {})
    cal = r.get("calibration")
    lines = [f"# Stress run `{r['config']['name']}`: {'PASS' if r['ok'] else 'FAIL'}", ""]
    lines.append(
        f"`{r.get('command', '')}` — {r['machine_start']['cores']} cores, load average "
        f"{r['machine_start']['load_avg'][0]} at start; wall {r.get('wall_s')} s."
    )
    if cal:
        steps = ", ".join(
            f"{s['rate']:.0f}/s→{s['acked_per_s']:.0f} acked ({'ok' if s['sustainable'] else 'no'})"
            for s in cal["steps"]
        )
        lines += ["", f"Calibration ({cal['step_s']:.0f} s steps): {steps}. Highest sustainable "
                  f"{cal['highest_sustainable_step']:.0f}/s; run at {cal['chosen_rate']}/s "
                  f"(x{cal['margin']})."]  # fmt: skip
    if load:
        lines += [
            "",
            "## Load",
            "",
            "| offered/s | acked/s mean (min) | landed/s mean (min) | ack p50/p95/p99 ms | "
            "chain head | batch size | probe tx ms | held |",
            "|---|---|---|---|---|---|---|---|",
            f"| {load['rate_offered_per_s']} for {load['duration_s']:.0f} s "
            f"| {load['acked_per_s_mean']} ({load['acked_per_s_min']}) "
            f"| {load['landed_per_s_mean']} ({load['landed_per_s_min']}) "
            f"| {load['ack_ms']['p50']}/{load['ack_ms']['p95']}/{load['ack_ms']['p99']} "
            f"| {load['head_first_last'][0]}→{load['head_first_last'][1]} "
            f"(end {chain['head_at_end']}) "
            f"| {load['batch_mean_first_last'][0]}→{load['batch_mean_first_last'][1]} "
            f"| {load['probe_tx_ms_first_last'][0]}→{load['probe_tx_ms_first_last'][1]} "
            f"| {'yes' if load['held'] else 'NO'} |",
        ]
    lines += ["", "## Per 10 s", "",
              "| t s | phase | acked/s | landed/s | txs | batch mean/max | head | probe ms "
              "| backlog | snapshot MB | blocks since snapshot | CPU % anvil/api/node |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for w in r.get("windows", []):
        phase = ",".join(w["faults"]) or w["phase"]
        cpu = w.get("cpu_percent", {})
        lines.append(
            f"| {w['t']:.0f} | {phase} | {w['acked_per_s']} "
            f"| {round(w['landed_ballots_per_s'] + w['landed_services_per_s'], 1)} "
            f"| {w['relay_txs']} | {w['batch_mean']}/{w['batch_max']} | {w['head']} "
            f"| {w['probe_tx_ms']} | {w['relay_backlog_max']} | {w.get('snapshot_mb')} "
            f"| {w.get('blocks_since_snapshot_max')} "
            f"| {cpu.get('anvil', '-')}/{cpu.get('api', '-')}/{cpu.get('supervisor', '-')} |"
        )
    lines += ["", "## Faults under load", "",
              "| fault | at s | what happened | recovered s |", "|---|---|---|---|"]  # fmt: skip
    for f in r.get("faults", []):
        skip = {"name", "t_start", "t_end", "recovered_s", "backlog_before", "peak_backlog"}
        what = ", ".join(f"{k}={v}" for k, v in f.items() if k not in skip)
        lines.append(f"| {f['name']} | {f['t_start']} | {what} | {f.get('recovered_s')} |")
    if a:
        o = r["outbox"]
        lines += [
            "",
            "## Accounting (from the chain: BallotCast per voter, ServiceRecorded per "
            "provider+nonce)",
            "",
            f"- acknowledged (202 + receipt id): **{a['acknowledged']}** of {a['offered']} offered",
            f"- landed: **{a['landed']}**; lost: **{a['lost']}**; "
            f"duplicated: **{a['duplicated']}**; "
            f"phantom (on-chain, never sent): {a['phantom']}",
            f"- refused: {a['refused']}; never acknowledged: {a['unacknowledged']} "
            f"(of which landed: {a['landed_unacknowledged']})",
            f"- outbox receipts of acknowledged messages: {o['receipt_status']}; 'counted' but "
            f"not that tx on-chain: {o['counted_but_not_that_tx_on_chain']}; "
            f"relay txs {o['relay_txs']}",
            f"- acknowledged but not counted, by reason: {o.get('not_counted') or 'none'}",
            f"- tallies = ballot events: {r['tallies']['ok']}; time-bank balances as recorded, "
            f"sum 0: {r['timebank']['ok']}; API index = chain: {r['index']['ok']}",
        ]
    audit = r.get("audit", {})
    lines += ["", "## Audit", "",
              ("`commons audit` " + ("clean" if audit.get("clean") else
                                     f"NOT clean (exit {audit.get('exit_code')})")
               if audit.get("available") else f"not run: {audit.get('detail')}")]  # fmt: skip
    return "\n".join(lines) + "\n"


def summary(r: dict[str, Any]) -> str:
    """The one screen printed at the end."""
    a, load = r.get("accounting", {}), r.get("load", {})
    out = [f"=== stress {r['config']['name']}: {'PASS' if r['ok'] else 'FAIL'} ==="]
    if load:
        out.append(
            f"load     {load['rate_offered_per_s']}/s offered for {load['duration_s']:.0f}s: acked "
            f"{load['acked_per_s_mean']}/s (min {load['acked_per_s_min']}), landed "
            f"{load['landed_per_s_mean']}/s (min {load['landed_per_s_min']}); held: "
            f"{'yes' if load['held'] else 'NO'}"
        )
        out.append(
            f"chain    head {load['head_first_last'][0]}→{r['chain']['head_at_end']}; batch "
            f"{load['batch_mean_first_last'][0]}→{load['batch_mean_first_last'][1]} msgs/tx; "
            f"probe tx {load['probe_tx_ms_first_last'][0]}→{load['probe_tx_ms_first_last'][1]} ms"
        )
    for f in r.get("faults", []):
        bad = "error" in f or f.get("recovered_s") is None
        out.append(
            f"fault    {f['name']:<22} at {f['t_start']:>6}s  recovered in "
            f"{f.get('recovered_s')}s  {'!! ' + str(f.get('error', 'no recovery')) if bad else ''}"
        )
    if a:
        out.append(
            f"messages acknowledged {a['acknowledged']}  landed {a['landed']}  "
            f"duplicated {a['duplicated']}  lost {a['lost']}  phantom {a['phantom']}  "
            f"refused {a['refused']}  unacknowledged {a['unacknowledged']}"
        )
        out.append(
            f"checks   receipts {r['outbox']['receipt_status']}  tallies {r['tallies']['ok']}  "
            f"timebank {r['timebank']['ok']}  index {r['index']['ok']}"
        )
        if r["outbox"].get("not_counted"):
            out.append(f"!! not counted: {r['outbox']['not_counted']}")
    audit = r.get("audit", {})
    out.append(
        "audit    "
        + (
            ("clean" if audit.get("clean") else f"NOT clean: {audit.get('tail')}")
            if audit.get("available")
            else f"not available ({audit.get('detail')})"
        )
    )
    return "\n".join(out)


def write(results: dict[str, Any], out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    if "accounting" in results:
        (out_dir / f"{name}.md").write_text(markdown(results))
    print(summary(results) if "accounting" in results else f"stress {name}: FAIL (no results)")
