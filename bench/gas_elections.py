"""Gas of Elections, measured from receipts on a fresh anvil, side by side with the plain
council ballot in the same run (same roll, same relayer, same batch size).

1. Relayed signed ballots in batches of 100 from random voters of a 10,000-resident roll:
   council ballots (20 batches), ranked ballots over 10 candidates ranking up to 10 (every
   resident votes: 100 batches; rankings of random length 1..10, so some ballots exhaust), and
   approval ballots over 10 candidates for 3 seats (up to 3 approvals, 20 batches). TARGETS:
   ranked <= 16,000 and approval <= 15,000 gas per ballot.
2. The on-chain count of the 10,000 ranked ballots (instant runoff, one seat), in countStep
   transactions each sent with a gas limit of 16,777,216 (a step over it would fail): the
   number of transactions, total gas, the largest transaction, the rounds.
3. The same count for a second election whose ballots are sorted by first preference, and
   one counting three seats, to show the count's cost follows rounds, not ballot order.
4. Ranked ballots again (20 batches) on an election opened after those were counted: it reuses
   the storage of a counted election's ballots (nonzero to nonzero words).
   Opening an election primes its ballot box and a ranked one's first ballot words (at most 64
   words each), so a first batch writes no zero word: the opening's gas is reported too.
5. In-person ballots (20 batches) on that later election: each signed by one of two poll
   officers and relayed through the PollOffice, which checks the officer's signature and role
   and hands the batch to Elections (no voter signature there).

Run: `.venv/bin/python -m bench.gas_elections` -> bench/results/gas_elections.json and .md
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from ledger.build import Artifact, compile_sources
from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import create_address
from ledger.node import ephemeral_node, rpc
from ledger.protocol.generated import ElectionKind, Roles
from ledger.signing.election_ballots import encode_approval, encode_ranking
from ledger.tx import send
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.poll_office import PollOfficeContract
from tests.contract_wrappers.registry import RegistryContract

Account.enable_unaudited_hdwallet_features()

RESULTS = Path(__file__).resolve().parent / "results"
ROLL = 10_000
BATCH = 100
SAMPLE_BATCHES = 20
CANDIDATES = 10
COUNT_STEP = 20_000
TX_LIMIT = 16_777_216
TARGET_RANKED = 16_000
TARGET_APPROVAL = 15_000
ZERO_ADDRESS = "0x" + "00" * 20


def _deploy(w3: Web3, deployer: LocalAccount, artifact: Artifact, *args: Any) -> Contract:
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, deployer, factory.constructor(*args))
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi))


def _per_ballot(gas: list[float]) -> dict[str, Any]:
    return {
        "batches": len(gas),
        "first_batch_per_ballot": round(gas[0], 1),
        "mean_per_ballot": round(statistics.fmean(gas), 1),
        "max_batch_per_ballot": round(max(gas), 1),
    }


def _ranking(rng: random.Random) -> list[int]:
    return rng.sample(range(CANDIDATES), rng.randint(1, CANDIDATES))


def _count(elections: ElectionsContract, sender: LocalAccount, election_id: int) -> dict[str, Any]:
    record = elections.count(sender, election_id, step=COUNT_STEP, gas=TX_LIMIT)
    gas = [int(r["gasUsed"]) for r in record.receipts]
    return {
        "step_ballots": COUNT_STEP,
        "transactions": len(gas),
        "total_gas": sum(gas),
        "max_tx_gas": max(gas),
        "per_tx_gas": gas,
        "rounds": len(record.rounds),
        "winners": list(record.winners),
        "within_tx_limit": max(gas) <= TX_LIMIT,
    }


def measure() -> dict[str, Any]:
    settings = Settings()
    root = settings.project_root
    artifacts = compile_sources(
        [
            root / "contracts" / "CommonsForwarder.sol",
            root / "contracts" / "Registry.sol",
            root / "contracts" / "Council.sol",
            root / "contracts" / "Elections.sol",
            root / "contracts" / "PollOffice.sol",
        ],
        settings,
    )
    rng = random.Random(20261204)
    dev = [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)
    ]
    admin, relayer = dev[0], dev[9]
    residents = [Account.from_key(Web3.keccak(text=f"bench-resident-{i}")) for i in range(ROLL)]
    started = time.monotonic()
    with ephemeral_node(settings, extra_args=("--gas-limit", "60000000")) as node:
        w3 = node.w3
        forwarder = _deploy(w3, admin, artifacts["CommonsForwarder"])
        registry_contract = _deploy(w3, admin, artifacts["Registry"], forwarder.address)
        # No Initiatives here (the council's trusted opener is an address with no code), and no
        # Mandates or SecretBallot (plain ballots never read them).
        council = CouncilContract(
            w3,
            _deploy(
                w3,
                admin,
                artifacts["Council"],
                forwarder.address,
                registry_contract.address,
                ZERO_ADDRESS,
                ZERO_ADDRESS,
                ZERO_ADDRESS,
            ),
        )
        # Elections and the PollOffice name each other: the office lands one nonce later. No
        # ElectionProxies here (no proxy ballot is measured).
        office_address = create_address(
            admin.address, w3.eth.get_transaction_count(admin.address) + 1
        )
        elections_contract = _deploy(
            w3,
            admin,
            artifacts["Elections"],
            forwarder.address,
            registry_contract.address,
            office_address,
            ZERO_ADDRESS,
        )
        elections = ElectionsContract(w3, elections_contract)
        office = PollOfficeContract(
            w3,
            _deploy(
                w3,
                admin,
                artifacts["PollOffice"],
                forwarder.address,
                registry_contract.address,
                elections_contract.address,
            ),
            elections_contract,
        )
        registry = RegistryContract(w3, registry_contract)
        community = registry.create_community(admin, Web3.keccak(text="bench-elections"))
        registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
        registry.grant_role(admin, community, Roles.COMMITTEE, admin.address)
        officers = dev[1:3]
        for officer in officers:
            registry.grant_role(admin, community, Roles.POLL_OFFICER, officer.address)
        registry.publish_roll_in_batches(
            admin, community, [r.address for r in residents], batch_size=1000
        )
        now = int(w3.eth.get_block("latest")["timestamp"])
        proposal = council.open_proposal(
            admin, ProposalParams(community, Web3.keccak(text="bench"), now, now + 3600)
        )

        opening_gas: dict[str, int] = {}

        def open_(name: str = "", **fields: Any) -> int:
            params = ElectionParams(community, candidates(CANDIDATES), now, now + 3600, **fields)
            election = elections.open_election(admin, params)
            if name:
                opened = cast(HexBytes, w3.eth.get_block("latest")["transactions"][0])
                opening_gas[name] = int(w3.eth.get_transaction_receipt(opened)["gasUsed"])
            return election

        ranked, sorted_ranked = open_("ranked_fresh_storage"), open_()
        three_seats = open_(seats=3)
        approval = open_("approval", seats=3, kind=ElectionKind.Approval, max_choices=3)

        everyone = rng.sample(residents, ROLL)
        rankings = [_ranking(rng) for _ in everyone]
        council_gas, ranked_gas, approval_gas = [], [], []
        for b in range(ROLL // BATCH):
            group = everyone[b * BATCH : (b + 1) * BATCH]
            if b < SAMPLE_BATCHES:
                plain = [council.sign_ballot(v, proposal, rng.randrange(3)) for v in group]
                council_gas.append(council.cast_ballots(relayer, proposal, plain).gas_used / BATCH)
            signed_ranked = [
                elections.sign(v, ranked, encode_ranking(r))
                for v, r in zip(group, rankings[b * BATCH :], strict=False)
            ]
            batch = elections.cast_ballots(relayer, ranked, signed_ranked)
            assert len(batch.cast) == BATCH, batch.skipped[:3]
            ranked_gas.append(batch.gas_used / BATCH)
            if b < SAMPLE_BATCHES:
                sets = [
                    encode_approval(rng.sample(range(CANDIDATES), rng.randint(1, 3))) for _ in group
                ]
                signed_sets = [
                    elections.sign(v, approval, s) for v, s in zip(group, sets, strict=True)
                ]
                approval_gas.append(
                    elections.cast_ballots(relayer, approval, signed_sets).gas_used / BATCH
                )
        # The same ballots, cast in order of first preference, and again for three seats.
        order = sorted(range(ROLL), key=lambda i: rankings[i][0])
        for election in (sorted_ranked, three_seats):
            for b in range(ROLL // BATCH):
                picks = order[b * BATCH : (b + 1) * BATCH]
                signed = [
                    elections.sign(everyone[i], election, encode_ranking(rankings[i]))
                    for i in picks
                ]
                elections.cast_ballots(relayer, election, signed)
        rpc(w3, "evm_increaseTime", [3601])
        rpc(w3, "evm_mine")
        counts = {
            "ranked_one_seat": _count(elections, relayer, ranked),
            "ranked_one_seat_sorted_ballots": _count(elections, relayer, sorted_ranked),
            "ranked_three_seats": _count(elections, relayer, three_seats),
            "approval_three_seats": _count(elections, relayer, approval),
        }
        now = int(w3.eth.get_block("latest")["timestamp"])
        later = open_("ranked_reused_storage")
        later_gas = []
        for b in range(SAMPLE_BATCHES):
            group = everyone[b * BATCH : (b + 1) * BATCH]
            signed_later = [elections.sign(v, later, encode_ranking(_ranking(rng))) for v in group]
            later_gas.append(elections.cast_ballots(relayer, later, signed_later).gas_used / BATCH)
        in_person_gas = []
        for b in range(SAMPLE_BATCHES, 2 * SAMPLE_BATCHES):
            group = everyone[b * BATCH : (b + 1) * BATCH]
            vouched = [
                office.sign(officers[k % 2], later, v.address, encode_ranking(_ranking(rng)))
                for k, v in enumerate(group)
            ]
            in_person = office.cast(relayer, later, vouched)
            assert len(in_person.cast) == BATCH, (in_person.refused[:3], in_person.skipped[:3])
            in_person_gas.append(in_person.gas_used / BATCH)

    council_row = _per_ballot(council_gas)
    ranked_row = _per_ballot(ranked_gas)
    approval_row = _per_ballot(approval_gas)
    later_row = _per_ballot(later_gas)
    in_person_row = _per_ballot(in_person_gas)
    return {
        "setup": {
            "roll_size": ROLL,
            "batch_size": BATCH,
            "candidates": CANDIDATES,
            "ranked": "max 10 ranks, rankings of random length 1..10, every resident votes",
            "approval": "3 seats, 1..3 approvals per ballot",
            "voters": "random order over the roll",
            "compiler": "solc 0.8.28, optimizer 200 runs, evm cancun (brownie-config.yaml)",
            "node": "anvil (ephemeral), gas from transaction receipts",
            "seconds": round(time.monotonic() - started, 1),
        },
        "relayed_ballots": {
            "council": council_row,
            "ranked": ranked_row,
            "ranked_reused_storage": later_row,
            "ranked_in_person": in_person_row,
            "approval": approval_row,
        },
        "opening_gas": opening_gas,
        "count": counts,
        "meets_target": {
            "ranked_mean": ranked_row["mean_per_ballot"] <= TARGET_RANKED,
            "ranked_first_batch": ranked_row["first_batch_per_ballot"] <= TARGET_RANKED,
            "ranked_reused_mean": later_row["mean_per_ballot"] <= TARGET_RANKED,
            "ranked_reused_first_batch": later_row["first_batch_per_ballot"] <= TARGET_RANKED,
            "approval_mean": approval_row["mean_per_ballot"] <= TARGET_APPROVAL,
            "approval_first_batch": approval_row["first_batch_per_ballot"] <= TARGET_APPROVAL,
            "count_within_tx_limit": all(c["within_tx_limit"] for c in counts.values()),
        },
    }


def _markdown(r: dict[str, Any]) -> str:
    b, ok = r["relayed_ballots"], r["meets_target"]

    def mark(flag: bool) -> str:
        return "yes" if flag else "**no**"

    lines = [
        "# Elections gas (anvil, solc 0.8.28, optimizer 200, cancun)",
        "",
        f"Relayed signed ballots, batches of {r['setup']['batch_size']} random voters from a "
        f"{r['setup']['roll_size']:,}-resident roll, {r['setup']['candidates']} candidates; tx "
        "base cost and calldata included; the council ballot measured in the same run.",
        "",
        "| ballots (gas per ballot) | batches | first batch | mean | worst batch | target |",
        "|---|---:|---:|---:|---:|---|",
        f"| council ballot (yes/no/abstain) | {b['council']['batches']} | "
        f"{b['council']['first_batch_per_ballot']:,.0f} | {b['council']['mean_per_ballot']:,.0f}"
        f" | {b['council']['max_batch_per_ballot']:,.0f} | (15,000) |",
        f"| ranked, up to 10 ranks (first election: fresh storage) | {b['ranked']['batches']} | "
        f"{b['ranked']['first_batch_per_ballot']:,.0f} | {b['ranked']['mean_per_ballot']:,.0f} | "
        f"{b['ranked']['max_batch_per_ballot']:,.0f} | 16,000: mean {mark(ok['ranked_mean'])}, "
        f"first batch {mark(ok['ranked_first_batch'])} |",
        f"| ranked, later election (reused ballot storage) | "
        f"{b['ranked_reused_storage']['batches']} | "
        f"{b['ranked_reused_storage']['first_batch_per_ballot']:,.0f} | "
        f"{b['ranked_reused_storage']['mean_per_ballot']:,.0f} | "
        f"{b['ranked_reused_storage']['max_batch_per_ballot']:,.0f} | "
        f"16,000: mean {mark(ok['ranked_reused_mean'])}, "
        f"first batch {mark(ok['ranked_reused_first_batch'])} |",
        f"| ranked in person (officer-signed, through the PollOffice; reused storage) | "
        f"{b['ranked_in_person']['batches']} | "
        f"{b['ranked_in_person']['first_batch_per_ballot']:,.0f} | "
        f"{b['ranked_in_person']['mean_per_ballot']:,.0f} | "
        f"{b['ranked_in_person']['max_batch_per_ballot']:,.0f} | (none) |",
        f"| approval, up to 3 of 10 | {b['approval']['batches']} | "
        f"{b['approval']['first_batch_per_ballot']:,.0f} | "
        f"{b['approval']['mean_per_ballot']:,.0f} | {b['approval']['max_batch_per_ballot']:,.0f}"
        f" | 15,000: mean {mark(ok['approval_mean'])} |",
        "",
        "Opening an election primes its ballot box words and a ranked election's first ballot "
        "words that read zero (at most 64 each), so that no ballot batch writes a zero word: "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in r["opening_gas"].items())
        + " gas.",
        "",
        f"On-chain count, countStep of {COUNT_STEP:,} ballots per transaction, each sent with a "
        f"gas limit of {TX_LIMIT:,}:",
        "",
        "| count of 10,000 ballots | rounds | transactions | total gas | largest tx | winners |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, c in r["count"].items():
        lines.append(
            f"| {name.replace('_', ' ')} | {c['rounds']} | {c['transactions']} | "
            f"{c['total_gas']:,} | {c['max_tx_gas']:,} | {c['winners']} |"
        )
    lines += ["", f"Measured in {r['setup']['seconds']} s by `python -m bench.gas_elections`.", ""]
    return "\n".join(lines)


def main() -> None:
    results = measure()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gas_elections.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "gas_elections.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
