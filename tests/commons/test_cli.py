"""`commons` as an admin uses it: real subprocesses, one-line errors, honest exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.node import ephemeral_node, free_port

COMMONS = str(Path(sys.executable).parent / "commons")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMONS, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "COMMONS_DATA_DIR": str(tmp_path / "var"),
        "COMMONS_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "COMMONS_ANVIL_PORT": str(free_port()),
        "COMMONS_API_PORT": str(free_port()),
    }
    yield env
    run(env, "down")  # never leave a chain behind, whatever the test did


@pytest.mark.parametrize("command", ["up", "down", "status", "deploy", "build", "run"])
def test_every_command_has_help(command: str, env: dict[str, str]) -> None:
    result = run(env, command, "--help")
    assert result.returncode == 0
    assert "Usage: commons " + command in " ".join(result.stdout.split())


def test_up_deploy_status_down_round_trip_keeps_the_deployment(env: dict[str, str]) -> None:
    up = run(env, "up")
    assert up.returncode == 0 and "chain running at http://127.0.0.1:" in up.stdout
    assert "already running" in run(env, "up").stdout  # idempotent
    deploy = run(env, "deploy")
    assert deploy.returncode == 0, deploy.stderr
    assert "deployed Council at 0x" in deploy.stdout
    assert "nothing to do" in run(env, "deploy").stdout
    status = run(env, "status", "--json")
    assert status.returncode == 0
    before = json.loads(status.stdout)
    assert before["chain"]["running"] and set(before["deployment"]["contracts"]) >= {
        "council",
        "fund",
    }
    assert run(env, "down").returncode == 0
    assert "not running" in run(env, "down").stdout

    assert run(env, "up").returncode == 0  # restart from the snapshot written on the way down
    after = json.loads(run(env, "status", "--json").stdout)
    assert after["chain"]["head"] == before["chain"]["head"]
    assert after["deployment"]["contracts"] == before["deployment"]["contracts"]


def test_deploy_without_a_chain_is_one_line_and_exit_1(env: dict[str, str]) -> None:
    result = run(env, "deploy")
    assert_one_line_error(result, "not running: start it with `commons up`")
    assert result.returncode == 1


def test_status_without_a_chain_exits_3_and_suggests_make_run(env: dict[str, str]) -> None:
    result = run(env, "status")
    assert result.returncode == 3
    assert "chain:      not running (not started)" in result.stdout
    assert f"api:        down at http://127.0.0.1:{env['COMMONS_API_PORT']}" in result.stdout
    assert "hint:       start everything with `make run`" in result.stdout
    assert "commons up" not in result.stdout


def test_status_with_the_chain_up_and_the_api_down_says_so_and_suggests_make_run(
    env: dict[str, str],
) -> None:
    assert run(env, "up").returncode == 0
    result = run(env, "status")
    assert result.returncode == 0
    assert f"api:        down at http://127.0.0.1:{env['COMMONS_API_PORT']}" in result.stdout
    assert "hint:       the API is down: `make run` starts it" in result.stdout
    assert "commons up" not in result.stdout


def test_status_names_a_wrong_chain_id_and_the_api_that_is_down(
    env: dict[str, str], settings: Settings
) -> None:
    with ephemeral_node(settings) as other:
        attached = {**env, "COMMONS_RPC_URL": other.url, "COMMONS_CHAIN_ID": "10"}
        result = run(attached, "status")
        as_json = json.loads(run(attached, "status", "--json").stdout)
    assert result.returncode == 3
    assert f"chain:      wrong chain id: expected 10, node says 31337 (at {other.url})" in (
        result.stdout
    )
    assert "not running" not in result.stdout
    assert "api:        down at http://127.0.0.1:" in result.stdout
    assert "COMMONS_CHAIN_ID (10)" in result.stdout
    assert as_json["chain"]["problem"] == "wrong chain id: expected 10, node says 31337"
    assert as_json["api"]["up"] is False


def test_bad_setting_is_named(env: dict[str, str]) -> None:
    assert_one_line_error(
        run({**env, "COMMONS_SNAPSHOT_INTERVAL_S": "-1"}, "status"), "snapshot_interval_s"
    )


def test_attached_node_on_the_wrong_chain_is_refused(
    env: dict[str, str], settings: Settings
) -> None:
    with ephemeral_node(settings) as other:
        attached = {**env, "COMMONS_RPC_URL": other.url, "COMMONS_CHAIN_ID": "10"}
        assert_one_line_error(run(attached, "deploy"), "chain id 31337, configured chain id is 10")
        assert_one_line_error(run(attached, "down"), "nothing to stop")


def test_deploy_to_an_attached_network_needs_a_key(env: dict[str, str], settings: Settings) -> None:
    with ephemeral_node(settings) as other:
        attached = {**env, "COMMONS_RPC_URL": other.url}
        assert_one_line_error(run(attached, "deploy"), "COMMONS_DEPLOYER_KEY")


def test_unknown_command_is_a_usage_error(env: dict[str, str]) -> None:
    result = run(env, "frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
