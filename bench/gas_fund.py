"""Gas of the community fund and the time bank, measured from receipts on a fresh anvil.

1. A 2-of-3 approved payout end to end (request, two approvals, execution), side by side in the
   same run with a Safe 1.4.1 2-of-3 `execTransaction` (npm @safe-global/safe-contracts, compiled
   here with the project's compiler settings).
2. Confirmed time-bank service records (two signatures each) relayed in batches of 100: the
   first batch of a community (every account word written for the first time), a steady-state
   batch, and the first batch after the roll is republished (every member's residency stamp
   stale), for communities of 10 to 200 members (a batch of 100 touches at most 200), and one
   more steady batch of 250 (the relay's size). Target: at most 20,000 gas per record in a batch
   of 100, transaction base cost and calldata included.

Run: `.venv/bin/python -m bench.gas_fund` → bench/results/gas_fund.json and .md
"""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt, Wei

from ledger.build import compile_sources
from ledger.clients.fund import FundClient, SourceKind
from ledger.clients.timebank import TimeBankClient
from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import Deployment, deploy_system
from ledger.node import ephemeral_node, rpc
from ledger.protocol.generated import BallotKind, ProposalParams, Roles
from ledger.signing.services import (
    ServiceRecord,
    category_code,
    record_id,
    sign_both,
    sign_reversal,
)
from ledger.tx import send

Account.enable_unaudited_hdwallet_features()

RESULTS = Path(__file__).resolve().parent / "results"
SAFE_DIR = Path("node_modules/@safe-global/safe-contracts/contracts")
BATCH = 100
RELAY_BATCH = Settings().relay_service_batch
SIZES = (10, 20, 50, 100, 200)
TARGET_PER_RECORD = 20_000
ZERO = "0x" + "00" * 20


def _gas(receipt: TxReceipt) -> int:
    return int(receipt["gasUsed"])


def _dev_accounts(n: int) -> list[LocalAccount]:
    return [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(n)
    ]


def _fresh_keys(n: int, seed: int) -> list[LocalAccount]:
    rng = random.Random(seed)
    return [Account.from_key(rng.randbytes(32)) for _ in range(n)]


def _community(
    w3: Web3, d: Deployment, admin: LocalAccount, committee: list[LocalAccount], roll: list[str]
) -> int:
    registry = d.registry
    receipt = send(w3, admin, registry.functions.createCommunity(b"\x01" * 32))
    (created,) = registry.events.CommunityCreated().process_receipt(receipt)
    community_id = int(created["args"]["communityId"])
    send(w3, admin, registry.functions.grantRole(community_id, Roles.REGISTRAR, admin.address))
    for member in committee:
        send(w3, admin, registry.functions.grantRole(community_id, Roles.COMMITTEE, member.address))
    for start in range(0, len(roll), 200):
        chunk = roll[start : start + 200]
        last = start + 200 >= len(roll)
        send(w3, admin, registry.functions.updateRoll(community_id, chunk, [], last))
    return community_id


# ---------------------------------------------------------------- fund vs Safe


def _passed_proposal(
    w3: Web3, d: Deployment, community_id: int, opener: LocalAccount, voters: list[LocalAccount]
) -> int:
    now = int(w3.eth.get_block("latest")["timestamp"])
    params = ProposalParams(
        communityId=community_id,
        textHash=b"\x02" * 32,
        kind=BallotKind.YesNoAbstain,
        optionCount=3,
        opensAt=now,
        closesAt=now + 3600,
        quorumBps=5000,
        thresholdBps=5000,
        budgetAmount=1_000_000,
        budgetCurrency=b"CNY",
    )
    receipt = send(w3, opener, d.council.functions.openProposal(params))
    (opened,) = d.council.events.ProposalOpened().process_receipt(receipt)
    proposal_id = int(opened["args"]["proposalId"])
    for voter in voters:
        send(w3, voter, d.council.functions.castVote(proposal_id, 0))
    rpc(w3, "evm_increaseTime", [3601])
    rpc(w3, "evm_mine")
    send(w3, opener, d.council.functions.finalize(proposal_id))
    return proposal_id


