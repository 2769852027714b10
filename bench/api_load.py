"""API throughput: signed ballots accepted per second by one API process on this machine, the
acknowledgement latency, and the time from acceptance to on-chain inclusion.

The load generator runs in its own process (bench/loadgen.py) and talks to the real server
(`python -m api`, uvicorn) over loopback; the server relays to a real anvil.

    python -m bench.api_load [--ballots 20000] [--rate 1000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import coincurve
import httpx
from eth_account import Account

from bench import process_cpu
from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import deploy_system
from ledger.hashing import address_bytes
from ledger.node import child_pids, cpu_seconds, ephemeral_node, free_port, rpc
from ledger.protocol.generated import BallotKind, ProposalParams, Roles
from ledger.signing.digests import ballot_digest
from ledger.tx import send

RESULTS = Path(__file__).parent / "results"
ROLL_CHUNK = 1000


def _sign_chunk(job: tuple[bytes, int, list[tuple[str, int]]]) -> list[dict[str, Any]]:
    """Sign ballots fast (coincurve on the EIP-712 digest); the server checks them all."""
    separator, proposal, items = job
    out = []
    for key_hex, option in items:
        key = coincurve.PrivateKey(bytes.fromhex(key_hex))
        voter = Account.from_key(key.secret).address
        digest = ballot_digest(separator, proposal, address_bytes(voter), option)
        sig = key.sign_recoverable(digest, hasher=None)
        signature = sig[:64] + bytes([sig[64] + 27])
        out.append(
            {
                "proposalId": proposal,
                "voter": voter,
                "option": option,
                "signature": "0x" + signature.hex(),
            }
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ballots", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="offered load, ballots/s")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS / "api_load")
    args = parser.parse_args()

    Account.enable_unaudited_hdwallet_features()
    dev = [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(3)
    ]
    settings = Settings()
    tmp = Path(tempfile.mkdtemp(prefix="commons-bench-"))
    with ephemeral_node(settings) as node:
        w3 = node.w3
        print(f"deploying and publishing a roll of {args.ballots} residents ...", file=sys.stderr)
        attached = settings.model_copy(
            update={"rpc_url": node.url, "deployments_dir": tmp / "dep", "data_dir": tmp}
        )
        system = deploy_system(w3, dev[0], attached)
        admin, member = dev[1], dev[2]
        send(w3, admin, system.registry.functions.createCommunity(b"\x01" * 32))
        community = system.registry.functions.communityCount().call()
        for role in (Roles.COMMITTEE, Roles.REGISTRAR):
            send(w3, admin, system.registry.functions.grantRole(community, role, member.address))
        keys = [os.urandom(32) for _ in range(args.ballots)]
        addresses = [Account.from_key(k).address for k in keys]
        for start in range(0, len(addresses), ROLL_CHUNK):
            chunk = addresses[start : start + ROLL_CHUNK]
            publish = start + ROLL_CHUNK >= len(addresses)
            send(w3, member, system.registry.functions.updateRoll(community, chunk, [], publish))
        now = w3.eth.get_block("latest")["timestamp"]
        params = ProposalParams(
            communityId=community,
            textHash=b"\x02" * 32,
            kind=BallotKind.YesNoAbstain,
            optionCount=3,
            opensAt=now - 1,
            closesAt=now + 86_400,
            quorumBps=0,
            thresholdBps=5000,
            budgetAmount=0,
            budgetCurrency=bytes(3),
        )
        send(w3, member, system.council.functions.openProposal(params))
        proposal = system.council.functions.proposalCount().call()
        separator = bytes(system.council.functions.DOMAIN_SEPARATOR().call())

        print("signing ballots ...", file=sys.stderr)
        items = [(k.hex(), i % 3) for i, k in enumerate(keys)]
        chunks = [(separator, proposal, items[i : i + 2000]) for i in range(0, len(items), 2000)]
        with Pool(2) as pool:
            ballots = [b for part in pool.map(_sign_chunk, chunks) for b in part]
        ballots_file = tmp / "ballots.jsonl"
        ballots_file.write_text("\n".join(json.dumps(b) for b in ballots))

        relayer = Account.create()
        rpc(w3, "anvil_setBalance", [relayer.address, hex(10**24)])
        port = free_port()
        env = {
            **os.environ,
            "COMMONS_RPC_URL": node.url,
            "COMMONS_DATA_DIR": str(tmp / "var"),
            "COMMONS_DEPLOYMENTS_DIR": str(tmp / "dep"),
            "COMMONS_API_PORT": str(port),
            "COMMONS_RELAYER_KEY": relayer.key.hex(),
            "COMMONS_RELAY_MAX_QUEUED": str(args.ballots + 1),
        }
        url = f"http://127.0.0.1:{port}"
        with open(tmp / "api.log", "wb") as api_log:
            api = subprocess.Popen(
                [sys.executable, "-m", "api"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=api_log,
            )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            head_before = w3.eth.block_number
            worker_pids = child_pids(api.pid)
            cpu_before = {
                "api": process_cpu(api.pid),
                "worker": sum(process_cpu(p) for p in worker_pids),
                "anvil": process_cpu(node.proc.pid),
            }
            print(
                f"offering {args.rate:.0f} ballots/s from a separate process ...", file=sys.stderr
            )
            lat_file = tmp / "latencies.json"
            loadgen_argv = [
                *("--url", url, "--input", str(ballots_file), "--out", str(lat_file)),
                *("--rate", str(args.rate), "--concurrency", str(args.concurrency)),
            ]
            loadgen = subprocess.Popen([sys.executable, "-m", "bench.loadgen", *loadgen_argv])
            loadgen_cpu = 0.0
            while loadgen.poll() is None:
                loadgen_cpu = cpu_seconds(loadgen.pid) or loadgen_cpu
                time.sleep(0.2)
            if loadgen.returncode != 0:
                raise SystemExit("error: the load generator failed")
            load = json.loads(lat_file.read_text())
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                relay = httpx.get(f"{url}/v1/chain").json()["relay"]
                if relay.get("counted", 0) + relay.get("rejected", 0) >= args.ballots:
                    break
                time.sleep(0.25)
            cpu = {
                "api": process_cpu(api.pid) - cpu_before["api"],
                "worker": sum(process_cpu(p) for p in worker_pids) - cpu_before["worker"],
                "anvil": process_cpu(node.proc.pid) - cpu_before["anvil"],
            }
            cpu["loadgen"] = loadgen_cpu
            db = sqlite3.connect(tmp / "var" / "relay.sqlite")
            rows = db.execute("SELECT status, updated_at - accepted_at FROM messages").fetchall()
            db.close()
        finally:
            api.terminate()
            api.wait(30)
        inclusion = [d for s, d in rows if s == "counted"]
        tally = list(system.council.functions.tallyOf(proposal).call())
        txs = sum(
            len(w3.eth.get_block(n)["transactions"])
            for n in range(head_before + 1, w3.eth.block_number + 1)
        )

    acks = load["latencies_ms"]
    result = {
        "command": "python -m bench.api_load " + " ".join(sys.argv[1:]),
        "machine": {"cores": os.cpu_count()},
        "ballots": args.ballots,
        "offered_rate_per_s": args.rate,
        "concurrency": args.concurrency,
        "accepted": load["accepted"],
        "errors": load["errors"],
        "accepted_per_s": round(load["accepted"] / load["seconds"], 1),
        "ack_ms": {
            "p50": round(percentile(acks, 50), 2),
            "p95": round(percentile(acks, 95), 2),
            "p99": round(percentile(acks, 99), 2),
            "max": round(max(acks), 2),
        },
        "inclusion_s": {
            "p50": round(percentile(inclusion, 50), 3),
            "p99": round(percentile(inclusion, 99), 3),
            "max": round(max(inclusion), 3),
            "mean": round(statistics.fmean(inclusion), 3),
        },
        "counted": len(inclusion),
        "on_chain_tally": tally,
        "relay_transactions": txs,
        "cpu_ms_per_ballot": {k: round(v * 1000 / args.ballots, 3) for k, v in cpu.items()},
        "api_capacity_per_cpu_core": round(args.ballots / cpu["api"], 1),
        "targets": {"accepted_per_s": ">= 1000", "ack_p99_ms": "<= 50", "inclusion_p99_s": "<= 5"},
    }
    result["met"] = {
        # Sustained: every ballot offered was acknowledged, none refused, at an offered rate of
        # at least 1,000/s (the measured rate is offered/duration, a hair under the offered one
        # because the last acknowledgements arrive after the last request was due).
        "accepted_per_s": args.rate >= 1000
        and load["accepted"] == args.ballots
        and not load["errors"]
        and result["accepted_per_s"] >= 0.99 * args.rate,
        "ack_p99_ms": result["ack_ms"]["p99"] <= 50,
        "inclusion_p99_s": result["inclusion_s"]["p99"] <= 5,
        "all_counted": len(inclusion) == args.ballots == sum(tally),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    r = result
    rows = [
        (
            f"accepted ballots/s (all {args.ballots:,} offered at {args.rate:,.0f}/s acknowledged,"
            f" errors: {r['errors'] or 'none'})",
            r["accepted_per_s"],
            "≥ 1,000 sustained",
            r["met"]["accepted_per_s"],
        ),
        (
            "ack latency p50 / p99 / max (ms)",
            " / ".join(str(r["ack_ms"][k]) for k in ("p50", "p99", "max")),
            "p99 ≤ 50",
            r["met"]["ack_p99_ms"],
        ),
        (
            "acceptance → inclusion p50 / p99 / max (s)",
            " / ".join(str(r["inclusion_s"][k]) for k in ("p50", "p99", "max")),
            "p99 ≤ 5",
            r["met"]["inclusion_p99_s"],
        ),
        (
            "ballots counted on-chain / sent",
            f"{len(inclusion)} / {args.ballots} (tally {tally})",
            "all",
            r["met"]["all_counted"],
        ),
        ("relay transactions", txs, "", ""),
        (
            "CPU per ballot (ms): API process (accept) / relay worker (send + settle + index)"
            " / anvil / load generator",
            " / ".join(
                str(r["cpu_ms_per_ballot"][k]) for k in ("api", "worker", "anvil", "loadgen")
            ),
            "",
            "",
        ),
        (
            "API capacity on one dedicated core (ballots/s, from its CPU time)",
            r["api_capacity_per_cpu_core"],
            "≥ 1,000",
            r["api_capacity_per_cpu_core"] >= 1000,
        ),
    ]
    md = [
        "# API load: signed ballots through one API process",
        "",
        f"`{r['command']}` on {os.cpu_count()} cores; "
        "load generator in a separate process on loopback.",
        "",
        "| measure | value | target | met |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
