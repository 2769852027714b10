"""Gas of SecretBallot, measured from receipts on a fresh anvil, beside the plain council
ballot in the same run (same roll, same relayer, same batch size).

1. Relayed signed ballots in batches of 50 from random voters of a 2,000-resident roll: council
   ballots, and encrypted secret ballots of 2, 3 and 5 options (ciphertexts and proofs in
   calldata, the aggregate kept with ecAdd), 10 batches each. TARGET: at most 40,000 gas per
   3-option secret ballot.
2. The trustees' key generation of a 2-of-3 vote (keys, deals, closeKeyGeneration).
3. A challenge that voids an invalid ballot (its proofs checked on-chain).
4. The three trustees' partial decryptions of a 3-option vote and finalize. TARGET: at most
   2,000,000 gas in all.

Run: `.venv/bin/python -m bench gas_secret` -> bench/results/gas_secret.json and .md
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import deploy_system
from ledger.node import ephemeral_node, rpc
from ledger.protocol.generated import Roles
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    CHALLENGES,
    VOTING,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)

Account.enable_unaudited_hdwallet_features()

RESULTS = Path(__file__).resolve().parent / "results"
ROLL = 2_000
BATCH = 50
BATCHES = 10
OPTIONS = (2, 3, 5)
TARGET_BALLOT = 40_000
TARGET_TALLY = 2_000_000


class _Clock:
    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> None:
        rpc(self.w3, "evm_increaseTime", [seconds])
        rpc(self.w3, "evm_mine")


def _per_ballot(gas: list[float]) -> dict[str, Any]:
    return {
        "batches": len(gas),
        "first_batch_per_ballot": round(gas[0], 1),
        "mean_per_ballot": round(statistics.fmean(gas), 1),
        "max_batch_per_ballot": round(max(gas), 1),
    }


def measure() -> dict[str, Any]:
    settings = Settings()
    rng = random.Random(20261204)
    dev = [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)
    ]
    admin, relayer = dev[0], dev[9]
    residents = [Account.from_key(Web3.keccak(text=f"bench-secret-{i}")) for i in range(ROLL)]
    started = time.monotonic()
    with ephemeral_node(settings, extra_args=("--gas-limit", "60000000")) as node:
        w3 = node.w3
        clock = _Clock(w3)
        system = deploy_system(w3, admin, settings, force=True, write=False)
        registry = RegistryContract(w3, system.registry)
        council = CouncilContract(w3, system.council)
        secret = SecretBallotContract(w3, system.secret)
        community = registry.create_community(admin, Web3.keccak(text="bench-secret"))
        registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
        registry.grant_role(admin, community, Roles.COMMITTEE, admin.address)
        registry.publish_roll_in_batches(
            admin, community, [r.address for r in residents], batch_size=1000
        )
        now = clock.now()
        proposal = council.open_proposal(
            admin, ProposalParams(community, Web3.keccak(text="bench"), now, now + 86_400)
        )
        everyone = rng.sample(residents, BATCH * BATCHES)
        council_gas = []
        for b in range(BATCHES):
            group = everyone[b * BATCH : (b + 1) * BATCH]
            plain = [council.sign_ballot(v, proposal, rng.randrange(3)) for v in group]
            council_gas.append(council.cast_ballots(relayer, proposal, plain).gas_used / BATCH)

        secret_rows: dict[str, Any] = {}
        votes: dict[int, tuple[int, list[Trustee]]] = {}
        dkg_gas: dict[str, int] = {}
        for options in OPTIONS:
            trustees = [Trustee(k, dev[4 + k], 2) for k in (1, 2, 3)]
            params = SecretVoteParams(
                community,
                tuple(t.account.address for t in trustees),
                2,
                clock.now(),
                option_count=options,
            )
            vid = secret.open_vote(admin, params)
            before = w3.eth.get_block_number()
            secret.run_key_generation(vid, trustees, clock)
            if options == 3:
                dkg_gas = _gas_since(w3, before)
            gas = []
            for b in range(BATCHES):
                group = everyone[b * BATCH : (b + 1) * BATCH]
                ballots = [
                    secret.sign(v, vid, secret.ballot_words(vid, v.address, rng.randrange(options)))
                    for v in group
                ]
                batch = secret.cast(relayer, vid, ballots)
                assert len(batch.cast) == BATCH, batch.skipped[:3]
                gas.append(batch.gas_used / BATCH)
            secret_rows[f"{options}_options"] = _per_ballot(gas)
            votes[options] = (vid, trustees)

        # A copied ballot, counted, then challenged and voided.
        vid, trustees = votes[3]
        copier = next(r for r in residents if r not in everyone)
        original = everyone[0]
        copied_words = secret.ballot_words(vid, original.address, 0)
        copy_batch = secret.cast(relayer, vid, [secret.sign(copier, vid, copied_words)])
        clock.advance(VOTING)
        challenge = secret.challenge(relayer, vid, copy_batch, copier.address, copied_words)
        clock.advance(CHALLENGES)
        partial_gas = [int(secret.publish(vid, t)["gasUsed"]) for t in trustees]
        tally = secret.tally(vid, trustees[:2])
        finalize_gas = int(secret.finalize(relayer, vid, tally)["gasUsed"])
        assert sum(tally) == BATCH * BATCHES

    council_row = _per_ballot(council_gas)
    tally_total = sum(partial_gas) + finalize_gas
    return {
        "setup": {
            "roll": ROLL,
            "batch": BATCH,
            "batches": BATCHES,
            "trustees": "2 of 3",
            "seconds": round(time.monotonic() - started, 1),
        },
        "council_ballot": council_row,
        "secret_ballot": secret_rows,
        "key_generation_3_trustees": dkg_gas,
        "challenge_voiding_3_options": int(challenge["gasUsed"]),
        "tally_3_trustees_3_options": {
            "partials": partial_gas,
            "finalize": finalize_gas,
            "total": tally_total,
        },
        "targets": {
            "ballot_3_options": TARGET_BALLOT,
            "ballot_met": secret_rows["3_options"]["max_batch_per_ballot"] <= TARGET_BALLOT,
            "tally": TARGET_TALLY,
            "tally_met": tally_total <= TARGET_TALLY,
        },
    }


def _gas_since(w3: Web3, block: int) -> dict[str, int]:
    """Gas by function name of every transaction mined after `block`."""
    spent: dict[str, int] = {}
    for number in range(block + 1, w3.eth.get_block_number() + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            assert not isinstance(tx, bytes)
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            name = _function_name(bytes(tx["input"])[:4])
            spent[name] = spent.get(name, 0) + int(receipt["gasUsed"])
    return spent


def _function_name(selector: bytes) -> str:
    from ledger.protocol.generated import Functions

    for value in vars(Functions).values():
        if getattr(value, "selector", None) == selector:
            return str(value.name)
    return selector.hex()


def render(result: dict[str, Any]) -> str:
    s, c = result["setup"], result["council_ballot"]
    lines = [
        "# Gas: SecretBallot",
        "",
        f"Roll of {s['roll']:,} residents; relayed batches of {s['batch']} from random voters, "
        f"{s['batches']} batches each; trustees {s['trustees']}. Measured in {s['seconds']} s.",
        "",
        "| ballot | first batch / ballot | mean / ballot | worst batch / ballot |",
        "|---|---|---|---|",
        f"| council (plain) | {c['first_batch_per_ballot']:,} | {c['mean_per_ballot']:,} | "
        f"{c['max_batch_per_ballot']:,} |",
    ]
    for name, row in result["secret_ballot"].items():
        lines.append(
            f"| secret, {name.replace('_', ' ')} | {row['first_batch_per_ballot']:,} | "
            f"{row['mean_per_ballot']:,} | {row['max_batch_per_ballot']:,} |"
        )
    t = result["tally_3_trustees_3_options"]
    targets = result["targets"]
    dkg = ", ".join(f"{k} {v:,}" for k, v in result["key_generation_3_trustees"].items())
    lines += [
        "",
        f"Target: at most {targets['ballot_3_options']:,} gas per 3-option secret ballot: "
        f"{'met' if targets['ballot_met'] else 'NOT met'}.",
        "",
        f"Key generation (2 of 3, all gas by function): {dkg}.",
        "",
        f"Challenge voiding an invalid 3-option ballot: {result['challenge_voiding_3_options']:,}.",
        "",
        f"Partial decryptions of 3 options by 3 trustees: "
        f"{', '.join(f'{g:,}' for g in t['partials'])}; finalize {t['finalize']:,}; "
        f"total {t['total']:,} (target {targets['tally']:,}: "
        f"{'met' if targets['tally_met'] else 'NOT met'}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    result = measure()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gas_secret.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "gas_secret.md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()