def bench_fund(w3: Web3, d: Deployment, dev: list[LocalAccount]) -> dict[str, Any]:
    admin, committee, voters = dev[0], dev[1:4], dev[4:8]
    community_id = _community(w3, d, admin, committee, [v.address for v in voters])
    fund = FundClient(w3, d.fund)
    fund.record_income(committee[0], community_id, SourceKind.DONATION, 10**9, "CNY", b"\x03" * 32)
    fund.set_approval_threshold(admin, community_id, 2)
    proposal_id = _passed_proposal(w3, d, community_id, committee[0], voters)
    fund.open_grant(committee[0], proposal_id, 1_000_000)
    recipient = dev[9].address

    runs: list[dict[str, int]] = []
    for i in range(2):
        fn = d.fund.functions
        invoice = bytes([0x10 + i]) * 32
        steps = {
            "request": send(
                w3,
                committee[0],
                fn.requestPayout(proposal_id, recipient, 1_000, b"\x04" * 32, invoice),
            ),
        }
        request_id = fund.contract.functions.payoutCount().call()
        steps["approve_1"] = send(w3, committee[1], fn.approvePayout(request_id))
        steps["approve_2"] = send(w3, committee[2], fn.approvePayout(request_id))
        steps["execute"] = send(w3, committee[0], fn.executePayout(request_id))
        gas = {k: _gas(r) for k, r in steps.items()}
        gas["total"] = sum(gas.values())
        runs.append(gas)
    return {"first_payout": runs[0], "later_payout": runs[1]}


def _deploy(w3: Web3, deployer: LocalAccount, artifact: Any, *args: Any) -> Contract:
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, deployer, factory.constructor(*args))
    address = receipt["contractAddress"]
    assert address is not None
    contract: Contract = w3.eth.contract(address=address, abi=artifact.abi)
    return contract


def bench_safe(w3: Web3, dev: list[LocalAccount], settings: Settings) -> dict[str, Any]:
    root = settings.project_root
    artifacts = compile_sources(
        [root / SAFE_DIR / "Safe.sol", root / SAFE_DIR / "proxies" / "SafeProxyFactory.sol"],
        settings,
    )
    deployer, owners = dev[0], sorted(dev[1:4], key=lambda a: int(a.address, 16))
    singleton = _deploy(w3, deployer, artifacts["Safe"])
    factory = _deploy(w3, deployer, artifacts["SafeProxyFactory"])
    setup = singleton.encode_abi(
        "setup", [[o.address for o in owners], 2, ZERO, b"", ZERO, ZERO, 0, ZERO]
    )
    receipt = send(
        w3, deployer, factory.functions.createProxyWithNonce(singleton.address, setup, 0)
    )
    (created,) = factory.events.ProxyCreation().process_receipt(receipt)
    safe = w3.eth.contract(address=created["args"]["proxy"], abi=artifacts["Safe"].abi)
    w3.eth.send_transaction({"from": deployer.address, "to": safe.address, "value": Wei(10**18)})
    # The recipient already exists, so the Safe pays no new-account surcharge (the fund has no
    # such cost either).
    recipient = dev[9].address

    runs = []
    for _ in range(2):
        nonce = safe.functions.nonce().call()
        tx = (recipient, 1_000, b"", 0, 0, 0, 0, ZERO, ZERO)
        tx_hash = safe.functions.getTransactionHash(*tx, nonce).call()
        signatures = b"".join(bytes(o.unsafe_sign_hash(tx_hash).signature) for o in owners[:2])
        receipt = send(w3, owners[0], safe.functions.execTransaction(*tx, signatures))
        runs.append(_gas(receipt))
    return {"first_exec": runs[0], "later_exec": runs[1]}


# ---------------------------------------------------------------- time bank batches


def _batch(
    bank: TimeBankClient,
    community_id: int,
    members: list[LocalAccount],
    rng: random.Random,
    nonces: dict[str, int],
    size: int = BATCH,
) -> list[Any]:
    domain = bank.domain()
    items = []
    for _ in range(size):
        provider, recipient = rng.sample(members, 2)
        nonce = nonces.get(provider.address, 0)
        nonces[provider.address] = nonce + 1
        record = ServiceRecord(
            provider=provider.address,
            recipient=recipient.address,
            minutes_served=rng.randint(15, 120),
            category=category_code(rng.choice(["CARE", "REPAIR", "TEACH", "GARDEN"])),
            note_hash=rng.randbytes(32),
            nonce=nonce,
        )
        items.append(sign_both(provider, recipient, domain, community_id, record))
    return items


