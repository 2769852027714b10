"""One relay worker per data dir: the lock that keeps a second one waiting, and the ways a
waiting one is told to give up (its parent asks, or its parent is gone); and a worker started
while the chain is away waits for it."""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import deploy_system
from ledger.node import ManagedNode
from ledger.worker import relay_lock, wait_for_chain


def _wait_in_thread(path: Path, parent: Connection) -> tuple[threading.Thread, list[object]]:
    """A worker's wait for the lock, in a thread; `got` receives what the lock yielded."""
    got: list[object] = []

    def run() -> None:
        with relay_lock(path, parent, 0.2) as held:
            got.append(held)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(0.6)
    assert thread.is_alive(), "the lock is held elsewhere: the second worker must wait"
    return thread, got


def _waiting_for_chain(
    settings: Settings, parent: Connection
) -> tuple[threading.Thread, list[object]]:
    """A worker's wait for the chain and its deployment, in a thread; `got` receives the result."""
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(wait_for_chain(settings, parent)))
    thread.start()
    return thread, got


def test_a_free_lock_is_taken_at_once(tmp_path: Path) -> None:
    from_parent, _to_child = multiprocessing.Pipe(duplex=False)
    with relay_lock(tmp_path / "relay.lock", from_parent, 0.2) as held:
        assert held is not None
        with open(tmp_path / "relay.lock") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError("a second holder got the lock")
            except BlockingIOError:
                pass


@pytest.mark.parametrize(
    "parent_says_stop",
    [
        pytest.param(lambda pipe: pipe.send("stop"), id="the parent asks"),
        # What the kernel does to the pipe when the parent is killed with -9:
        pytest.param(lambda pipe: pipe.close(), id="the parent is gone"),
    ],
)
def test_a_waiting_worker_gives_up_when(
    tmp_path: Path, parent_says_stop: Callable[[Connection], None]
) -> None:
    path = tmp_path / "relay.lock"
    with open(path, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        from_parent, to_child = multiprocessing.Pipe(duplex=False)
        thread, got = _wait_in_thread(path, from_parent)
        parent_says_stop(to_child)
        thread.join(5)
        assert got == [None]


def test_the_lock_comes_free_when_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "relay.lock"
    holder = open(path, "w")  # noqa: SIM115 - released half way through the test
    fcntl.flock(holder, fcntl.LOCK_EX)
    from_parent, _to_child = multiprocessing.Pipe(duplex=False)
    thread, got = _wait_in_thread(path, from_parent)
    holder.close()
    thread.join(5)
    assert len(got) == 1 and got[0] is not None


def test_a_worker_started_while_the_chain_is_away_waits_for_it_then_relays(
    node_settings: Settings, accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> None:
    from_parent, _to_child = multiprocessing.Pipe(duplex=False)
    waiting, got = _waiting_for_chain(node_settings, from_parent)
    waiting.join(1.5)
    assert waiting.is_alive(), "no chain yet: the worker waits rather than dying"
    node = ManagedNode(node_settings)
    node.start()
    try:
        assert node.anvil is not None
        deploy_system(node.anvil.w3, accounts[0], node_settings)
        waiting.join(15)
        assert len(got) == 1 and got[0] is not None
        w3, deployment, relayer = got[0]  # type: ignore[misc]
        assert w3.eth.chain_id == node_settings.chain_id
        assert deployment.council.address and relayer.address
    finally:
        node.stop()


def test_a_worker_that_finds_the_chain_but_no_deployment_waits_for_the_deployment(
    node_settings: Settings, accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> None:
    node = ManagedNode(node_settings)
    node.start()
    try:
        assert node.anvil is not None
        from_parent, _to_child = multiprocessing.Pipe(duplex=False)
        waiting, got = _waiting_for_chain(node_settings, from_parent)
        waiting.join(1.5)
        assert waiting.is_alive() and not got, "no deployment yet: the worker waits"
        deployment = deploy_system(node.anvil.w3, accounts[0], node_settings)
        waiting.join(15)
        assert len(got) == 1 and got[0] is not None
        _, found, _ = got[0]  # type: ignore[misc]
        assert found.council.address == deployment.council.address
    finally:
        node.stop()


def test_a_worker_waiting_for_the_chain_stops_when_its_parent_goes(
    node_settings: Settings,
) -> None:
    from_parent, to_child = multiprocessing.Pipe(duplex=False)
    waiting, got = _waiting_for_chain(node_settings, from_parent)
    to_child.close()
    waiting.join(10)
    assert got == [None]
