"""Gas of the Council and the Registry, measured from receipts on a fresh anvil, side by side
with a standard OpenZeppelin Governor (GovernorCountingSimple + GovernorVotes over ERC20Votes,
npm @openzeppelin/contracts, compiled here with the project's compiler settings).

1. Publishing a 10,000-resident roll in batches of 100, 500 and 1,000 (total and per resident).
2. Relayed signed ballots in batches of 100 from random voters of that 10,000-resident roll,
   eligibility, signature and double-vote checks included, transaction base cost and calldata
   included. TARGET: at most 15,000 gas per ballot. Reported for a realistic election of 20
   batches (first batch and mean) twice: on the community's first proposal, whose ballot box is
   fresh (every bitmap word written zero to nonzero), and on the next proposal, which reuses the
   closed proposal's box.
3. A resident's direct vote (a later voter, and the first vote into a fresh ballot box) against
   Governor.castVote and castVoteBySig by a later voter.

Run: `.venv/bin/python -m bench.gas_council` → bench/results/gas_council.json and .md
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
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.build import Artifact, compile_sources
from ledger.config import DEV_MNEMONIC, Settings
from ledger.node import ephemeral_node, rpc
from ledger.protocol.generated import Roles
from ledger.signing.ballots import SignedBallot
from ledger.signing.eip712 import domain_for, sign_typed_data
from ledger.tx import send
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.registry import RegistryContract

Account.enable_unaudited_hdwallet_features()

RESULTS = Path(__file__).resolve().parent / "results"
ROLL = 10_000
BATCH = 100
BATCHES = 20
ROLL_BATCH_SIZES = (100, 500, 1000)
TARGET_PER_BALLOT = 15_000
GOVERNOR_VOTERS = 8
YES = 0


def _gas(receipt: TxReceipt) -> int:
    return int(receipt["gasUsed"])


def _deploy(w3: Web3, deployer: LocalAccount, artifact: Artifact, *args: Any) -> Contract:
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, deployer, factory.constructor(*args))
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi))


def _residents(dev: list[LocalAccount]) -> list[LocalAccount]:
    """The roll: the funded dev accounts first (they vote directly), then signing-only keys."""
    keys = [Web3.keccak(text=f"bench-resident-{i}") for i in range(ROLL - len(dev))]
    return dev + [Account.from_key(k) for k in keys]


def _publish_roll(
    registry: RegistryContract, admin: LocalAccount, residents: list[LocalAccount], batch_size: int
) -> tuple[int, dict[str, Any]]:
    community = registry.create_community(admin, Web3.keccak(text=f"bench-{batch_size}"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, admin.address)
    updates = registry.publish_roll_in_batches(
        admin, community, [r.address for r in residents], batch_size=batch_size
    )
    total = sum(_gas(u.receipt) for u in updates)
    return community, {
        "batch_size": batch_size,
        "residents": len(residents),
        "transactions": len(updates),
        "total_gas": total,
        "per_resident": round(total / len(residents), 1),
        "max_tx_gas": max(_gas(u.receipt) for u in updates),
    }


def _election(
    council: CouncilContract,
    relayer: LocalAccount,
    proposal_id: int,
    voters: list[LocalAccount],
    rng: random.Random,
) -> dict[str, Any]:
    ballots: list[SignedBallot] = [
        council.sign_ballot(v, proposal_id, rng.randrange(3)) for v in voters
    ]
    per_ballot = []
    for start in range(0, len(ballots), BATCH):
        result = council.cast_ballots(relayer, proposal_id, ballots[start : start + BATCH])
        assert len(result.cast) == BATCH and not result.skipped, result.skipped[:3]
        per_ballot.append(result.gas_used / BATCH)
    return {
        "batches": len(per_ballot),
        "batch_size": BATCH,
        "first_batch_per_ballot": round(per_ballot[0], 1),
        "mean_per_ballot": round(statistics.fmean(per_ballot), 1),
        "max_batch_per_ballot": round(max(per_ballot), 1),
        "last_batch_per_ballot": round(per_ballot[-1], 1),
        "per_batch": [round(g, 1) for g in per_ballot],
    }


def _governor(w3: Web3, artifacts: dict[str, Artifact], dev: list[LocalAccount]) -> dict[str, Any]:
    deployer = dev[0]
    token = _deploy(w3, deployer, artifacts["BenchVotesToken"])
    governor = _deploy(w3, deployer, artifacts["BenchGovernor"], token.address)
    voters = dev[1 : 1 + GOVERNOR_VOTERS]
    for voter in voters:
        send(w3, deployer, token.functions.mint(voter.address, 10**18))
        send(w3, voter, token.functions.delegate(voter.address))
    rpc(w3, "evm_mine")

    def propose(description: str) -> int:
        receipt = send(
            w3, deployer, governor.functions.propose([token.address], [0], [b""], description)
        )
        (created,) = governor.events.ProposalCreated().process_receipt(receipt)
        return int(created["args"]["proposalId"])

    first, second = propose("bench proposal 1"), propose("bench proposal 2")
    for _ in range(3):
        rpc(w3, "evm_mine")
    cast_vote = [_gas(send(w3, v, governor.functions.castVote(first, 1))) for v in voters[:4]]
    domain = domain_for("BenchGovernor", "1", w3.eth.chain_id, governor.address)
    types = {
        "Ballot": [
            {"name": "proposalId", "type": "uint256"},
            {"name": "support", "type": "uint8"},
            {"name": "voter", "type": "address"},
            {"name": "nonce", "type": "uint256"},
        ]
    }

    def by_sig(proposal_id: int, voter: LocalAccount) -> int:
        message = {
            "proposalId": proposal_id,
            "support": 1,
            "voter": voter.address,
            "nonce": governor.functions.nonces(voter.address).call(),
        }
        signature = sign_typed_data(voter, domain, types, "Ballot", message)
        call = governor.functions.castVoteBySig(proposal_id, 1, voter.address, signature)
        return _gas(send(w3, deployer, call))  # relayed: the deployer pays

    # A voter's first signature ever also writes their nonce zero to nonzero; on the second
    # proposal the same voters have signed before.
    first_signature = [by_sig(first, v) for v in voters[4:]]
    signed_before = [by_sig(second, v) for v in voters[4:]]
    return {
        "castVote_first_voter": cast_vote[0],
        "castVote_later_voter": cast_vote[-1],
        "castVoteBySig_later_voter": signed_before[-1],
        "castVoteBySig_later_voter_first_signature": first_signature[-1],
    }


def measure() -> dict[str, Any]:
    settings = Settings()
    root = settings.project_root
    artifacts = compile_sources(
        [
            root / "contracts" / "CommonsForwarder.sol",
            root / "contracts" / "Registry.sol",
            root / "contracts" / "Council.sol",
            root / "bench" / "contracts" / "BenchGovernor.sol",
        ],
        settings,
    )
    rng = random.Random(20240601)
    dev = [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)
    ]
    admin, relayer = dev[0], dev[9]
    residents = _residents(dev)
    started = time.monotonic()
    with ephemeral_node(settings, extra_args=("--gas-limit", "60000000")) as node:
        w3 = node.w3
        forwarder = _deploy(w3, admin, artifacts["CommonsForwarder"])
        registry_contract = _deploy(w3, admin, artifacts["Registry"], forwarder.address)
        council_contract = _deploy(
            w3,
            admin,
            artifacts["Council"],
            forwarder.address,
            registry_contract.address,
            "0x" + "00" * 20,  # no Initiatives contract: only the committee opens proposals
            "0x" + "00" * 20,  # no Mandates contract: plain ballots never read it
            "0x" + "00" * 20,  # no SecretBallot: open ballots never read it
        )
        registry = RegistryContract(w3, registry_contract)
        council = CouncilContract(w3, council_contract)

        roll = []
        community = 0
        for size in ROLL_BATCH_SIZES:
            community, row = _publish_roll(registry, admin, residents, size)
            roll.append(row)

        signing_only = residents[len(dev) :]

        def open_proposal() -> int:
            now = int(w3.eth.get_block("latest")["timestamp"])
            params = ProposalParams(community, Web3.keccak(text="bench"), now, now + 3600)
            return council.open_proposal(admin, params)

        first = open_proposal()
        fresh = _election(council, relayer, first, rng.sample(signing_only, BATCH * BATCHES), rng)
        rpc(w3, "evm_increaseTime", [3601])
        rpc(w3, "evm_mine")
        second = open_proposal()  # takes over the first proposal's (closed) ballot box
        recycled = _election(
            council, relayer, second, rng.sample(signing_only, BATCH * BATCHES), rng
        )
        later = _gas(send(w3, dev[1], council_contract.functions.castVote(second, YES)))
        third = open_proposal()  # the second still runs: a ballot box never used before
        first_in_fresh_box = _gas(send(w3, dev[2], council_contract.functions.castVote(third, YES)))
        later_in_fresh_box = _gas(send(w3, dev[3], council_contract.functions.castVote(third, YES)))

        governor = _governor(w3, artifacts, dev)

    return {
        "setup": {
            "roll_size": ROLL,
            "batch_size": BATCH,
            "batches_per_election": BATCHES,
            "voters": "random sample of the roll, options random among yes/no/abstain",
            "compiler": "solc 0.8.28, optimizer 200 runs, evm cancun (brownie-config.yaml)",
            "node": "anvil (ephemeral), gas from transaction receipts",
            "seconds": round(time.monotonic() - started, 1),
        },
        "target_per_ballot": TARGET_PER_BALLOT,
        "roll_publication": roll,
        "relayed_ballots": {"fresh_box": fresh, "recycled_box": recycled},
        "direct_vote": {
            "later_voter": later,
            "first_vote_fresh_box": first_in_fresh_box,
            "second_vote_fresh_box": later_in_fresh_box,
        },
        "governor": governor,
        "meets_target": {
            "fresh_box_first_batch": fresh["first_batch_per_ballot"] <= TARGET_PER_BALLOT,
            "fresh_box_mean": fresh["mean_per_ballot"] <= TARGET_PER_BALLOT,
            "recycled_box_first_batch": recycled["first_batch_per_ballot"] <= TARGET_PER_BALLOT,
            "recycled_box_mean": recycled["mean_per_ballot"] <= TARGET_PER_BALLOT,
            "direct_vote_below_governor_castVote": max(later, first_in_fresh_box)
            < governor["castVote_later_voter"],
        },
    }


def _markdown(r: dict[str, Any]) -> str:
    fresh, recycled = r["relayed_ballots"]["fresh_box"], r["relayed_ballots"]["recycled_box"]
    gov, direct = r["governor"], r["direct_vote"]
    ok = r["meets_target"]

    def mark(flag: bool) -> str:
        return "yes" if flag else "**no**"

    lines = [
        "# Council gas (anvil, solc 0.8.28, optimizer 200, cancun)",
        "",
        f"Relayed signed ballots, batches of {r['setup']['batch_size']} random voters from a "
        f"{r['setup']['roll_size']:,}-resident roll, {r['setup']['batches_per_election']} batches "
        f"per election; tx base cost and calldata included. Target <= {r['target_per_ballot']:,} "
        "gas per ballot.",
        "",
        "| ballots (gas per ballot) | first batch | mean of 20 | worst batch | meets target |",
        "|---|---:|---:|---:|---|",
        "| first proposal of a community (fresh ballot box) | "
        f"{fresh['first_batch_per_ballot']:,.0f}"
        f" | {fresh['mean_per_ballot']:,.0f} | {fresh['max_batch_per_ballot']:,.0f} | first batch: "
        f"{mark(ok['fresh_box_first_batch'])}, mean: {mark(ok['fresh_box_mean'])} |",
        f"| later proposal (reused ballot box) | {recycled['first_batch_per_ballot']:,.0f}"
        f" | {recycled['mean_per_ballot']:,.0f} | {recycled['max_batch_per_ballot']:,.0f} | first "
        f"batch: {mark(ok['recycled_box_first_batch'])}, mean: {mark(ok['recycled_box_mean'])} |",
        "",
        "| one vote (gas per tx) | Council | OpenZeppelin Governor |",
        "|---|---:|---:|",
        f"| direct vote, later voter | {direct['later_voter']:,} | castVote "
        f"{gov['castVote_later_voter']:,} |",
        f"| direct vote, first vote into a fresh ballot box | {direct['first_vote_fresh_box']:,} "
        f"| castVote (first voter) {gov['castVote_first_voter']:,} |",
        f"| relayed signed vote, later voter | {recycled['mean_per_ballot']:,.0f} (in a batch of "
        f"100) | castVoteBySig {gov['castVoteBySig_later_voter']:,} (voter's first signature "
        f"ever: {gov['castVoteBySig_later_voter_first_signature']:,}) |",
        "",
        "| publishing a 10,000-resident roll | transactions | total gas | gas per resident |",
        "|---|---:|---:|---:|",
    ]
    for row in r["roll_publication"]:
        lines.append(
            f"| batches of {row['batch_size']:,} | {row['transactions']} | "
            f"{row['total_gas']:,} | {row['per_resident']:,.0f} |"
        )
    lines += ["", f"Measured in {r['setup']['seconds']} s by `python -m bench.gas_council`.", ""]
    return "\n".join(lines)


def main() -> None:
    results = measure()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gas_council.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "gas_council.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
