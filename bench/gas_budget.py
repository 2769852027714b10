"""Gas of ParticipatoryBudget, measured from receipts on a fresh anvil, side by side with the
plain council ballot in the same run (same roll, same relayer, same batch size).

1. Relayed signed ballots in batches of 100 from random voters of a 10,000-resident roll:
   council ballots (20 batches) and budget ballots choosing 6 of 20 projects under the knapsack
   rule, checked on-chain against the budget (20 batches). TARGET: <= 20,000 gas per ballot.
   A round's first batch would pay for fresh storage (its 100 random voters fall in 37 of the
   40 ballot-box words of the roll, each written zero to nonzero: 22,100 gas instead of 5,000,
   about 6,800 gas a ballot over the later batches); the round's opening prepares those words
   instead, and its gas is reported. The 3 tally words of 20 projects stay fresh (~500 a ballot).
2. The selection of a round of 64 projects (voted by 2,000 residents, 1..6 projects each,
   knapsack; the budget a quarter of all costs), grants for the selected projects included.
   TARGET: <= 1,000,000 gas.
3. The largest transactions of a round of 256 projects, every one voted for and every one
   selected (the budget covers them all, so the selection opens 256 grants): the ballot batch of
   100 ballots choosing 20 projects each, and the selection, each sent with a gas limit of
   16,777,216 (a transaction over it would fail). TARGET: none over 16,777,216.

Run: `.venv/bin/python -m bench gas_budget` -> bench/results/gas_budget.json and .md
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
from web3 import Web3

from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import Deployment, deploy_system
from ledger.node import ephemeral_node, rpc
from ledger.protocol.generated import BudgetRule, Roles, SourceKind
from ledger.tx import send
from tests.contract_wrappers.budget import BudgetContract, RoundParams, bitmap
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.registry import RegistryContract

Account.enable_unaudited_hdwallet_features()

RESULTS = Path(__file__).resolve().parent / "results"
ROLL = 10_000
BATCH = 100
SAMPLE_BATCHES = 20
BALLOT_PROJECTS = 20
BALLOT_CHOICES = 6
SELECTION_PROJECTS = 64
LARGEST_PROJECTS = 256
LARGEST_CHOICES = 20
TX_LIMIT = 16_777_216
TARGET_BALLOT = 20_000
TARGET_SELECTION_64 = 1_000_000
WINDOW_S = 3_600
FUND_INCOME = 10**12


def _per_ballot(gas: list[float]) -> dict[str, Any]:
    return {
        "batches": len(gas),
        "first_batch_per_ballot": round(gas[0], 1),
        "mean_per_ballot": round(statistics.fmean(gas), 1),
        "max_batch_per_ballot": round(max(gas), 1),
    }


class _Bench:
    """A community of ROLL residents on a fresh deployment, its fund in CNY."""

    def __init__(self, w3: Web3, system: Deployment, admin: LocalAccount, relayer: LocalAccount):
        self.w3, self.admin, self.relayer = w3, admin, relayer
        self.budget = BudgetContract(w3, system.budget, system.fund)
        self.council = CouncilContract(w3, system.council)
        registry = RegistryContract(w3, system.registry)
        self.community = registry.create_community(admin, Web3.keccak(text="bench-budget"))
        registry.grant_role(admin, self.community, Roles.REGISTRAR, admin.address)
        registry.grant_role(admin, self.community, Roles.COMMITTEE, admin.address)
        self.residents = [
            Account.from_key(Web3.keccak(text=f"bench-resident-{i}")) for i in range(ROLL)
        ]
        registry.publish_roll_in_batches(
            admin, self.community, [r.address for r in self.residents], batch_size=1000
        )
        income = system.fund.functions.recordIncome(
            self.community, int(SourceKind.Other), FUND_INCOME, b"CNY", b"\x01" * 32
        )
        send(w3, admin, income)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> None:
        rpc(self.w3, "evm_increaseTime", [seconds])
        rpc(self.w3, "evm_mine")


def _round(
    bench: _Bench, proposers: list[LocalAccount], costs: list[int], budget: int, **fields: Any
) -> tuple[int, int]:
    """Open a round and submit `costs` as its projects (from funded residents); voting open.
    The round's id and the gas its opening took."""
    now = bench.now()
    params = RoundParams(
        bench.community,
        now,
        now + WINDOW_S,
        now + WINDOW_S,
        now + 2 * WINDOW_S,
        budget=budget,
        **fields,
    )
    round_id = bench.budget.open_round(bench.admin, params)
    # Anvil mines each transaction alone: the newest block's is the opening.
    opening = bench.w3.eth.get_transaction_by_block("latest", 0)["hash"]
    open_gas = int(bench.w3.eth.get_transaction_receipt(opening)["gasUsed"])
    for i, cost in enumerate(costs):
        bench.budget.submit(proposers[i % len(proposers)], round_id, cost, f"p{i}".encode())
    return round_id, open_gas


