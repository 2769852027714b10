"""Everything a request handler needs, built once per app and torn down with it."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field, replace

from web3 import Web3

from api.security import TokenAuthority
from ledger.build import load_artifacts
from ledger.config import Settings
from ledger.deploy import Deployment, load_deployment
from ledger.index import EventIndex
from ledger.node import connect
from ledger.offchain import OffchainStore
from ledger.relay.ballots import BallotRelay
from ledger.relay.box_totals import BoxTotalsRelay
from ledger.relay.budget_ballots import BudgetBallotRelay
from ledger.relay.cosignatures import CoSignatureRelay
from ledger.relay.election_ballots import ElectionBallotRelay
from ledger.relay.election_proxy_ballots import ElectionProxyBallotRelay
from ledger.relay.forwards import ForwardRelay
from ledger.relay.in_person_ballots import InPersonBallotRelay
from ledger.relay.mandates import MandateRelay, ProxyBallotRelay
from ledger.relay.message import Message, MessageRelay
from ledger.relay.outbox import Outbox
from ledger.relay.ratings import RatingRelay
from ledger.relay.secret_ballots import SecretBallotRelay
from ledger.relay.services import ServiceRelay
from ledger.signing.acks import AckSigner
from ledger.tx import ErrorDecoder
from ledger.worker import RelayWorker, message_kinds, open_index, relayer_account

log = logging.getLogger("api")

WORKER_RESTART_MAX_S = 30.0


@dataclass
class Services:
    settings: Settings
    w3: Web3
    deployment: Deployment
    decoder: ErrorDecoder
    outbox: Outbox
    worker: RelayWorker
    index: EventIndex
    store: OffchainStore
    auth: TokenAuthority
    ballot_kind: BallotRelay
    service_kind: ServiceRelay
    forward_kind: ForwardRelay
    election_kind: ElectionBallotRelay
    cosignature_kind: CoSignatureRelay
    rating_kind: RatingRelay
    budget_kind: BudgetBallotRelay
    mandate_kind: MandateRelay
    proxy_ballot_kind: ProxyBallotRelay
    in_person_kind: InPersonBallotRelay
    secret_kind: SecretBallotRelay
    box_totals_kind: BoxTotalsRelay
    election_proxy_kind: ElectionProxyBallotRelay
    acks: AckSigner
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        w3 = connect(settings)
        deployment = load_deployment(w3, settings)
        artifacts = load_artifacts(settings)
        decoder = ErrorDecoder(a.abi for a in artifacts.values())
        relayer_key = relayer_account(settings, w3)
        (
            ballot_kind,
            service_kind,
            forward_kind,
            election_kind,
            cosignature_kind,
            rating_kind,
            budget_kind,
            mandate_kind,
            proxy_kind,
            in_person_kind,
            secret_kind,
            box_totals_kind,
            election_proxy_kind,
        ) = message_kinds(w3, deployment, decoder, relayer_key.address, settings)
        data = settings.data_dir
        # The worker's connection checkpoints the WAL; this one only acknowledges.
        outbox = Outbox(data / "relay.sqlite", settings, checkpoints=False)
        forward_kind.in_flight = lambda signer: outbox.in_flight("forward", signer)
        forward_kind.pending = lambda: outbox.pending("forward")
        service_kind.released = outbox.released
        service_kind.in_flight = lambda signer: outbox.in_flight("service", signer)
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
            worker=RelayWorker(settings),
            index=open_index(settings, w3, deployment),
            store=OffchainStore(data / "api.sqlite"),
            auth=TokenAuthority(
                secret,
                domain=f"{settings.api_host}:{settings.api_port}",
                chain_id=deployment.chain_id,
                token_ttl_s=settings.token_ttl_s,
                max_challenges=settings.max_challenges,
            ),
            ballot_kind=ballot_kind,
            service_kind=service_kind,
            forward_kind=forward_kind,
            election_kind=election_kind,
            cosignature_kind=cosignature_kind,
            rating_kind=rating_kind,
            budget_kind=budget_kind,
            mandate_kind=mandate_kind,
            proxy_ballot_kind=proxy_kind,
            in_person_kind=in_person_kind,
            secret_kind=secret_kind,
            box_totals_kind=box_totals_kind,
            election_proxy_kind=election_proxy_kind,
            acks=AckSigner(
                bytes(relayer_key.key), deployment.chain_id, deployment.forwarder.address
            ),
        )

    def acknowledgement(self, kind: MessageRelay, message: Message) -> Message:
        """`message` with the relayer's signed promise to land it within
        `relay_land_within_blocks` of the newest block seen (read at most once a second, for
        the ballot checks' clock)."""
        ack = self.acks.sign(
            kind.signed_digest(message),
            int(time.time()),
            self.ballot_kind.clock.head + self.settings.relay_land_within_blocks,
        )
        return replace(message, ack=json.dumps(ack.to_json(), separators=(",", ":")))

    @property
    def kinds(self) -> dict[str, MessageRelay]:
        kinds = (
            self.ballot_kind,
            self.service_kind,
            self.forward_kind,
            self.election_kind,
            self.cosignature_kind,
            self.rating_kind,
            self.budget_kind,
            self.mandate_kind,
            self.proxy_ballot_kind,
            self.in_person_kind,
            self.secret_kind,
            self.box_totals_kind,
            self.election_proxy_kind,
        )
        return {k.name: k for k in kinds}

    def start(self) -> None:
        # Reads are current from the first request; the worker follows from here on.
        self.index.sync()
        try:
            warmed = self.ballot_kind.warm()
            log.info("ballot checks ready for open proposals %s", warmed)
        except Exception as exc:  # only a head start: checks load on demand anyway
            log.warning("could not prepare ballot checks: %s", exc)
        self.worker.start()
        supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
        supervisor.start()
        self._threads.append(supervisor)

    def _supervise(self) -> None:
        """A worker that died (its node went away for good, a bug) is started again: without
        it nothing acknowledged would ever be sent."""
        delay = check_s = self.settings.worker_check_s
        while not self._stop.wait(delay):
            if self.worker.alive():
                delay = check_s
                continue
            log.error("the relay worker exited; starting it again")
            self.worker.stop()
            self.worker.start()
            delay = min(delay * 2, WORKER_RESTART_MAX_S)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.worker.stop()
        self.index.close()
        self.outbox.close()
        self.store.close()
