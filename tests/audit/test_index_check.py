"""The index the API reads from is audited too: the relay worker checks it against the chain's
logs and has it rebuilt when they disagree (reads answer 503 meanwhile), and
`commons audit --api` names what a running API serves that the chain does not say."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from commons.cli import app
from tests.audit.conftest import History, cli_env

runner = CliRunner()


def _index(history: History) -> Path:
    return history.live.data_dir / "var" / "index-31337.sqlite"


def _edit_index(history: History) -> dict[str, Any]:
    """A ballot's option changed, a payout's execution deleted, a service's minutes raised."""
    with sqlite3.connect(_index(history)) as db:
        block, log_index, option = db.execute(
            "SELECT block_number, log_index, json_extract(args, '$.option') FROM events "
            "WHERE event = 'BallotCast' ORDER BY block_number, log_index LIMIT 1"
        ).fetchone()
        other = "1" if str(option) != "1" else "2"
        db.execute(
            "UPDATE events SET args = json_set(args, '$.option', ?) "
            "WHERE block_number = ? AND log_index = ?",
            (other, block, log_index),
        )
        deleted = db.execute("DELETE FROM events WHERE event = 'PayoutExecuted'").rowcount
        db.execute(
            "UPDATE events SET args = json_set(args, '$.minutesServed', '999') "
            "WHERE event = 'ServiceRecorded'"
        )
    assert deleted >= 1
    return {"block": block, "option": int(option), "served_option": int(other)}


def _restart_api(history: History, **overrides: str) -> None:
    history.live.stop_api()
    history.live.start_api(**overrides)


@pytest.fixture
def api(history: History) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=history.live.url, timeout=10) as http:
        yield http
    # Whatever the test left, the API starts again from an index built afresh from the chain.
    history.live.stop_api()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{_index(history)}{suffix}").unlink(missing_ok=True)
    history.live.start_api()


def test_audit_api_names_what_an_edited_index_serves(
    history: History, api: httpx.Client, tmp_path: Path
) -> None:
    _restart_api(history, index_check_s="0")  # nothing repairs the edit while the audit runs
    edit = _edit_index(history)
    proposal = int(history.made["proposals"]["garden"])
    assert api.get(f"/v1/proposals/{proposal}/ballots").status_code == 200  # serving the edit

    result = runner.invoke(
        app,
        ["audit", "--api", history.live.url, "--out", str(tmp_path), "--fresh", "--quiet"],
        env=cli_env(history),
    )

    assert result.exit_code == 1, result.output
    served = [line for line in result.output.splitlines() if "[api.served]" in line]
    assert any("/ballots" in line and f"block {edit['block']}" in line for line in served), served
    assert any("fund/trail leaves out PayoutExecuted" in line for line in served), served
    assert any("/balances" in line for line in served), served
    # Nothing else: the chain itself is clean.
    rules = {line.split("]")[0] for line in result.output.splitlines() if line.startswith("  [")}
    assert rules == {"  [api.served"}


def test_audit_api_of_a_faithful_api_names_nothing(
    history: History, api: httpx.Client, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        ["audit", "--api", history.live.url, "--out", str(tmp_path), "--fresh", "--quiet"],
        env=cli_env(history),
    )
    assert result.exit_code == 0, result.output
    assert "CLEAN" in result.output


def _wait(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail("timed out")


def test_edited_index_is_noticed_refused_with_503_and_rebuilt(
    history: History, api: httpx.Client
) -> None:
    _restart_api(history, index_check_s="3")
    proposal = int(history.made["proposals"]["garden"])
    path = f"/v1/proposals/{proposal}/ballots"
    before = api.get(path).json()
    assert api.get("/health").json()["index"] == {"consistent": True, "problem": None}

    _edit_index(history)
    health = _wait(lambda: (h := api.get("/health").json())["index"]["consistent"] is False and h)

    assert "block" in health["index"]["problem"]
    refused = api.get(path)
    assert refused.status_code == 503
    assert refused.json()["code"] == "IndexInconsistent"
    status = runner.invoke(app, ["status"], env=history.live.env)
    assert "index:      DISAGREES with the chain" in status.output, status.output
    # The next round rebuilds it from the chain: the reads come back, as the chain says.
    _wait(lambda: api.get("/health").json()["index"]["consistent"])
    assert api.get(path).json() == before