def bench_timebank(w3: Web3, d: Deployment, dev: list[LocalAccount]) -> dict[str, Any]:
    bank = TimeBankClient(w3, d.timebank)
    relayer = dev[5]
    out: dict[str, Any] = {}
    for size in SIZES:
        members = _fresh_keys(size, seed=size)
        community_id = _community(w3, d, dev[0], [], [m.address for m in members])
        # Limits wide enough that random services never hit them: this measures recording.
        bank.set_limits(dev[0], community_id, -(10**9), 10**9)
        rng = random.Random(size)
        nonces: dict[str, int] = {}
        batches = []
        for _ in range(3):
            items = _batch(bank, community_id, members, rng, nonces)
            result = bank.record_services(relayer, community_id, items)
            if result.skipped:
                raise RuntimeError(f"bench batch skipped records: {result.skipped[:3]}")
            batches.append(result.gas_used)
        # A new roll version (one newcomer) makes every stamp stale: each member's first record
        # asks the Registry again.
        newcomer = _fresh_keys(1, seed=1000 + size)[0].address
        send(w3, dev[0], d.registry.functions.updateRoll(community_id, [newcomer], [], True))
        after_roll = bank.record_services(
            relayer, community_id, _batch(bank, community_id, members, rng, nonces)
        ).gas_used
        relay_signed = _batch(bank, community_id, members, rng, nonces, RELAY_BATCH)
        relay_batch = bank.record_services(relayer, community_id, relay_signed)
        if relay_batch.skipped:
            raise RuntimeError(f"bench batch skipped records: {relay_batch.skipped[:3]}")
        relay_items = relay_batch.recorded
        out[f"members_{size}"] = {
            "steady_batch_distinct_members": len(
                {i.record.provider for i in items} | {i.record.recipient for i in items}
            ),
            "first_batch_total": batches[0],
            "first_batch_per_record": batches[0] // BATCH,
            "steady_batch_total": batches[2],
            "steady_batch_per_record": batches[2] // BATCH,
            "after_roll_batch_per_record": after_roll // BATCH,
            "relay_batch_distinct_members": len(
                {e.provider for e in relay_items} | {e.recipient for e in relay_items}
            ),
            "relay_batch_per_record": relay_batch.gas_used // RELAY_BATCH,
        }
        if size == 10:
            out["single"] = _single_and_reversal(bank, relayer, community_id, members, nonces)
            by_address = {m.address: m for m in members}
            middle = relay_signed[RELAY_BATCH // 2].record
            out["single"]["reverse_service_from_relay_batch"] = _reversal_gas(
                bank,
                relayer,
                community_id,
                middle,
                by_address[middle.provider],
                by_address[middle.recipient],
            )
    return out


def _single_and_reversal(
    bank: TimeBankClient,
    relayer: LocalAccount,
    community_id: int,
    members: list[LocalAccount],
    nonces: dict[str, int],
) -> dict[str, int]:
    """One record relayed alone (recordService), and its reversal, between warm members."""
    provider, recipient = members[0], members[1]
    nonce = nonces.get(provider.address, 0)
    nonces[provider.address] = nonce + 1
    record = ServiceRecord(
        provider.address, recipient.address, 60, category_code("CARE"), b"\x05" * 32, nonce
    )
    signed = sign_both(provider, recipient, bank.domain(), community_id, record)
    fn = bank.contract.functions
    single = send(bank.w3, relayer, fn.recordService(community_id, signed.as_tuple()))
    reversal = _reversal_gas(bank, relayer, community_id, record, provider, recipient)
    return {"record_service_alone": _gas(single), "reverse_service": reversal}


def _reversal_gas(
    bank: TimeBankClient,
    relayer: LocalAccount,
    community_id: int,
    record: ServiceRecord,
    provider: LocalAccount,
    recipient: LocalAccount,
) -> int:
    """A reversal's gas: its proof carries every id of the original's batch (calldata)."""
    rid = record_id(community_id, record)
    reason = b"\x06" * 32
    domain = bank.domain()
    proof = bank.batch_proof(community_id, record)
    if proof is None:
        raise RuntimeError(f"bench record {rid.hex()} is in no batch")
    reversal = send(
        bank.w3,
        relayer,
        bank.contract.functions.reverseService(
            community_id,
            record.as_tuple(),
            proof.as_tuple(),
            reason,
            sign_reversal(provider, domain, rid, reason).as_tuple(),
            sign_reversal(recipient, domain, rid, reason).as_tuple(),
        ),
    )
    return _gas(reversal)


# ---------------------------------------------------------------- report


def _markdown(results: dict[str, Any]) -> str:
    fund, safe, tb = results["fund"], results["safe"], results["timebank"]
    later = fund["later_payout"]
    lines = [
        "# Gas: community fund and time bank",
        "",
        "Measured from receipts on anvil (solc 0.8.28, optimizer 200 runs, cancun); every figure",
        "is a whole transaction's `gasUsed`, so it includes the 21,000 base cost and calldata.",
        "",
        "## 2-of-3 payout vs Safe 2-of-3 execTransaction",
        "",
        "| step | CommunityFund (first payout) | CommunityFund (later payout) |",
        "|---|---:|---:|",
    ]
    for step in ("request", "approve_1", "approve_2", "execute", "total"):
        lines.append(f"| {step} | {fund['first_payout'][step]:,} | {later[step]:,} |")
    lines += [
        "",
        "| | gas |",
        "|---|---:|",
        f"| Safe 1.4.1 execTransaction, 2 of 3 signatures (first) | {safe['first_exec']:,} |",
        f"| Safe 1.4.1 execTransaction, 2 of 3 signatures (later) | {safe['later_exec']:,} |",
        f"| CommunityFund payout, 4 transactions (later) | {later['total']:,} |",
        "",
        *textwrap.wrap(
            "What each includes. Safe: one transaction carrying both owners' off-chain "
            "signatures (2 ecrecovers), a nonce bump and a real 1,000-wei ether transfer to an "
            "existing account; the approvals leave no trace on-chain except inside that one "
            "transaction. CommunityFund: four transactions (4 x 21,000 base), each approval a "
            "public, separately timed on-chain act by a committee member (no signatures to "
            "collect off-chain); the request stores recipient, amount and requester and logs "
            "purpose and invoice hashes; execution re-checks that every approver is still on the "
            "committee (one Registry read each), that the grant is open and covers the amount, "
            "and updates grant and fund totals. No money moves (the bank account is off-chain); "
            "events trace each cent to the proposal that authorised it.",
            width=90,
        ),
        "",
        f"## Time bank: confirmed service records, batches of {BATCH}",
        "",
        "Each record: two EIP-712 signatures (2 ecrecovers), one storage word per side (balance,",
        "replay window and residency stamp together), one event. A member's residency is read",
        "from the Registry only if their word is not stamped with the roll's current version",
        "(so once per member after each roll publication); the batch reads that version once.",
        "Random pairs among the community's members; each provider's nonces count up. Per",
        "record = the batch transaction's gasUsed / 100.",
        "",
        "| members | distinct in a batch | first batch / record | steady batch / record | "
        f"after a roll publication / record | target (steady) | steady batch of {RELAY_BATCH} "
        "(distinct) / record |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in tb.items():
        if not key.startswith("members_"):
            continue
        size = key.removeprefix("members_")
        ok = "met" if row["steady_batch_per_record"] <= TARGET_PER_RECORD else "missed"
        lines.append(
            f"| {size} | {row['steady_batch_distinct_members']} "
            f"| {row['first_batch_per_record']:,} | {row['steady_batch_per_record']:,} "
            f"| {row['after_roll_batch_per_record']:,} | ≤ {TARGET_PER_RECORD:,} ({ok}) "
            f"| {row['relay_batch_per_record']:,} ({row['relay_batch_distinct_members']}) |"
        )
    single = tb["single"]
    lines += [
        "",
        "First batch: every member's account word is written from zero (20,000 extra gas once",
        "per member and community). Steady state (the third batch): what remains per distinct",
        "member in a batch is one cold account word rewritten (5,000), so the cost per record",
        "grows with the number of distinct members a batch touches (up to 200 in a batch of",
        "100); everything else is warm. After a roll publication each member's first record in",
        "a batch also pays one Registry read (~2,700). The floor per record is about 13,000: two",
        "ecrecovers (6,200), calldata (~3,750 for 320 bytes), the event (~2,900) and the",
        "transaction's share of 21,000.",
        "",
        f"Last column: one more steady batch of {RELAY_BATCH}, the relay's batch size for service",
        "records. A bigger batch meets fewer new members per record (each member's first touch",
        "is paid once per transaction), which is what keeps large communities under the target",
        "when the relay has that many records queued.",
        "",
        "Each recording transaction also commits to the ids it recorded with one storage word",
        "(`ServiceBatchCommitted`; ~27,000 a transaction, ~270 a record in a batch of 100), so",
        "that a reversal can prove its original is exactly a recorded record.",
        "",
        "For reference: one record relayed alone (`recordService`)"
        f" {single['record_service_alone']:,}; its reversal (`reverseService`, a batch of one)"
        f" {single['reverse_service']:,}; the reversal of a record from a batch of {RELAY_BATCH}"
        f" (its proof carries the batch's {RELAY_BATCH} ids)"
        f" {single['reverse_service_from_relay_batch']:,}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    settings = Settings()
    with ephemeral_node(settings) as node:
        w3 = node.w3
        dev = _dev_accounts(10)
        deployment = deploy_system(w3, dev[0], settings, force=True, write=False)
        results = {
            "fund": bench_fund(w3, deployment, dev),
            "safe": bench_safe(w3, dev, settings),
            "timebank": bench_timebank(w3, deployment, dev),
            "batch_size": BATCH,
            "target_per_record": TARGET_PER_RECORD,
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gas_fund.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "gas_fund.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    main()
