"""The operator's keys from the keystore: `commons deploy` with the deployer's, `commons audit
register-key` with the auditor's account, and `commons run --relayer-key NAME`, whose relayer
pays gas with a key unlocked with a passphrase given once and handed to the API on a pipe
(never in an environment, a command line or a log); a relayer that cannot last the day is
warned about at start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.audit.report import generate_key
from ledger.clients.registry import RegistryClient, Role
from ledger.config import Settings
from ledger.deploy import load_deployment
from ledger.node import AnvilProcess, child_pids, ephemeral_node, free_port, rpc

COMMONS = str(Path(sys.executable).parent / "commons")
PASSPHRASE = "relayer passphrase for the test"
GWEI = 10**9


@pytest.fixture
def paid_chain() -> Iterator[AnvilProcess]:
    """A chain of its own that charges for gas (10 gwei a gas; the managed anvil charges 0)."""
    with ephemeral_node(Settings()) as node:
        rpc(node.w3, "anvil_setNextBlockBaseFeePerGas", [hex(10 * GWEI)])
        rpc(node.w3, "evm_mine")
        yield node


@pytest.fixture
def env(tmp_path: Path, paid_chain: AnvilProcess) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("COMMONS_")},
        "COMMONS_DATA_DIR": str(tmp_path / "var"),
        "COMMONS_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "COMMONS_KEYSTORE_DIR": str(tmp_path / "keys"),
        "COMMONS_KEYSTORE_SCRYPT_N": "1024",
        "COMMONS_RPC_URL": paid_chain.url,
        "COMMONS_API_PORT": str(free_port()),
    }


@pytest.fixture
def admin(env: dict[str, str], paid_chain: AnvilProcess) -> LocalAccount:
    """A funded deployer kept in the keystore as 'admin', named by COMMONS_DEPLOYER_KEYSTORE."""
    account: LocalAccount = Account.create()
    _import(env, "admin", account)
    rpc(paid_chain.w3, "anvil_setBalance", [account.address, hex(100 * 10**18)])
    env["COMMONS_DEPLOYER_KEYSTORE"] = "admin"
    return account


def _passphrase_pipe() -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, PASSPHRASE.encode() + b"\n")
    os.close(write_end)
    return read_end


def _import(env: dict[str, str], name: str, account: LocalAccount) -> None:
    fd = _passphrase_pipe()
    try:
        result = subprocess.run(
            [COMMONS, "key", "import", name, "--passphrase-fd", str(fd)],
            env=env, input=bytes(account.key).hex(), capture_output=True, text=True,
            pass_fds=(fd,), timeout=60,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert result.returncode == 0, result.stderr


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = path.read_text(errors="replace")
        if text in seen:
            return seen
        assert proc.poll() is None, f"commons run exited {proc.returncode}: {seen[-2000:]}"
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not seen within {timeout:.0f}s: {path.read_text()[-2000:]}")


def _proc_text(pid: int, what: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{what}").read_bytes()
    except OSError:
        return b""


def test_deploy_signs_with_the_deployers_keystore_key(
    env: dict[str, str], admin: LocalAccount, paid_chain: AnvilProcess, tmp_path: Path
) -> None:
    fd = _passphrase_pipe()
    try:
        result = subprocess.run(
            [COMMONS, "deploy"],
            env={**env, "COMMONS_DEPLOYER_PASSPHRASE_FD": str(fd)},
            capture_output=True, text=True, pass_fds=(fd,), timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert result.returncode == 0, result.stderr
    assert PASSPHRASE not in result.stdout + result.stderr
    [record] = (tmp_path / "deployments").glob("*.json")
    tx_hashes = [c["tx_hash"] for c in json.loads(record.read_text())["contracts"].values()]
    assert tx_hashes
    for tx_hash in tx_hashes:
        assert paid_chain.w3.eth.get_transaction(tx_hash)["from"] == admin.address


def test_deploy_with_a_wrong_deployer_passphrase_sends_nothing(
    env: dict[str, str], admin: LocalAccount, paid_chain: AnvilProcess
) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"not the passphrase\n")
    os.close(write_end)
    head = paid_chain.w3.eth.block_number
    try:
        result = subprocess.run(
            [COMMONS, "deploy"],
            env={**env, "COMMONS_DEPLOYER_PASSPHRASE_FD": str(read_end)},
            capture_output=True, text=True, pass_fds=(read_end,), timeout=120,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.close(read_end)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: wrong passphrase for key 'admin'"]
    assert paid_chain.w3.eth.block_number == head


def test_run_relays_with_a_keystore_key_and_warns_when_it_is_nearly_empty(
    env: dict[str, str], admin: LocalAccount, paid_chain: AnvilProcess, tmp_path: Path
) -> None:
    relayer: LocalAccount = Account.create()
    _import(env, "relayer", relayer)
    rpc(paid_chain.w3, "anvil_setBalance", [relayer.address, hex(10**16)])  # 0.01 ETH
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    fds = (_passphrase_pipe(), _passphrase_pipe())  # the relayer's, the deployer's
    run_env = {**env, "COMMONS_DEPLOYER_PASSPHRASE_FD": str(fds[1])}
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [COMMONS, "run", "--no-demo", "--relayer-key", "relayer", "--passphrase-fd",
             str(fds[0])],
            env=run_env, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, pass_fds=fds,
        )  # fmt: skip
    for fd in fds:
        os.close(fd)
    try:
        _wait_for(out, "Ctrl-C stops", proc, 120)
        logs = _wait_for(err, "less than one full batch", proc, 60)
        assert f"relaying for {relayer.address}" in logs
        assert f"the relayer {relayer.address} holds 0.01 ETH" in logs
        shown = out.read_text()
        assert f"relayer:   {relayer.address} (key 'relayer' from the keystore)" in shown
        assert "DEVELOPMENT ONLY" not in shown
        api_pid = json.loads((tmp_path / "var" / "run.json").read_text())["api_pid"]
        for pid in [proc.pid, api_pid, *child_pids(api_pid)]:
            for what in ("environ", "cmdline"):
                seen = _proc_text(pid, what)
                assert PASSPHRASE.encode() not in seen
                for key in (relayer.key, admin.key):
                    assert bytes(key).hex().encode() not in seen.lower()
        assert b"COMMONS_RELAYER_KEYSTORE=relayer" in _proc_text(api_pid, "environ")
        # An API killed -9 is started again, and unlocks the key again from a fresh pipe.
        os.kill(api_pid, signal.SIGKILL)
        _wait_for(err, f"API (pid {api_pid}) was killed by SIGKILL", proc, 60)
        deadline = time.monotonic() + 60
        while err.read_text().count(f"relaying for {relayer.address}") < 2:
            assert time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert proc.returncode == 0, err.read_text()[-2000:]
    everything = out.read_text() + err.read_text()
    assert PASSPHRASE not in everything
    assert bytes(relayer.key).hex() not in everything.lower()
    assert bytes(admin.key).hex() not in everything.lower()


def test_run_with_a_wrong_relayer_passphrase_starts_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    _import(env, "relayer", Account.create())
    read_end, write_end = os.pipe()
    os.write(write_end, b"not the passphrase\n")
    os.close(write_end)
    try:
        result = subprocess.run(
            [COMMONS, "run", "--relayer-key", "relayer", "--passphrase-fd", str(read_end)],
            env=env, capture_output=True, text=True, pass_fds=(read_end,), timeout=60,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.close(read_end)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: wrong passphrase for key 'relayer'"]
    assert not (tmp_path / "var" / "run.json").exists()
    assert not (tmp_path / "deployments").exists()


def test_api_refuses_a_keystore_key_and_a_plain_key_at_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api"],
        env={
            **env,
            "COMMONS_RELAYER_KEYSTORE": "relayer",
            "COMMONS_RELAYER_KEY": "0x" + "11" * 32,
        },
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: set COMMONS_RELAYER_KEY or a relayer keystore key, not both"
    )
    assert "11" * 32 not in result.stderr


def test_register_key_sends_from_the_auditors_keystore_account(
    env: dict[str, str], admin: LocalAccount, paid_chain: AnvilProcess, tmp_path: Path
) -> None:
    fd = _passphrase_pipe()
    try:
        deployed = subprocess.run(
            [COMMONS, "deploy"], env={**env, "COMMONS_DEPLOYER_PASSPHRASE_FD": str(fd)},
            capture_output=True, text=True, pass_fds=(fd,), timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert deployed.returncode == 0, deployed.stderr
    auditor: LocalAccount = Account.create()
    _import(env, "auditor", auditor)
    rpc(paid_chain.w3, "anvil_setBalance", [auditor.address, hex(10**18)])
    settings = Settings(rpc_url=paid_chain.url, deployments_dir=tmp_path / "deployments")
    registry = RegistryClient(paid_chain.w3, load_deployment(paid_chain.w3, settings).registry)
    community = registry.create_community(admin, b"\x01" * 32)
    registry.grant_role(admin, community, Role.AUDITOR, auditor.address)
    report_key = tmp_path / "report.pem"
    generate_key(report_key)
    fd = _passphrase_pipe()
    try:
        result = subprocess.run(
            [COMMONS, "audit", "register-key", "--community", str(community), "--key",
             str(report_key)],
            env={
                **env,
                "COMMONS_AUDITOR_ACCOUNT_KEYSTORE": "auditor",
                "COMMONS_AUDITOR_ACCOUNT_PASSPHRASE_FD": str(fd),
            },
            capture_output=True, text=True, pass_fds=(fd,), timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert result.returncode == 0, result.stderr
    assert f"for auditor {auditor.address} of community {community}" in result.stdout
    assert PASSPHRASE not in result.stdout + result.stderr