def _cast_all(
    bench: _Bench, round_id: int, voters: list[LocalAccount], ballots: list[int]
) -> list[int]:
    """Casts the ballots in batches of BATCH; the gas of each batch."""
    gas = []
    for start in range(0, len(voters), BATCH):
        signed = [
            bench.budget.sign(v, round_id, b)
            for v, b in zip(
                voters[start : start + BATCH], ballots[start : start + BATCH], strict=True
            )
        ]
        batch = bench.budget.cast(bench.relayer, round_id, signed, gas=TX_LIMIT)
        assert len(batch.cast) == len(signed), batch.skipped[:3]
        gas.append(batch.gas)
    return gas


def _knapsack_ballot(rng: random.Random, costs: list[int], budget: int, most: int) -> int:
    """1..`most` random projects whose costs fit `budget` (drawn until they do)."""
    while True:
        picks = rng.sample(range(len(costs)), rng.randint(1, most))
        if sum(costs[i] for i in picks) <= budget:
            return bitmap(*picks)


def measure() -> dict[str, Any]:
    settings = Settings()
    rng = random.Random(20261204)
    dev = [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)
    ]
    admin, relayer = dev[0], dev[9]
    started = time.monotonic()
    with ephemeral_node(settings, extra_args=("--gas-limit", "60000000")) as node:
        w3 = node.w3
        system = deploy_system(w3, admin, settings, force=True, write=False)
        bench = _Bench(w3, system, admin, relayer)
        # Funded dev accounts submit the projects: on the roll beside the 10,000 signers.
        proposers = dev[1:4]
        registry = RegistryContract(w3, system.registry)
        registry.update_roll(admin, bench.community, [p.address for p in proposers])
        everyone = rng.sample(bench.residents, ROLL)

        # 1. ballots: 6 of 20 under the knapsack rule, beside council ballots
        costs20 = [rng.randrange(10_000, 100_000) for _ in range(BALLOT_PROJECTS)]
        budget20 = sum(sorted(costs20)[-BALLOT_CHOICES:])  # any 6 fit
        ballot_round, open_gas = _round(
            bench, proposers, costs20, budget20, max_projects=BALLOT_CHOICES
        )
        now = bench.now()
        proposal = bench.council.open_proposal(
            admin,
            ProposalParams(bench.community, Web3.keccak(text="bench"), now, now + 3 * WINDOW_S),
        )
        bench.advance(WINDOW_S)
        council_gas: list[float] = []
        budget_gas: list[float] = []
        for b in range(SAMPLE_BATCHES):
            group = everyone[b * BATCH : (b + 1) * BATCH]
            plain = [bench.council.sign_ballot(v, proposal, rng.randrange(3)) for v in group]
            council_gas.append(
                bench.council.cast_ballots(relayer, proposal, plain).gas_used / BATCH
            )
            six = [bitmap(*rng.sample(range(BALLOT_PROJECTS), BALLOT_CHOICES)) for _ in group]
            budget_gas.extend(g / BATCH for g in _cast_all(bench, ballot_round, group, six))

        # 2. selection of 64 projects
        costs64 = [rng.randrange(10_000, 200_000) for _ in range(SELECTION_PROJECTS)]
        budget64 = sum(costs64) // 4
        select_round, _ = _round(bench, proposers, costs64, budget64, max_projects=BALLOT_CHOICES)
        bench.advance(WINDOW_S)
        voters64 = everyone[: SAMPLE_BATCHES * BATCH]
        ballots64 = [_knapsack_ballot(rng, costs64, budget64, BALLOT_CHOICES) for _ in voters64]
        _cast_all(bench, select_round, voters64, ballots64)

        # 3. 256 projects, every one voted for and selected
        costs256 = [rng.randrange(1_000, 100_000) for _ in range(LARGEST_PROJECTS)]
        big_round, _ = _round(
            bench,
            proposers,
            costs256,
            sum(costs256),
            rule=BudgetRule.KApproval,
            max_projects=LARGEST_CHOICES,
        )
        bench.advance(WINDOW_S)
        voters256 = everyone[: SAMPLE_BATCHES * BATCH]
        # Voter k chooses projects k*20 .. k*20+19 (mod 256) first, so every project has votes.
        ballots256 = [
            bitmap(*((k * LARGEST_CHOICES + j) % LARGEST_PROJECTS for j in range(LARGEST_CHOICES)))
            for k in range(len(voters256))
        ]
        batch256 = _cast_all(bench, big_round, voters256, ballots256)

        bench.advance(WINDOW_S)
        walk64 = bench.budget.select(relayer, select_round, gas=TX_LIMIT)
        walk256 = bench.budget.select(relayer, big_round, gas=TX_LIMIT)
        assert walk256.selected == 2**LARGEST_PROJECTS - 1

    council_row = _per_ballot(council_gas)
    budget_row = _per_ballot(budget_gas)
    largest = max(max(batch256), walk256.gas)
    return {
        "setup": {
            "roll_size": ROLL,
            "batch_size": BATCH,
            "ballot": f"{BALLOT_CHOICES} of {BALLOT_PROJECTS} projects, knapsack",
            "selection_round": (
                f"{SELECTION_PROJECTS} projects, {len(voters64)} voters choosing 1..6 under "
                "the knapsack rule, budget a quarter of all costs"
            ),
            "largest_round": (
                f"{LARGEST_PROJECTS} projects, k-approval of {LARGEST_CHOICES}, every project "
                "voted for and selected"
            ),
            "voters": "random order over the roll",
            "compiler": "solc 0.8.28, optimizer 200 runs, evm cancun (brownie-config.yaml)",
            "node": "anvil (ephemeral), gas from transaction receipts",
            "seconds": round(time.monotonic() - started, 1),
        },
        "relayed_ballots": {"council": council_row, "budget": budget_row},
        # The committee member's opening primes the ballot box's words of the roll.
        "round_open_gas": open_gas,
        "selection_64": {
            "gas": walk64.gas,
            "walked": len(walk64.steps),
            "selected": bin(walk64.selected).count("1"),
            "budget": budget64,
            "spent": walk64.spent,
        },
        "largest_256": {
            "ballot_batch_max_gas": max(batch256),
            "selection_gas": walk256.gas,
            "selected": bin(walk256.selected).count("1"),
        },
        "meets_target": {
            "ballot_mean": budget_row["mean_per_ballot"] <= TARGET_BALLOT,
            "ballot_first_batch": budget_row["first_batch_per_ballot"] <= TARGET_BALLOT,
            "ballot_worst_batch": budget_row["max_batch_per_ballot"] <= TARGET_BALLOT,
            "selection_64": walk64.gas <= TARGET_SELECTION_64,
            "largest_within_tx_limit": largest <= TX_LIMIT,
        },
    }


