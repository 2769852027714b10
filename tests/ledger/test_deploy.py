"""Deploy records everything needed to find and check the system, and is idempotent."""

from __future__ import annotations

import json

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.build import Artifact, load_manifest, manifest_hash
from ledger.config import Settings
from ledger.deploy import PLAN, deploy_system, deployment_path, load_deployment
from ledger.errors import DeploymentError
from ledger.node import ephemeral_node


def test_deploy_records_addresses_blocks_txs_and_manifest_hash(
    w3: Web3, accounts: list[LocalAccount], node_settings: Settings, artifacts: dict[str, Artifact]
) -> None:
    deployment = deploy_system(w3, accounts[0], node_settings)
    record = json.loads(deployment_path(node_settings, 31337).read_text())
    assert record == deployment.record
    assert record["build_manifest_hash"] == manifest_hash(load_manifest(node_settings))
    assert set(record["contracts"]) == {key for key, _, _ in PLAN}
    for key, name, _ in PLAN:
        entry = record["contracts"][key]
        receipt = w3.eth.get_transaction_receipt(entry["tx_hash"])
        assert receipt["contractAddress"] == entry["address"]
        assert receipt["blockNumber"] == entry["block"]
        assert entry["runtime_bytecode_hash"] == artifacts[name].runtime_hash
        assert len(w3.eth.get_code(entry["address"])) > 0
    assert record["block"] == min(e["block"] for e in record["contracts"].values())


def test_domain_contracts_are_wired_to_the_forwarder_and_registry(
    w3: Web3, accounts: list[LocalAccount], node_settings: Settings
) -> None:
    deployment = deploy_system(w3, accounts[0], node_settings)
    forwarder = deployment.forwarder.address
    for key in ("registry", "council", "fund", "timebank"):
        assert deployment.contracts[key].functions.isTrustedForwarder(forwarder).call(), key


def test_redeploy_is_a_no_op_unless_forced(
    w3: Web3, accounts: list[LocalAccount], node_settings: Settings
) -> None:
    first = deploy_system(w3, accounts[0], node_settings)
    head = w3.eth.block_number
    again = deploy_system(w3, accounts[0], node_settings)
    assert again.record == first.record
    assert w3.eth.block_number == head
    forced = deploy_system(w3, accounts[0], node_settings, force=True)
    assert forced.registry.address != first.registry.address
    assert load_deployment(w3, node_settings).record == forced.record


def test_stale_record_on_a_fresh_dev_chain_is_redeployed(
    accounts: list[LocalAccount], node_settings: Settings
) -> None:
    with ephemeral_node(node_settings) as first:
        old = deploy_system(first.w3, accounts[0], node_settings)
    with ephemeral_node(node_settings) as fresh:
        # same deployer nonces on a fresh chain would reuse addresses: move the nonce first
        fresh.w3.provider.make_request("anvil_setNonce", [accounts[0].address, "0x64"])  # type: ignore[arg-type]
        new = deploy_system(fresh.w3, accounts[0], node_settings)
        assert new.registry.address != old.registry.address
        assert len(fresh.w3.eth.get_code(new.registry.address)) > 0


def test_stale_record_on_an_attached_network_is_refused(
    accounts: list[LocalAccount], node_settings: Settings
) -> None:
    with ephemeral_node(node_settings) as first:
        deploy_system(first.w3, accounts[0], node_settings)
    with ephemeral_node(node_settings) as fresh:
        attached = node_settings.model_copy(update={"rpc_url": fresh.url})
        fresh.w3.provider.make_request("anvil_setNonce", [accounts[0].address, "0x64"])  # type: ignore[arg-type]
        with pytest.raises(DeploymentError, match="stale"):
            deploy_system(fresh.w3, accounts[0], attached)


def test_load_deployment_without_a_record_says_what_to_do(
    w3: Web3, node_settings: Settings
) -> None:
    with pytest.raises(DeploymentError, match="commons deploy"):
        load_deployment(w3, node_settings)
