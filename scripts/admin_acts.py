"""What every admin script shares: `brownie run scripts/<act>.py main ARGS [--network NAME]`
builds the act with ledger.admin (the same code as `commons admin`), checks and simulates it,
and has brownie send it from one of brownie's accounts.

SIGNER, each script's last argument, picks the account: an index into brownie's accounts
("0", the default: the node's or development chain's first account), or a keystore file
brownie loads (`accounts.load`: a name in ~/.brownie/accounts, or a path such as a
`commons key` file), whose passphrase brownie asks for.
"""

from __future__ import annotations

from typing import Any

from brownie import accounts, web3

from ledger.admin import AdminCall, AdminChain, Done, execute
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.errors import LedgerError


class BrownieSender:
    """Sends an act's calldata as a transaction from a brownie account."""

    def __init__(self, account: Any) -> None:
        self.account = account
        self.address: str = account.address

    def submit(self, chain: AdminChain, call: AdminCall, gas: int) -> str:
        target = chain.deployment.contracts[call.contract].address
        tx = self.account.transfer(target, 0, data=call.calldata(chain.deployment), gas_limit=gas)
        return str(tx.txid)


def signer_account(signer: str) -> Any:
    return accounts[int(signer)] if signer.isdigit() else accounts.load(signer)


def run_act(call: AdminCall, signer: str) -> Done:
    """Check, simulate and send `call` from brownie account `signer`; print what happened."""
    # brownie's chain is whatever it is connected to: trust its chain id, not the default.
    settings = Settings(chain_id=web3.eth.chain_id)
    try:
        chain = AdminChain(web3, load_deployment(web3, settings))
        done = execute(chain, call, BrownieSender(signer_account(signer)))
    except LedgerError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"done: {call.what}")
    print(f"  {call.event} in block {done.block}, transaction {done.tx_hash}")
    return done
