"""Gas of relayed initiative co-signatures, side by side with the Council's relayed ballots and a
direct vote, in the same run on the same roll (the whole system deployed by ledger.deploy).

1. Co-signatures relayed in batches of 100 from random residents of a 10,000-resident roll:
   signature, eligibility at the snapshot and one-per-resident checks, transaction base cost and
   calldata included. TARGET: at most 15,000 gas per co-signature. Five batches on a community's
   first initiative (its co-signer bitmap is fresh: each word's first bit is written zero to
   nonzero), five on a later one (which takes over the first's bitmap once that expired), and
   the batch that reaches the threshold, which also opens the council proposal.
2. The Council's relayed ballots on the same roll, five batches of 100 on a community's first
   proposal (a fresh ballot box), and a resident's direct vote (bench/gas_council.py's 46,790).

Run: `.venv/bin/python -m bench.gas_initiatives` → bench/results/gas_initiatives.json and .md
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3

from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import deploy_system
from ledger.node import ephemeral_node, rpc
from ledger.protocol.generated import InitiativeRules, Roles
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.initiatives import InitiativesContract
from tests.contract_wrappers.registry import RegistryContract

Account.enable_unaudited_hdwallet_features()

RESULTS = Path(__file__).resolve().parent / "results"
ROLL = 10_000
BATCH = 100
BATCHES = 5
ROLL_BATCH = 1_000
TARGET_PER_COSIGNATURE = 15_000
YES = 0
# Never reached while measuring the plain batches.
UNREACHABLE = InitiativeRules(10_000, 3600, 3600, 0, 5000)
# 150 of 10,000: the second batch of 100 reaches it.
REACHABLE = InitiativeRules(150, 3600, 3600, 0, 5000)


def _per_item(gas: list[int]) -> dict[str, Any]:
    per = [g / BATCH for g in gas]
    return {
        "batches": len(per),
        "batch_size": BATCH,
        "first_batch": round(per[0], 1),
        "mean": round(statistics.fmean(per), 1),
        "worst_batch": round(max(per), 1),
        "per_batch": [round(p, 1) for p in per],
    }


def measure() -> dict[str, Any]:
    settings = Settings()
    rng = random.Random(20261204)
    dev = [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)
    ]
    admin, relayer = dev[0], dev[9]
    keys = [Web3.keccak(text=f"bench-resident-{i}") for i in range(ROLL - len(dev))]
    residents: list[LocalAccount] = dev + [Account.from_key(k) for k in keys]
    signing_only = residents[len(dev) :]
    started = time.monotonic()
    with ephemeral_node(settings, extra_args=("--gas-limit", "60000000")) as node:
        w3 = node.w3
        system = deploy_system(w3, admin, settings, force=True, write=False)
        registry = RegistryContract(w3, system.registry)
        council = CouncilContract(w3, system.council)
        initiatives = InitiativesContract(w3, system.initiatives)
        community = registry.create_community(admin, Web3.keccak(text="bench-initiatives"))
        registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
        registry.grant_role(admin, community, Roles.COMMITTEE, admin.address)
        registry.publish_roll_in_batches(
            admin, community, [r.address for r in residents], batch_size=ROLL_BATCH
        )

        # Co-signatures on initiatives never reaching their threshold.
        initiatives.set_rules(admin, community, UNREACHABLE)

        def collect(iid: int) -> list[int]:
            gas = []
            cosigners = rng.sample(signing_only, BATCH * BATCHES)
            for start in range(0, len(cosigners), BATCH):
                signed = [initiatives.sign(r, iid) for r in cosigners[start : start + BATCH]]
                batch = initiatives.co_sign(relayer, iid, signed)
                assert len(batch.cosigned) == BATCH and not batch.skipped, batch.skipped[:3]
                gas.append(batch.gas_used)
            return gas

        def last_gas() -> int:
            """The newest block's transaction's gas (anvil mines each transaction alone)."""
            tx = w3.eth.get_transaction_by_block("latest", 0)["hash"]
            return int(w3.eth.get_transaction_receipt(tx)["gasUsed"])

        first_initiative = initiatives.submit(dev[1], community)
        submissions = {"fresh": last_gas()}  # it primes the community's first bitmap
        fresh_gas = collect(first_initiative)
        rpc(w3, "evm_increaseTime", [UNREACHABLE.signingPeriod + 1])
        rpc(w3, "evm_mine")
        later_initiative = initiatives.submit(dev[1], community)  # takes over the bitmap
        submissions["reused"] = last_gas()
        reused_gas = collect(later_initiative)

        # The batch that reaches the threshold opens the council proposal in the same transaction.
        initiatives.set_rules(admin, community, REACHABLE)
        reached = initiatives.submit(dev[1], community)
        voters = rng.sample(signing_only, 2 * BATCH)
        first = initiatives.co_sign(
            relayer, reached, [initiatives.sign(r, reached) for r in voters[:BATCH]]
        )
        crossing = initiatives.co_sign(
            relayer, reached, [initiatives.sign(r, reached) for r in voters[BATCH:]]
        )
        assert first.promoted_to is None and crossing.promoted_to is not None

        # The Council's ballots on the same roll, a fresh ballot box, same batch size.
        now = int(w3.eth.get_block("latest")["timestamp"])
        pid = council.open_proposal(
            admin, ProposalParams(community, Web3.keccak(text="bench"), now, now + 3600)
        )
        ballot_gas = []
        ballot_voters = rng.sample(signing_only, BATCH * BATCHES)
        for start in range(0, len(ballot_voters), BATCH):
            ballots = [
                council.sign_ballot(v, pid, rng.randrange(3))
                for v in ballot_voters[start : start + BATCH]
            ]
            result = council.cast_ballots(relayer, pid, ballots)
            assert len(result.cast) == BATCH and not result.skipped
            ballot_gas.append(result.gas_used)
        vote = council.cast_vote(dev[2], pid, YES)  # a later voter, as in gas_council
        direct = int(w3.eth.get_transaction_receipt(HexBytes(vote.tx_hash))["gasUsed"])

    fresh, reused = _per_item(fresh_gas), _per_item(reused_gas)
    return {
        "setup": {
            "roll_size": ROLL,
            "batch_size": BATCH,
            "batches": BATCHES,
            "signers": "random sample of the roll",
            "compiler": "solc 0.8.28, optimizer 200 runs, evm cancun (brownie-config.yaml)",
            "node": "anvil (ephemeral), gas from transaction receipts",
            "seconds": round(time.monotonic() - started, 1),
        },
        "target_per_cosignature": TARGET_PER_COSIGNATURE,
        "cosignatures": {"fresh_bitmap": fresh, "reused_bitmap": reused},
        "submission_gas": submissions,
        "reaching_batch": {
            "per_cosignature": round(crossing.gas_used / BATCH, 1),
            "previous_batch_gas": first.gas_used,
            "total_gas": crossing.gas_used,
        },
        "council_ballots": _per_item(ballot_gas),
        "council_direct_vote_later_voter": direct,
        "meets_target": {
            f"{name}_{figure}": row[figure] <= TARGET_PER_COSIGNATURE
            for name, row in (("fresh", fresh), ("reused", reused))
            for figure in ("first_batch", "mean", "worst_batch")
        },
    }


def _markdown(r: dict[str, Any]) -> str:
    b, x = r["council_ballots"], r["reaching_batch"]
    ok = r["meets_target"]

    def mark(flag: bool) -> str:
        return "yes" if flag else "**no**"

    def row(label: str, name: str) -> str:
        c = r["cosignatures"][f"{name}_bitmap"]
        return (
            f"| {label} | {c['first_batch']:,.0f} | {c['mean']:,.0f} | {c['worst_batch']:,.0f} "
            f"| first: {mark(ok[f'{name}_first_batch'])}, mean: {mark(ok[f'{name}_mean'])}, "
            f"worst: {mark(ok[f'{name}_worst_batch'])} |"
        )

    n = r["setup"]["batches"]
    return "\n".join(
        [
            "# Initiatives gas (anvil, solc 0.8.28, optimizer 200, cancun)",
            "",
            f"Relayed, batches of {r['setup']['batch_size']} random residents of a "
            f"{r['setup']['roll_size']:,}-resident roll, {n} batches; tx base cost and calldata "
            f"included. Target <= {r['target_per_cosignature']:,} gas per co-signature.",
            "",
            f"| gas per item | first batch | mean of {n} | worst batch | meets target |",
            "|---|---:|---:|---:|---|",
            row("co-signature, a community's first initiative (fresh bitmap)", "fresh"),
            row("co-signature, a later initiative (reused bitmap)", "reused"),
            f"| council ballot, same run (fresh ballot box) | {b['first_batch']:,.0f} | "
            f"{b['mean']:,.0f} | {b['worst_batch']:,.0f} | |",
            "",
            f"Submitting the community's first initiative: {r['submission_gas']['fresh']:,} gas "
            "(relayed for its author; it primes the fresh bitmap's words for the roll, so that "
            "no batch of co-signatures writes a zero word); a later initiative taking over the "
            f"bitmap: {r['submission_gas']['reused']:,}.",
            "",
            f"The batch that reaches the threshold and opens the council proposal: "
            f"{x['per_cosignature']:,.0f} gas per co-signature ({x['total_gas']:,} in all; the "
            f"batch before it, on the same initiative: {x['previous_batch_gas']:,}).",
            "",
            f"A resident's direct council vote (later voter), same run: "
            f"{r['council_direct_vote_later_voter']:,} gas.",
            "",
            f"Measured in {r['setup']['seconds']} s by `python -m bench.gas_initiatives`.",
            "",
        ]
    )


def main() -> None:
    results = measure()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gas_initiatives.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "gas_initiatives.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
