"""Deploy and wire the contracts; record them in deployments/<chain-id>.json.

One implementation, two entry points: `commons deploy` and `brownie run scripts/deploy.py`
(which passes brownie's web3 and account). Re-running is a no-op unless forced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rlp
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from ledger.build import Artifact, compile_project, load_manifest, manifest_hash
from ledger.config import Settings
from ledger.errors import DeploymentError
from ledger.files import atomic_write
from ledger.tx import ErrorDecoder, send

# Deployment order and each constructor's arguments, by the addresses of the whole plan: the
# Council and Initiatives name each other, as do the CommunityFund and ParticipatoryBudget, and
# Elections and the PollOffice or ElectionProxies, so every address is computed from the
# deployer's nonce before the first deployment (`planned_addresses`) and each one checked as it
# lands.
PLAN: tuple[tuple[str, str, Callable[[dict[str, str]], list[Any]]], ...] = (
    ("forwarder", "CommonsForwarder", lambda a: []),
    ("registry", "Registry", lambda a: [a["forwarder"]]),
    ("mandates", "Mandates", lambda a: [a["forwarder"], a["registry"]]),
    (
        "council",
        "Council",
        lambda a: [a["forwarder"], a["registry"], a["initiatives"], a["mandates"], a["secret"]],
    ),
    ("initiatives", "Initiatives", lambda a: [a["forwarder"], a["registry"], a["council"]]),
    ("fund", "CommunityFund", lambda a: [a["forwarder"], a["registry"], a["council"], a["budget"]]),
    ("timebank", "TimeBank", lambda a: [a["forwarder"], a["registry"]]),
    (
        "elections",
        "Elections",
        lambda a: [a["forwarder"], a["registry"], a["poll_office"], a["election_proxies"]],
    ),
    ("poll_office", "PollOffice", lambda a: [a["forwarder"], a["registry"], a["elections"]]),
    (
        "election_proxies",
        "ElectionProxies",
        lambda a: [a["elections"], a["registry"], a["mandates"]],
    ),
    ("ratings", "Ratings", lambda a: [a["registry"], a["council"], a["budget"]]),
    ("budget", "ParticipatoryBudget", lambda a: [a["forwarder"], a["registry"], a["fund"]]),
    ("secret", "SecretBallot", lambda a: [a["forwarder"], a["registry"]]),
)


@dataclass(frozen=True)
class Deployment:
    """The deployed system: web3 contracts by role, and the record as written to disk."""

    chain_id: int
    record: dict[str, Any]
    forwarder: Contract
    registry: Contract
    mandates: Contract
    council: Contract
    initiatives: Contract
    fund: Contract
    timebank: Contract
    elections: Contract
    poll_office: Contract
    election_proxies: Contract
    ratings: Contract
    budget: Contract
    secret: Contract

    @property
    def contracts(self) -> dict[str, Contract]:
        return {key: getattr(self, key) for key, _, _ in PLAN}

    @property
    def start_block(self) -> int:
        return int(self.record["block"])


def create_address(deployer: str, nonce: int) -> str:
    """The address a contract created by `deployer`'s transaction number `nonce` gets."""
    encoded = rlp.encode([bytes.fromhex(deployer.removeprefix("0x")), nonce])
    return Web3.to_checksum_address(Web3.keccak(encoded)[12:])


def planned_addresses(deployer: str, first_nonce: int) -> dict[str, str]:
    """Every contract's address, when the plan is deployed from `first_nonce` on, one a nonce."""
    return {key: create_address(deployer, first_nonce + k) for k, (key, _, _) in enumerate(PLAN)}


def deployment_path(settings: Settings, chain_id: int) -> Path:
    return settings.deployments_dir / f"{chain_id}.json"


def _bind(w3: Web3, record: dict[str, Any], artifacts: dict[str, Artifact]) -> Deployment:
    contracts = {
        # decode_tuples: a struct a view returns reads by field name (`proposal.closesAt`).
        key: w3.eth.contract(
            address=record["contracts"][key]["address"], abi=artifacts[name].abi, decode_tuples=True
        )
        for key, name, _ in PLAN
    }
    return Deployment(chain_id=int(record["chain_id"]), record=record, **contracts)


def load_deployment(w3: Web3, settings: Settings) -> Deployment:
    """The recorded deployment for the connected chain, checked to have code at every address."""
    chain_id = w3.eth.chain_id
    path = deployment_path(settings, chain_id)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"no deployment for chain {chain_id}: run `commons deploy`") from exc
    missing = [k for k, _, _ in PLAN if k not in record.get("contracts", {})]
    if missing:
        raise DeploymentError(f"{path} lacks {', '.join(missing)}: redeploy with --force")
    for key, _, _ in PLAN:
        address = record["contracts"][key]["address"]
        if len(w3.eth.get_code(address)) == 0:
            raise DeploymentError(
                f"{path} is stale: no code at {key} {address} on chain {chain_id}"
            )
    return _bind(w3, record, compile_project(settings))


def deploy_system(
    w3: Web3,
    deployer: LocalAccount,
    settings: Settings | None = None,
    *,
    force: bool = False,
    write: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> Deployment:
    """Deploy every contract (or return the existing deployment unless `force`)."""
    settings = settings or Settings()
    if not force and deployment_path(settings, w3.eth.chain_id).exists():
        try:
            existing = load_deployment(w3, settings)
            log(f"already deployed on chain {existing.chain_id}; nothing to do (use --force)")
            return existing
        except DeploymentError as exc:
            # A development chain started afresh leaves a stale record behind: redeploy. On any
            # other network a record without code is a finding a human must look at.
            if w3.eth.chain_id != settings.chain_id or not settings.embedded:
                raise
            log(f"{exc}; redeploying")
    artifacts = compile_project(settings)
    decoder = ErrorDecoder(a.abi for a in artifacts.values())
    addresses = planned_addresses(
        deployer.address, w3.eth.get_transaction_count(deployer.address, "pending")
    )
    entries: dict[str, dict[str, Any]] = {}
    for key, name, args in PLAN:
        if name not in artifacts:
            raise DeploymentError(f"contract {name} is not in contracts/")
        artifact = artifacts[name]
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = send(w3, deployer, factory.constructor(*args(addresses)), decoder=decoder)
        address = receipt["contractAddress"]
        if address != addresses[key]:
            # Another transaction from the deployer took a nonce: the constructor arguments
            # already given name addresses nothing will be deployed at.
            raise DeploymentError(f"{name} landed at {address}, not the planned {addresses[key]}")
        entries[key] = {
            "contract": name,
            "address": address,
            "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex(),
            "block": receipt["blockNumber"],
            "runtime_bytecode_hash": artifact.runtime_hash,
        }
        log(f"deployed {name} at {address} (block {receipt['blockNumber']})")
    manifest = load_manifest(settings)
    record = {
        "chain_id": w3.eth.chain_id,
        "deployer": deployer.address,
        "block": min(e["block"] for e in entries.values()),
        "contracts": entries,
        "build_manifest_hash": manifest_hash(manifest),
        "compiler": manifest["compiler"],
    }
    if write:
        atomic_write(
            deployment_path(settings, record["chain_id"]), json.dumps(record, indent=2) + "\n"
        )
    return _bind(w3, record, artifacts)
