"""The relay worker: the relayer and the event indexer in a process of their own.

The API process spends its one interpreter (one GIL) on accepting messages: parse, verify,
store durably, acknowledge. Sending batches, settling receipts and following events into the
index run here, on the other core, and meet the API only in SQLite (the outbox and the index,
both WAL, so neither side blocks the other's reads).

Exactly one worker relays for a data dir: a worker holds an exclusive lock on `relay.lock`
there for its whole life, and a new one waits for it, so an API restarted after a kill -9 never
has two relayers racing for the same nonces. A worker stops when asked, on SIGTERM, or when its
parent dies (the pipe from the parent reads EOF): a killed API does not leave it behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import IO

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.build import load_artifacts
from ledger.config import Settings, configured_account
from ledger.deploy import Deployment, load_deployment
from ledger.errors import DeploymentError, NodeError
from ledger.index import EventIndex
from ledger.node import connect, rpc
from ledger.relay.ballots import BallotRelay
from ledger.relay.box_totals import BoxTotalsRelay
from ledger.relay.budget_ballots import BudgetBallotRelay
from ledger.relay.cosignatures import CoSignatureRelay
from ledger.relay.election_ballots import ElectionBallotRelay
from ledger.relay.election_proxy_ballots import ElectionProxyBallotRelay
from ledger.relay.forwards import ForwardRelay
from ledger.relay.in_person_ballots import InPersonBallotRelay
from ledger.relay.mandates import MandateRelay, ProxyBallotRelay
from ledger.relay.message import MessageRelay
from ledger.relay.outbox import Outbox
from ledger.relay.ratings import RatingRelay
from ledger.relay.relayer import Relayer
from ledger.relay.rolls import RollCache
from ledger.relay.secret_ballots import SecretBallotRelay
from ledger.relay.services import ServiceRelay
from ledger.runway import warn_if_short
from ledger.schedule import ScheduleBell
from ledger.tx import ErrorDecoder

log = logging.getLogger("ledger.worker")

RELAYER_DEV_INDEX = 10  # beyond anvil's ten funded accounts, so its nonces are the relay's alone
RELAYER_DEV_BALANCE_WEI = 10**24


def relayer_account(settings: Settings, w3: Web3) -> LocalAccount:
    """The gas-paying key: configured, or on the embedded chain a funded development key."""
    account = configured_account(
        settings.relayer_key, settings, dev_index=RELAYER_DEV_INDEX, variable="COMMONS_RELAYER_KEY"
    )
    if settings.relayer_key is None and w3.eth.get_balance(account.address) == 0:
        rpc(w3, "anvil_setBalance", [account.address, hex(RELAYER_DEV_BALANCE_WEI)])
    return account


def message_kinds(
    w3: Web3,
    deployment: Deployment,
    decoder: ErrorDecoder,
    relayer_address: str,
    settings: Settings,
) -> tuple[
    BallotRelay,
    ServiceRelay,
    ForwardRelay,
    ElectionBallotRelay,
    CoSignatureRelay,
    RatingRelay,
    BudgetBallotRelay,
    MandateRelay,
    ProxyBallotRelay,
    InPersonBallotRelay,
    SecretBallotRelay,
    BoxTotalsRelay,
    ElectionProxyBallotRelay,
]:
    """The kinds of signed message, the same in the API (checks) and the worker (batches)."""
    rolls = RollCache(w3, deployment.registry, settings.relay_rolls_kept)
    online = ElectionBallotRelay(w3, deployment.elections, deployment.registry, settings, rolls)
    return (
        BallotRelay(w3, deployment.council, deployment.registry, settings, rolls),
        ServiceRelay(w3, deployment.timebank, deployment.registry, settings, decoder, rolls),
        ForwardRelay(
            w3,
            deployment.forwarder,
            [c.address for k, c in deployment.contracts.items() if k != "forwarder"],
            decoder,
            relayer_address,
            settings,
        ),
        online,
        CoSignatureRelay(w3, deployment.initiatives, deployment.registry, settings, rolls),
        RatingRelay(
            w3,
            deployment.ratings,
            deployment.council,
            deployment.budget,
            deployment.registry,
            settings,
            rolls,
        ),
        BudgetBallotRelay(w3, deployment.budget, deployment.registry, settings, rolls),
        MandateRelay(w3, deployment.mandates, deployment.registry, settings),
        ProxyBallotRelay(
            w3, deployment.council, deployment.mandates, deployment.registry, settings, rolls
        ),
        InPersonBallotRelay(w3, deployment.poll_office, deployment.registry, online, settings),
        SecretBallotRelay(w3, deployment.secret, deployment.registry, settings, rolls),
        BoxTotalsRelay(w3, deployment.poll_office, deployment.registry, online, settings),
        ElectionProxyBallotRelay(
            w3, deployment.election_proxies, deployment.mandates, online, settings
        ),
    )


def open_index(settings: Settings, w3: Web3, deployment: Deployment) -> EventIndex:
    return EventIndex(
        settings.data_dir / f"index-{deployment.chain_id}.sqlite",
        w3,
        {k: (c.address, c.abi) for k, c in deployment.contracts.items()},
        deployment.start_block,
        settings,
    )


class RelayWorker:
    """The worker process, seen from the API: `start()`, then `stop()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._process: multiprocessing.process.BaseProcess | None = None
        self._to_child: Connection | None = None

    def start(self) -> None:
        # spawn, not fork: the API process has threads (the outbox writer) and open sockets.
        ctx = multiprocessing.get_context("spawn")
        from_parent, to_child = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=worker_main, args=(self.settings, from_parent), name="relay-worker"
        )
        process.start()
        from_parent.close()  # the child's end: once only the child holds it, our death is EOF
        self._process, self._to_child = process, to_child

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def stop(self) -> None:
        process, pipe = self._process, self._to_child
        if process is None or pipe is None:
            return
        with contextlib.suppress(OSError):  # already gone
            pipe.send("stop")
        pipe.close()
        wait_s = self.settings.worker_stop_timeout_s
        process.join(wait_s)
        if process.is_alive():
            log.warning("relay worker did not stop in %.0f s; terminating it", wait_s)
            process.terminate()
            process.join(5)
        self._process = self._to_child = None


@contextmanager
def relay_lock(path: Path, parent: Connection, poll_s: float) -> Iterator[IO[str] | None]:
    """Hold `path` exclusively; wait while another worker holds it. Yields None when the
    parent went away (or asked to stop) before the lock came free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        waited = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info("waiting for the previous relay worker to exit")
                    waited = True
                if _parent_says_stop(parent, poll_s):
                    yield None
                    return
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _parent_says_stop(parent: Connection, timeout: float) -> bool:
    try:
        if parent.poll(timeout):
            parent.recv()
            return True
    except (EOFError, OSError):
        return True
    return False


def wait_for_chain(
    settings: Settings, parent: Connection
) -> tuple[Web3, Deployment, LocalAccount] | None:
    """The node, the deployment and the relayer's key, once the node answers and the deployment
    is there. A worker started while the chain is away (restarting from its snapshot), or before
    `commons deploy` has finished, waits for it, one line a try, rather than dying and waiting
    out the API's restart pause. None if told to stop meanwhile."""
    failures = 0
    while True:
        try:
            w3 = connect(settings)
            return w3, load_deployment(w3, settings), relayer_account(settings, w3)
        except (
            NodeError,
            DeploymentError,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ) as exc:
            failures += 1
            delay = min(settings.worker_chain_wait_max_s, settings.worker_chain_wait_s * failures)
            log.warning("waiting for the chain (try %d): %s; again in %.1fs", failures, exc, delay)
            if _parent_says_stop(parent, delay):
                return None


def worker_main(settings: Settings, parent: Connection) -> None:
    """The worker process's body: relay and index until told to stop or orphaned."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s[worker] %(levelname)s %(message)s"
    )
    os.nice(settings.worker_niceness)  # the API process goes first: see Settings
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the API, which stops us
    with relay_lock(settings.data_dir / "relay.lock", parent, settings.worker_lock_poll_s) as held:
        if held is None:
            return
        ready = wait_for_chain(settings, parent)
        if ready is None:
            return
        w3, deployment, account = ready
        decoder = ErrorDecoder(a.abi for a in load_artifacts(settings).values())
        outbox = Outbox(settings.data_dir / "relay.sqlite", settings)
        kinds: list[MessageRelay] = list(
            message_kinds(w3, deployment, decoder, account.address, settings)
        )
        relayer = Relayer(w3, account, outbox, kinds, settings, decoder=decoder)
        index = open_index(settings, w3, deployment)
        threads = [
            threading.Thread(target=relayer.run, args=(stop,), name="relayer"),
            threading.Thread(target=index.follow, args=(stop,), name="indexer"),
        ]
        if settings.index_check_s > 0:
            threads.append(threading.Thread(target=index.watch, args=(stop,), name="index-check"))
        if settings.embedded if settings.schedule_bell is None else settings.schedule_bell:
            bell = ScheduleBell(w3, index, settings)
            threads.append(threading.Thread(target=bell.run, args=(stop,), name="schedule-bell"))
        for thread in threads:
            thread.start()
        log.info("relaying for %s (pid %d)", account.address, os.getpid())
        warn_if_short(w3, account.address, settings.data_dir / "relay.sqlite")
        started = time.monotonic()
        while not stop.is_set() and not _parent_says_stop(parent, 0.5):
            if not all(t.is_alive() for t in threads):
                log.error("a relay worker thread died; stopping")
                break
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        outbox.close()
        index.close()
        log.info("relay worker stopped after %.0f s", time.monotonic() - started)
