"""Everything a request handler needs, built once per app and torn down with it."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.security import TokenAuthority
from ledger.build import load_artifacts
from ledger.config import DEV_MNEMONIC, Settings
from ledger.deploy import Deployment, load_deployment
from ledger.errors import ConfigError
from ledger.forwarding import ForwardKind
from ledger.index import EventIndex
from ledger.node import connect, rpc
from ledger.offchain import OffchainStore
from ledger.relay import MessageKind, Outbox, Relayer
from ledger.relay_kinds import BallotKind, ServiceKind
from ledger.tx import ErrorDecoder

log = logging.getLogger("api")

RELAYER_DEV_INDEX = 10  # beyond anvil's ten funded accounts, so its nonces are the relay's alone
RELAYER_DEV_BALANCE_WEI = 10**24


def relayer_account(settings: Settings, w3: Web3) -> LocalAccount:
    if settings.relayer_key is not None:
        account: LocalAccount = Account.from_key(settings.relayer_key.get_secret_value())
        return account
    if not settings.embedded:
        raise ConfigError("relaying on an attached network needs COMMONS_RELAYER_KEY")
    Account.enable_unaudited_hdwallet_features()
    dev: LocalAccount = Account.from_mnemonic(
        DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{RELAYER_DEV_INDEX}"
    )
    if w3.eth.get_balance(dev.address) == 0:
        rpc(w3, "anvil_setBalance", [dev.address, hex(RELAYER_DEV_BALANCE_WEI)])
    return dev


@dataclass
class Services:
    settings: Settings
    w3: Web3
    deployment: Deployment
    decoder: ErrorDecoder
    outbox: Outbox
    relayer: Relayer
    index: EventIndex
    store: OffchainStore
    auth: TokenAuthority
    ballot_kind: BallotKind
    service_kind: ServiceKind
    forward_kind: ForwardKind
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        w3 = connect(settings)
        deployment = load_deployment(w3, settings)
        artifacts = load_artifacts(settings)
        decoder = ErrorDecoder(a.abi for a in artifacts.values())
        relayer_key = relayer_account(settings, w3)
        ballot_kind = BallotKind(w3, deployment.council, deployment.registry)
        service_kind = ServiceKind(w3, deployment.timebank, deployment.registry, decoder)
        forward_kind = ForwardKind(
            w3,
            deployment.forwarder,
            [c.address for k, c in deployment.contracts.items() if k != "forwarder"],
            decoder,
            relayer_key.address,
        )
        data = settings.data_dir
        outbox = Outbox(data / "relay.sqlite", max_queued=settings.relay_max_queued)
        forward_kind.in_flight = lambda signer: outbox.in_flight("forward", signer)
        kinds: list[MessageKind] = [ballot_kind, service_kind, forward_kind]
        index = EventIndex(
            data / f"index-{deployment.chain_id}.sqlite",
            w3,
            {k: (c.address, c.abi) for k, c in deployment.contracts.items()},
            deployment.start_block,
        )
        secret = (
            settings.auth_secret.get_secret_value().encode()
            if settings.auth_secret
            else secrets.token_bytes(32)
        )
        return cls(
            settings=settings,
            w3=w3,
            deployment=deployment,
            decoder=decoder,
            outbox=outbox,
            relayer=Relayer(
                w3,
                relayer_key,
                outbox,
                kinds,
                decoder=decoder,
                max_wait_s=settings.relay_max_wait_s,
            ),
            index=index,
            store=OffchainStore(data / "api.sqlite"),
            auth=TokenAuthority(
                secret,
                domain=f"{settings.api_host}:{settings.api_port}",
                chain_id=deployment.chain_id,
                token_ttl_s=settings.token_ttl_s,
            ),
            ballot_kind=ballot_kind,
            service_kind=service_kind,
            forward_kind=forward_kind,
        )

    @property
    def kinds(self) -> dict[str, MessageKind]:
        return {k.name: k for k in (self.ballot_kind, self.service_kind, self.forward_kind)}

    def start(self) -> None:
        self.index.sync()
        loops: list[tuple[str, Any]] = [
            ("relayer", lambda: self.relayer.run(self._stop, self.settings.relay_interval_s)),
            ("indexer", lambda: self.index.follow(self._stop, interval=0.25)),
        ]
        for name, target in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.outbox.close()
        self.store.close()
