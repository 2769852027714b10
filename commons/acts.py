"""What every signed act from the command line shares: who signs it (a key in the keystore,
its passphrase from the terminal or a file descriptor), how it goes (the API's relay or a
direct transaction), which node and API, and `--dry-run`. `@signed_act` gives a command these
options once, as a `Signing`, so each command names only what is its own."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import admin
from ledger.admin import AdminCall, AdminChain, DirectSender, RelayApi, RelaySender, Sender
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.keystore import Keystore
from ledger.node import connect
from ledger.passphrase import read_passphrase

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class Via(StrEnum):
    relay = "relay"
    direct = "direct"


Key = Annotated[
    str,
    typer.Option(
        "--key", metavar="NAME", help="sign with key NAME from the keystore (`commons key list`)"
    ),
]
PassphraseFd = Annotated[
    int | None,
    typer.Option(
        "--passphrase-fd",
        metavar="N",
        help="read the key's passphrase from file descriptor N instead of the terminal",
    ),
]
ViaOption = Annotated[
    Via,
    typer.Option(
        "--via",
        help="relay: a signed request the API's relayer sends and pays for (gasless for you); "
        "direct: a transaction from your key, which pays the gas",
    ),
]
Api = Annotated[
    str | None,
    typer.Option(
        "--api", metavar="URL", help="the API relaying for --via relay (default: the configured)"
    ),
]
Rpc = Annotated[
    str | None,
    typer.Option(
        "--rpc",
        metavar="URL",
        help="the chain's node (default: the configured one; its chain id must be "
        "COMMONS_CHAIN_ID and have a deployment record)",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="check and simulate, print the call and who signs it; sign and send nothing",
    ),
]
Community = Annotated[int, typer.Option("--community", metavar="ID", help="the community's id")]
Account = Annotated[
    str, typer.Argument(metavar="ACCOUNT", help="an address (0x...) or a key name in the keystore")
]


class Signing:
    """Where an act goes (node, API), who signs it, and whether it is only a dry run."""

    def __init__(
        self,
        key: str,
        passphrase_fd: int | None,
        via: Via,
        api: str | None,
        rpc: str | None,
        dry_run: bool = False,
    ) -> None:
        self.settings = Settings(rpc_url=rpc) if rpc else Settings()
        self.keystore = Keystore.of(self.settings)
        self.key = key
        self.passphrase_fd = passphrase_fd
        self.via = via
        self.api = api or f"http://{self.settings.api_host}:{self.settings.api_port}"
        self.dry_run = dry_run
        self._account: LocalAccount | None = None  # unlocked once for a command's acts

    def chain(self) -> AdminChain:
        w3: Web3 = connect(self.settings)
        return AdminChain(w3, load_deployment(w3, self.settings))

    def sender(self, chain: AdminChain) -> Sender:
        """The signer, unlocked; for the relay, once it is known to serve `chain`."""
        relay = RelayApi(self.api) if self.via is Via.relay else None
        if relay is not None:
            relay.check_serves(chain)  # before the passphrase is asked
        if self._account is None:
            prompt = f"passphrase of key {self.key!r}: "
            passphrase = read_passphrase(prompt, self.passphrase_fd)
            self._account = self.keystore.unlock(self.key, passphrase)
        account = self._account
        return DirectSender(account) if relay is None else RelaySender(account, relay)

    def address_of(self, text: str) -> str:
        """An address given as 0x..., or the address of a keystore key of that name."""
        return text if ADDRESS.match(text) else self.keystore.entry(text).address

    def act(
        self,
        call: AdminCall,
        *,
        chain: AdminChain | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> admin.Done | None:
        """Check and simulate `call`; unless this is a dry run, run `prepare` (what must exist
        before anything is signed), sign it, send it, wait for it. None for a dry run (which
        prints the call and who would sign it)."""
        chain = chain or self.chain()
        signer = self.keystore.entry(self.key).address
        admin.preflight(chain, call, signer)  # before the passphrase is asked
        if self.dry_run:
            for line in call.describe(chain.deployment):
                typer.echo(line)
            how = "a direct transaction" if self.via is Via.direct else f"the relay {self.api}"
            typer.echo(f"signer: key {self.key!r} {signer}, via {how}")
            typer.echo("dry run: checked and simulated; nothing was signed or sent")
            return None
        if prepare is not None:
            prepare()
        done = admin.execute(chain, call, self.sender(chain))
        typer.echo(f"done: {call.what}")
        typer.echo(f"  {call.event} in block {done.block}, transaction {done.tx_hash}")
        return done


# The options `@signed_act` adds to a command, after the command's own.
_SIGNING_OPTIONS = (
    ("key", Key, inspect.Parameter.empty),
    ("passphrase_fd", PassphraseFd, None),
    ("via", ViaOption, Via.relay),
    ("api", Api, None),
    ("rpc", Rpc, None),
    ("dry_run", DryRun, False),
)


def signed_act(fn: Callable[..., None]) -> Callable[..., None]:
    """A command whose first parameter is `signing: Signing` gets --key, --passphrase-fd,
    --via, --api, --rpc and --dry-run, and is called with the `Signing` they make."""
    own = list(inspect.signature(fn, eval_str=True).parameters.values())[1:]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, kind, default in _SIGNING_OPTIONS
    ]
    names = [name for name, _, _ in _SIGNING_OPTIONS]

    @functools.wraps(fn)
    def command(**kwargs: Any) -> None:
        signing = Signing(*(kwargs.pop(name) for name in names))
        fn(signing, **kwargs)

    # Keyword-only, so a required option may follow the command's own defaults.
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return command
