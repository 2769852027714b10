"""`commons run` keeps what it started up: the real CLI in a subprocess, its chain and API killed
-9 under it, then stopped by SIGTERM — each on free ports with a private data dir."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.api_client import ApiClient
from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.node import NodeInfo, child_pids, free_port, make_web3, pid_alive
from tests.relay_support import open_election

COMMONS = str(Path(sys.executable).parent / "commons")
START_TIMEOUT_S = 60.0
BACK_WITHIN_S = 10.0


@dataclass
class Running:
    """`commons run --no-demo` as a child of the test, with what it prints in a file."""

    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    settings: Settings
    output: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    def text(self) -> str:
        return self.output.read_text()

    def anvil_pid(self) -> int:
        info = NodeInfo.load(self.settings.data_dir / "chain" / "node.json")
        assert info is not None and info.supervisor_pid == self.proc.pid, self.text()
        return info.anvil_pid

    def api_pid(self) -> int:
        apis = [p for p in child_pids(self.proc.pid) if b"-m\0api" in cmdline(p)]
        assert len(apis) == 1, (apis, self.text())
        return apis[0]

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def pids(self) -> list[int]:
        """Every process it runs: itself, anvil, the API and the API's children (the worker)."""
        api = self.api_pid()
        return [self.proc.pid, self.anvil_pid(), api, *child_pids(api)]


def status(system: Running, *, check: bool = True) -> str:
    done = subprocess.run(
        [COMMONS, "status"], env=system.env, capture_output=True, text=True, timeout=60,
        check=check,
    )  # fmt: skip
    return done.stdout


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wait_for(what: str, check: Callable[[], bool], timeout: float = BACK_WITHIN_S) -> float:
    """Seconds until `check()` held; fails the test after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.1)
    return time.monotonic() - started


def start(tmp_path: Path, again: Running | None = None, **overrides: str) -> Running:
    """`commons run --no-demo` on free ports, or on those of `again` (same data dir)."""
    settings = again.settings if again else Settings(
        data_dir=tmp_path / "var",
        deployments_dir=tmp_path / "deployments",
        anvil_port=free_port(),
        api_port=free_port(),
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMONS_")}
    env.update(
        {
            "COMMONS_DATA_DIR": str(settings.data_dir),
            "COMMONS_DEPLOYMENTS_DIR": str(settings.deployments_dir),
            "COMMONS_ANVIL_PORT": str(settings.anvil_port),
            "COMMONS_API_PORT": str(settings.api_port),
            "COMMONS_SNAPSHOT_INTERVAL_S": "0.3",
            "PYTHONUNBUFFERED": "1",
            **{f"COMMONS_{k.upper()}": v for k, v in overrides.items()},
        }
    )
    output = tmp_path / f"commons-run-{settings.api_port}-{time.monotonic_ns()}.log"
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            [COMMONS, "run", "--no-demo"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running = Running(proc, env, settings, output)
    wait_for("commons run ready", lambda: "Ctrl-C stops" in running.text(), START_TIMEOUT_S)
    return running


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Starts `commons run` with settings overridden; stops whatever is left afterwards."""
    started: list[Running] = []

    def launch(again: Running | None = None, **overrides: str) -> Running:
        started.append(start(tmp_path, again, **overrides))
        return started[-1]

    yield launch
    for system in started:
        stop_by_pid(system)


@pytest.fixture
def running(launch: Callable[..., Running]) -> Running:
    return launch()


def stop_by_pid(system: Running) -> None:
    """Whatever a test left running, stopped by PID: SIGTERM first, then SIGKILL."""
    if system.proc.poll() is None:
        leftovers = [system.proc.pid, *child_pids(system.proc.pid)]
        leftovers += [c for p in leftovers[1:] for c in child_pids(p)]
        system.proc.send_signal(signal.SIGTERM)
        try:
            system.proc.wait(60)
        except subprocess.TimeoutExpired:
            system.proc.kill()
            system.proc.wait()
        for pid in leftovers:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


