"""`commons run` stopped by Ctrl-C while it seeds the demo, started twice, or kept off its port:
the real CLI in a subprocess on free ports with a private data dir."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.node import free_port, pid_alive
from tests.audit.conftest import audit_data_dir

COMMONS = str(Path(sys.executable).parent / "commons")
READY = "Ctrl-C stops"
# The API's and the relay worker's own log records share the terminal's stderr with the
# supervisor; what a Ctrl-C says is the supervisor's line.
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \S+ (INFO|WARNING) ")


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr_lines(self) -> list[str]:
        lines = self.err.read_text().splitlines()
        return [line for line in lines if line.strip() and not LOG_RECORD.match(line)]

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stdout():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no {text!r}: {self.stdout()}\n{self.err.read_text()}")
            time.sleep(0.05)

    def ctrl_c(self) -> int:
        """SIGINT to its process group, as a terminal sends it; its exit status."""
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(60)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("COMMONS_")}
    return {
        **kept,
        "COMMONS_DATA_DIR": str(tmp_path / "var"),
        "COMMONS_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "COMMONS_ANVIL_PORT": str(free_port()),
        "COMMONS_API_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
        "COMMONS_DEMO_FAST_CLOCK": "true",
    }


@pytest.fixture
def start(env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    started: list[Run] = []

    def start(*args: str) -> Run:
        n = len(started)
        out, err = tmp_path / f"run{n}.out", tmp_path / f"run{n}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            proc = subprocess.Popen(
                [COMMONS, "run", *args], env=env, stdout=o, stderr=e,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        started.append(Run(proc, out, err))
        return started[-1]

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGTERM)
            run.proc.wait(60)
    anvil = Path(env["COMMONS_DATA_DIR"]) / "chain" / "node.json"
    if anvil.exists():
        left = json.loads(anvil.read_text()).get("anvil_pid")
        if left and pid_alive(left):
            os.kill(left, signal.SIGTERM)


def commons(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMONS, *args], env=env, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(
    "stop_after",
    [
        # The first step and the two election steps that leave messages in the relay: every
        # step between resumes the same way (each is made idempotent by what the chain holds).
        "demo: creating the community",  # the community is (being) made, nothing else
        "demo: residents rank the candidates",  # the election open, its ballots in the relay
        # The in-person ballot, the mandate and proxy ballot, the officers' totals in flight.
        "demo: an in-person ballot, a proxy's ballot",
    ],
)
def test_ctrl_c_while_seeding_says_one_line_and_the_next_start_finishes_the_same_community(
    stop_after: str, start: object, env: dict[str, str], tmp_path: Path, build_cache: Path
) -> None:
    first = start()  # type: ignore[operator]
    first.wait_for(stop_after)
    assert first.ctrl_c() == 130
    said = first.stderr_lines()
    assert len(said) == 1, said
    assert said[0].startswith("stopped the API") and "the next start finishes it" in said[0]
    assert "Traceback" not in first.err.read_text() + first.stdout()
    assert not list((tmp_path / "var" / "demo").glob("seeded-*.json"))  # not marked as done

    second = start()  # type: ignore[operator]
    second.wait_for(READY)
    api = f"http://127.0.0.1:{env['COMMONS_API_PORT']}"
    communities = httpx.get(f"{api}/v1/communities", timeout=10).json()["items"]
    assert [int(e["args"]["communityId"]) for e in communities] == [1]
    (marker,) = (tmp_path / "var" / "demo").glob("seeded-*.json")
    made = json.loads(marker.read_text())
    assert made["community"] == 1
    fund = httpx.get(f"{api}/v1/communities/1/fund", timeout=10).json()
    assert (fund["totalIncome"], fund["totalPaid"]) == (920_000, 200_000)
    playground = httpx.get(f"{api}/v1/proposals/{made['proposals']['playground']}", timeout=10)
    assert playground.json()["outcome"] == "Passed"
    payout = httpx.get(f"{api}/v1/payouts/{made['payout']}", timeout=10).json()
    assert payout["status"] == "Executed"
    election = httpx.get(f"{api}/v1/elections/{made['election']}", timeout=10).json()
    assert (election["state"], election["communityId"]) == ("Counted", 1)

    audit_data_dir(tmp_path / "var", build_cache)  # the run's warm compile, not ~20 s of CPU
    audit = commons(env, "audit", "--quiet", "--out", str(tmp_path / "audit"))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert second.ctrl_c() == 130


def test_second_run_says_already_running_where_and_exits_0(
    start: object, env: dict[str, str]
) -> None:
    first = start("--no-demo")  # type: ignore[operator]
    first.wait_for(READY)
    second = commons(env, "run", "--no-demo")
    url = f"http://127.0.0.1:{env['COMMONS_API_PORT']}"
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"already running at {url} (stop it with `make down`)\n"
    assert second.stderr == "" and first.proc.poll() is None
    assert "address already in use" not in first.err.read_text()


def test_api_port_held_by_another_program_is_one_line_naming_the_setting(
    env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", int(env["COMMONS_API_PORT"])))
        other.listen()
        result = commons(env, "run", "--no-demo")
    assert result.returncode == 1
    port = env["COMMONS_API_PORT"]
    assert result.stderr == (
        f"error: port {port} on 127.0.0.1 is in use by another program: "
        "set COMMONS_API_PORT to a free port\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "var" / "chain" / "node.json").exists()  # nothing was started


@pytest.mark.parametrize("after_s", [0.3, 1.5, 3.0])  # loading, starting the chain, deploying
def test_ctrl_c_while_starting_says_one_line_exits_130_and_leaves_nothing_running(
    after_s: float, start: object, env: dict[str, str]
) -> None:
    run = start("--no-demo")  # type: ignore[operator]
    time.sleep(after_s)
    assert run.ctrl_c() == 130
    said = run.stderr_lines()
    assert len(said) == 1 and said[0].startswith(("stopped", "error: stopped")), said
    assert "Traceback" not in run.err.read_text() + run.stdout()
    node = Path(env["COMMONS_DATA_DIR"]) / "chain" / "node.json"
    if node.exists():
        assert not pid_alive(json.loads(node.read_text())["anvil_pid"])
    assert not (Path(env["COMMONS_DATA_DIR"]) / "run.json").exists()


def test_ctrl_c_in_make_run_is_one_line_without_makes_own(
    env: dict[str, str], tmp_path: Path
) -> None:
    out, err = tmp_path / "make.out", tmp_path / "make.err"
    root = Path(__file__).resolve().parents[2]
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(
            ["make", "-s", "run"], cwd=root, env={**env, "COMMONS_SEED_DEMO": "false"},
            stdout=o, stderr=e, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    run = Run(proc, out, err)
    try:
        run.wait_for(READY)
        # make dies by the SIGINT it got too: a shell reports that as status 130.
        assert run.ctrl_c() == -signal.SIGINT
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
    said = run.stderr_lines()
    assert len(said) == 1 and said[0].startswith("stopped the API"), said
    assert "make: ***" not in err.read_text()
