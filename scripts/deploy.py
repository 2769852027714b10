"""Admin entry point: `brownie run scripts/deploy.py [--network NAME]`.

Calls the same `ledger.deploy.deploy_system` as `commons deploy`, with brownie's network and
account: one implementation, two entry points. The deployer is brownie's first account on a
development network, or the keystore key named by COMMONS_DEPLOYER_KEYSTORE (its passphrase
asked at the terminal or read from COMMONS_DEPLOYER_PASSPHRASE_FD), or the key in
COMMONS_DEPLOYER_KEY (read through ledger's Settings).
"""

from __future__ import annotations

from brownie import accounts, network, web3
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.config import Settings
from ledger.deploy import deploy_system, deployment_path
from ledger.operator_keys import deployer_account


def _deployer(settings: Settings) -> LocalAccount:
    if settings.deployer_keystore is not None or settings.deployer_key is not None:
        return deployer_account(settings)
    if network.show_active() != "development":
        raise SystemExit(
            "error: set COMMONS_DEPLOYER_KEYSTORE (or COMMONS_DEPLOYER_KEY) to deploy to a live "
            "network"
        )
    account: LocalAccount = Account.from_key(accounts[0].private_key)
    return account


def main() -> None:
    # brownie's own chain is whatever it is connected to: trust its chain id, not the default.
    settings = Settings(chain_id=web3.eth.chain_id)
    deployment = deploy_system(web3, _deployer(settings), settings, log=print)
    print(f"deployment recorded in {deployment_path(settings, deployment.chain_id)}")