@dataclass
class Election:
    client: ApiClient
    w3: Web3
    proposal: int
    voters: list[LocalAccount]

    def tally(self) -> list[int]:
        council = self.client.contracts["council"]
        return list(council.functions.tallyOf(self.proposal).call())


def election(
    system: Running, accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> Election:
    w3 = make_web3(f"http://127.0.0.1:{system.settings.anvil_port}")
    deployment = load_deployment(w3, system.settings)
    proposal, voters = open_election(w3, deployment, accounts, voters=6, tag=7)
    return Election(ApiClient(system.api_url, w3, artifacts), w3, proposal, voters)


def snapshot_holds(system: Running, block: int) -> bool:
    snapshots = (system.settings.data_dir / "chain" / "snapshots").glob("state-*.json")
    return any(int(p.stem.split("-")[2]) >= block for p in snapshots)


def wait_snapshot_of(system: Running, block: int) -> None:
    wait_for(f"a snapshot of block {block}", lambda: snapshot_holds(system, block))


def test_chain_killed_9_is_restarted_from_its_snapshot_and_acknowledged_ballots_land(
    launch: Callable[..., Running], accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> None:
    running = launch(snapshot_interval_s="3")
    vote = election(running, accounts, artifacts)
    first = vote.client.wait(vote.client.ballot(vote.voters[0], vote.proposal, 1)["id"])
    assert first["status"] == "counted"
    wait_snapshot_of(running, first["block"])
    # Counted in a block no snapshot holds yet: the restarted chain has lost it, the relay
    # notices and sends them again.
    rewound = vote.client.wait_all(
        [vote.client.ballot(v, vote.proposal, 2) for v in vote.voters[1:3]]
    )
    assert {r["status"] for r in rewound} == {"counted"}
    assert not snapshot_holds(running, max(r["block"] for r in rewound))
    # Acknowledged just before the chain dies, sent or not.
    late = vote.client.ballot(vote.voters[3], vote.proposal, 2)
    anvil = running.anvil_pid()
    os.kill(anvil, signal.SIGKILL)

    back = wait_for("chain and API healthy again", lambda: running.healthy() and
                    running.anvil_pid() != anvil)  # fmt: skip
    assert back < BACK_WITHIN_S
    restarted = f"anvil (pid {anvil}) was killed by SIGKILL (signal 9); restarted"
    assert restarted in running.text()
    assert f"-{first['block']:012d}.json" in running.text()  # from the snapshot of that block
    assert vote.client.contracts["council"].functions.proposalCount().call() >= vote.proposal
    wait_for("every acknowledged ballot counted", lambda: vote.tally() == [0, 1, 3], 30)
    assert vote.client.wait(late["id"])["status"] == "counted"
    assert running.proc.poll() is None


def test_api_killed_9_is_restarted_and_its_queued_ballots_land(
    running: Running, accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> None:
    vote = election(running, accounts, artifacts)
    api = running.api_pid()
    workers = child_pids(api)
    assert workers, "the relay runs in a worker process beside the API"
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)  # nothing is sent: what is acknowledged stays queued
    acks = [vote.client.ballot(v, vote.proposal, 0) for v in vote.voters[:4]]
    assert {a["status"] for a in acks} == {"queued"}
    backlog = status(running)
    assert f"api:        up at {running.api_url}" in backlog
    assert "relay:      4 waiting to land (queued 4, sent 0)" in backlog
    os.kill(api, signal.SIGKILL)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)

    back = wait_for("API healthy again", lambda: running.healthy() and
                    running.api_pid() != api)  # fmt: skip
    assert back < BACK_WITHIN_S
    assert f"API (pid {api}) was killed by SIGKILL (signal 9); restarted" in running.text()
    wait_for("every queued ballot counted", lambda: vote.tally()[0] == 4, 30)
    assert {vote.client.wait(a["id"])["status"] for a in acks} == {"counted"}
    assert "relay:      0 waiting to land (queued 0, sent 0); included 0, counted 4" in (
        status(running)
    )


def test_sigterm_stops_everything_it_started_saves_the_chain_and_exits_0(
    running: Running,
    accounts: list[LocalAccount],
    artifacts: dict[str, Artifact],
    tmp_path: Path,
) -> None:
    vote = election(running, accounts, artifacts)
    vote.client.wait(vote.client.ballot(vote.voters[0], vote.proposal, 2)["id"])
    head = vote.w3.eth.block_number
    pids = running.pids()
    assert len(pids) >= 4, pids
    second = subprocess.run(
        [COMMONS, "run", "--no-demo"], env=running.env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0
    assert second.stdout == f"already running at {running.api_url} (stop it with `make down`)\n"

    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(60) == 0
    wait_for("every process gone", lambda: not any(pid_alive(p) for p in pids))
    last = running.text().strip().splitlines()[-1]
    assert last.startswith("stopped the API") and "chain state saved in" in last, last
    assert "Traceback" not in running.text()
    saved = sorted((running.settings.data_dir / "chain" / "snapshots").glob("state-*.json"))
    assert int(saved[-1].stem.split("-")[2]) >= head

    # The runbook's backup: stopped, a copy of the data dir and the deployments runs on its own.
    copy = tmp_path / "copy"
    shutil.copytree(running.settings.data_dir, copy / "var")
    shutil.copytree(running.settings.deployments_dir, copy / "deployments")
    restored = start(copy)
    try:
        w3 = make_web3(f"http://127.0.0.1:{restored.settings.anvil_port}")
        assert w3.eth.block_number >= head
        council = load_deployment(w3, restored.settings).council
        assert list(council.functions.tallyOf(vote.proposal).call()) == [0, 0, 1]
    finally:
        stop_by_pid(restored)


def test_a_chain_that_cannot_come_back_ends_run_with_one_error_line_and_exit_1(
    tmp_path: Path,
) -> None:
    system = start(tmp_path, restart_max="3")
    try:
        snapshots = sorted((system.settings.data_dir / "chain" / "snapshots").glob("state-*"))
        assert snapshots
        for path in snapshots:
            path.write_bytes(path.read_bytes()[:100])  # torn: no snapshot to restart from
        os.kill(system.anvil_pid(), signal.SIGKILL)
        away = httpx.get(f"{system.api_url}/health", timeout=5)  # the API stays up meanwhile
        assert away.status_code == 503 and away.json()["code"] == "ChainUnavailable"
        assert system.proc.wait(30) == 1
    finally:
        stop_by_pid(system)
    errors = [line for line in system.text().splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, system.text()
    assert "the chain died 4 times within 60s" in errors[0]
    assert "no readable chain snapshot" in errors[0] and "giving up" in errors[0]
    assert "Traceback" not in system.text()
    assert not pid_alive(system.proc.pid)


def test_run_after_its_own_kill_9_saves_and_stops_what_it_left_behind_then_resumes(
    launch: Callable[..., Running], accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> None:
    first = launch(snapshot_interval_s="60")  # so the blocks below are in no snapshot
    vote = election(first, accounts, artifacts)
    counted = vote.client.wait(vote.client.ballot(vote.voters[0], vote.proposal, 1)["id"])
    assert not snapshot_holds(first, counted["block"])
    orphans = [first.anvil_pid(), first.api_pid()]
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    assert all(pid_alive(p) for p in orphans), "anvil and the API live in sessions of their own"
    said = status(first, check=False)
    assert f"anvil pid {orphans[0]} runs on, but its supervisor" in said
    assert "`make run` saves that anvil's state" in said

    second = launch(first)
    wait_for("the orphans stopped", lambda: not any(pid_alive(p) for p in orphans))
    assert f"stopped the API (pid {orphans[1]}) a killed `commons run` left behind" in (
        second.text()
    )
    assert second.healthy() and second.anvil_pid() != orphans[0]
    assert vote.tally() == [0, 1, 0]  # the orphan's unsnapshotted block was saved first

    # `commons down` (`make down`) stops a `commons run` as SIGTERM does.
    down = subprocess.run([COMMONS, "down"], env=second.env, capture_output=True, timeout=90)
    assert down.returncode == 0 and b"chain stopped; state saved" in down.stdout
    assert second.proc.wait(10) == 0
