"""What every admin script shares: `brownie run scripts/<act>.py main ARGS [--network NAME]`
builds the act with ledger.admin (the same code as `commons admin`), checks and simulates it,
and has brownie send it from one of brownie's accounts.

SIGNER, each script's last argument, picks the account: an index into brownie's accounts
("0", the default: the node's or development chain's first account), or a keystore file
brownie loads (`accounts.load`: a name in ~/.brownie/accounts, or a path such as a
`commons key` file), whose passphrase brownie asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from brownie import accounts, web3

from ledger.admin import AdminCall, AdminChain, AdminRefused, Done, execute, preflight
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


def api_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}"


def connected() -> tuple[AdminChain, Settings]:
    """The deployment brownie's chain holds, with the settings it was found by."""
    # brownie's chain is whatever it is connected to: trust its chain id, not the default.
    settings = Settings(chain_id=web3.eth.chain_id)
    return AdminChain(web3, load_deployment(web3, settings)), settings


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A refusal as one line on stderr and exit status 1, as `commons` says it."""
    try:
        yield
    except LedgerError as exc:
        raise SystemExit(f"error: {exc}") from None


def read_text(path: str) -> str:
    """The text of the file at `path`, or a refusal naming it (never a traceback)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminRefused(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def run_act(
    call: AdminCall, signer: str, *, prepare: Callable[[AdminChain], None] | None = None
) -> Done:
    """Check, simulate and send `call` from brownie account `signer`; print what happened.
    `prepare` runs once the call is known to pass, before it is sent."""
    with one_line_errors():
        chain, _ = connected()
        sender = BrownieSender(signer_account(signer))
        if prepare is not None:
            preflight(chain, call, sender.address)
            prepare(chain)
        done = execute(chain, call, sender)
    print(f"done: {call.what}")
    print(f"  {call.event} in block {done.block}, transaction {done.tx_hash}")
    return done