def _markdown(r: dict[str, Any]) -> str:
    b, ok, s64, big = r["relayed_ballots"], r["meets_target"], r["selection_64"], r["largest_256"]

    def mark(flag: bool) -> str:
        return "yes" if flag else "**no**"

    def row(name: str, x: dict[str, Any], target: str) -> str:
        return (
            f"| {name} | {x['batches']} | {x['first_batch_per_ballot']:,.0f} | "
            f"{x['mean_per_ballot']:,.0f} | {x['max_batch_per_ballot']:,.0f} | {target} |"
        )

    lines = [
        "# Participatory budget gas (anvil, solc 0.8.28, optimizer 200, cancun)",
        "",
        f"Relayed signed ballots, batches of {r['setup']['batch_size']} random voters from a "
        f"{r['setup']['roll_size']:,}-resident roll; tx base cost and calldata included; the "
        "council ballot measured in the same run.",
        "",
        "| ballots (gas per ballot) | batches | first batch | mean | worst batch | target |",
        "|---|---:|---:|---:|---:|---|",
        row("council ballot (yes/no/abstain)", b["council"], "(15,000)"),
        row(
            f"budget ballot, {r['setup']['ballot']}",
            b["budget"],
            f"20,000: worst batch {mark(ok['ballot_worst_batch'])}",
        ),
        "",
        f"Opening the ballot round: {r['round_open_gas']:,} gas, paid by the committee member who "
        f"opens it (it primes the ballot box's words for the {r['setup']['roll_size'] + 3:,} "
        "residents, so that no voters' batch writes a zero word).",
        "",
        "| selection | gas | walked | selected | target |",
        "|---|---:|---:|---:|---|",
        f"| {SELECTION_PROJECTS} projects, budget {s64['budget']:,} (spent {s64['spent']:,}), "
        f"grants included | {s64['gas']:,} | {s64['walked']} | {s64['selected']} | "
        f"1,000,000: {mark(ok['selection_64'])} |",
        f"| {LARGEST_PROJECTS} projects, every one selected (256 grants) | "
        f"{big['selection_gas']:,} | {LARGEST_PROJECTS} | {big['selected']} | "
        f"{TX_LIMIT:,}: {mark(big['selection_gas'] <= TX_LIMIT)} |",
        "",
        f"Largest ballot batch of the {LARGEST_PROJECTS}-project round ({BATCH} ballots of "
        f"{LARGEST_CHOICES} projects): {big['ballot_batch_max_gas']:,} gas "
        f"(<= {TX_LIMIT:,}: {mark(big['ballot_batch_max_gas'] <= TX_LIMIT)}).",
        "",
        f"Measured in {r['setup']['seconds']} s by `python -m bench gas_budget`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    results = measure()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gas_budget.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "gas_budget.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
