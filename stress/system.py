"""The system under stress, as separate processes: the chain supervisor (`python -m ledger.node`,
anvil + snapshots, on a tmpfs data directory when we may mount one), the API (`python -m api`,
attached to that anvil through COMMONS_RPC_URL), and the set-up of a community with a roll and
open proposals.

Every process is started in its own session and remembered by PID; `close()` stops each of them
by PID (and unmounts the tmpfs), also when the run fails half way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import DEV_MNEMONIC, PROJECT_ROOT, Settings
from ledger.deploy import Deployment, deploy_system
from ledger.node import NodeInfo, free_port, make_web3, pid_alive, rpc
from ledger.protocol.generated import BallotKind, ProposalParams, Roles
from ledger.tx import send

ROLL_CHUNK = 1000
START_TIMEOUT_S = 60.0
RELAYER_FUNDS_WEI = 10**24


def log(message: str) -> None:
    print(f"[stress {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def stop(self, timeout: float = 30.0) -> None:
        if not self.alive():
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(10)


@dataclass
class Community:
    id: int
    admin: LocalAccount
    member: LocalAccount
    proposals: list[int] = field(default_factory=list)


class Stack:
    """The chain supervisor and the API, both real processes, sharing one data directory."""

    def __init__(self, root: Path, *, tmpfs_mb: int | None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = root / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.mounted = False
        self.tmpfs_mb = tmpfs_mb
        if tmpfs_mb:
            mount = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={tmpfs_mb}M,mode=0700", "tmpfs",
                 str(self.data_dir)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            self.mounted = mount.returncode == 0
            if not self.mounted:
                log(f"no tmpfs for the data dir ({mount.stderr.strip()}): disk-full is skipped")
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.deployments_dir = root / "deployments"
        self.anvil_port = free_port()
        self.api_port = free_port()
        self.rpc_url = f"http://127.0.0.1:{self.anvil_port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.relayer: LocalAccount = Account.create()
        self.auth_secret = os.urandom(16).hex()
        self.chain: Proc | None = None
        self.api: Proc | None = None
        self.extra: list[Proc] = []
        self.anvil_pids: set[int] = set()
        self.w3 = make_web3(self.rpc_url)
        self.settings = Settings(
            rpc_url=self.rpc_url,
            data_dir=self.data_dir,
            deployments_dir=self.deployments_dir,
        )

    # --- environment --------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMMONS_")}
        env.update(
            {
                "COMMONS_DATA_DIR": str(self.data_dir),
                "COMMONS_DEPLOYMENTS_DIR": str(self.deployments_dir),
                "COMMONS_ANVIL_PORT": str(self.anvil_port),
                "COMMONS_API_PORT": str(self.api_port),
                "COMMONS_RELAYER_KEY": self.relayer.key.hex(),
                "COMMONS_AUTH_SECRET": self.auth_secret,
                "COMMONS_RELAY_MAX_QUEUED": "200000",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        log_file = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - child keeps it
        try:
            popen = subprocess.Popen(
                args,
                env=env,
                cwd=PROJECT_ROOT,
                stdout=log_file,
                stderr=log_file,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log_file.close()
        return Proc(name, popen)

    # --- the chain --------------------------------------------------------------------------------

    @property
    def info_path(self) -> Path:
        return self.data_dir / "chain" / "node.json"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "chain" / "snapshots"

    def start_chain(self) -> None:
        # The supervisor of the embedded chain, unchanged: no COMMONS_RPC_URL in its env.
        self.chain = self.spawn("chain", [sys.executable, "-m", "ledger.node"], self.env())
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.chain.alive():
                raise RuntimeError(f"chain supervisor exited: see {self.logs / 'chain.log'}")
            info = NodeInfo.load(self.info_path)
            if info is not None and info.supervisor_pid == self.chain.pid:
                self.anvil_pids.add(info.anvil_pid)
                with contextlib.suppress(Exception):
                    self.w3.eth.block_number  # noqa: B018 - a probe
                    return
            time.sleep(0.1)
        raise RuntimeError("chain did not start in time")

    def anvil_pid(self) -> int:
        info = NodeInfo.load(self.info_path)
        if info is None:
            raise RuntimeError("no running chain")
        return info.anvil_pid

    def kill_chain(self) -> None:
        """kill -9 of anvil itself; its supervisor sees it gone and exits."""
        assert self.chain is not None
        os.kill(self.anvil_pid(), signal.SIGKILL)
        try:
            self.chain.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.chain.stop()

    def stop_chain(self) -> None:
        if self.chain is not None:
            self.chain.stop(60)

    def snapshots(self) -> list[Path]:
        return sorted(self.snapshot_dir.glob("state-*.json"), reverse=True)

    def wait_snapshot(self, block: int, timeout: float = 60.0) -> Path:
        """Wait until a snapshot holds `block`: what the next chain restart starts from."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in self.snapshots():
                if int(path.stem.split("-")[2]) >= block:
                    return path
            time.sleep(0.2)
        raise RuntimeError(f"no snapshot reached block {block} within {timeout:.0f}s")

    # --- the API ----------------------------------------------------------------------------------

    def start_api(self) -> None:
        env = self.env(COMMONS_RPC_URL=self.rpc_url)
        self.api = self.spawn("api", [sys.executable, "-m", "api"], env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.api.alive():
                raise RuntimeError(f"API exited on start: see {self.logs / 'api.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("API did not become healthy in time")

    def kill_api(self) -> None:
        assert self.api is not None
        self.api.signal(signal.SIGKILL)
        self.api.popen.wait(15)

    def stop_api(self) -> None:
        if self.api is not None:
            self.api.stop(60)

    # --- set-up -----------------------------------------------------------------------------------

    def deploy(self) -> Deployment:
        return deploy_system(self.w3, dev_account(0), self.settings, force=True)

    def community(self, d: Deployment, roll: list[str], proposals: int) -> Community:
        admin, member = dev_account(1), dev_account(2)
        send(self.w3, admin, d.registry.functions.createCommunity(os.urandom(32)))
        cid: int = d.registry.functions.communityCount().call()
        send(self.w3, admin, d.registry.functions.grantRole(cid, Roles.COMMITTEE, member.address))
        send(self.w3, admin, d.registry.functions.grantRole(cid, Roles.REGISTRAR, member.address))
        for start in range(0, len(roll), ROLL_CHUNK):
            chunk = roll[start : start + ROLL_CHUNK]
            publish = start + ROLL_CHUNK >= len(roll)
            send(self.w3, member, d.registry.functions.updateRoll(cid, chunk, [], publish))
        community = Community(cid, admin, member)
        now = self.w3.eth.get_block("latest")["timestamp"]
        for n in range(proposals):
            params = month_long_vote(cid, f"stress proposal {n}", now)
            send(self.w3, member, d.council.functions.openProposal(params))
            community.proposals.append(d.council.functions.proposalCount().call())
        rpc(self.w3, "anvil_setBalance", [self.relayer.address, hex(RELAYER_FUNDS_WEI)])
        return community

    def relay_counts(self) -> dict[str, Any] | None:
        try:
            relay: dict[str, Any] = httpx.get(f"{self.api_url}/v1/chain", timeout=10).json()[
                "relay"
            ]
            return relay
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    # --- the data disk -------------------------------------------------------------------------

    def _remount(self, size_kb: int) -> bool:
        done = subprocess.run(
            ["mount", "-o", f"remount,size={size_kb}k", str(self.data_dir)],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def shrink_tmpfs(self, slack_mb: int) -> None:
        """Shrink the data dir's tmpfs to what it holds plus `slack_mb` (tmpfs refuses a size
        below its use, and the use grows meanwhile: retry with more room)."""
        for attempt in range(10):
            stat = os.statvfs(self.data_dir)
            used_kb = (stat.f_blocks - stat.f_bfree) * stat.f_frsize // 1024
            if self._remount(used_kb + (slack_mb << (10 + attempt // 3))):
                return
        raise RuntimeError("could not shrink the data dir's tmpfs")

    def grow_tmpfs(self) -> None:
        if self.tmpfs_mb and not self._remount(self.tmpfs_mb * 1024):
            raise RuntimeError("could not grow the data dir's tmpfs back")

    def keep_data(self) -> None:
        """Copy the databases and logs out of the tmpfs (which goes away on close)."""
        target = self.root / "data-kept"
        target.mkdir(exist_ok=True)
        for path in self.data_dir.glob("*.sqlite*"):
            shutil.copy2(path, target / path.name)
        for path in (self.data_dir / "chain").glob("*.log"):
            shutil.copy2(path, target / f"chain-{path.name}")

    # --- tear-down --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process we started (by PID), then unmount the tmpfs."""
        for proc in self.extra:
            proc.stop(10)
        self.stop_api()
        self.stop_chain()
        for pid in self.anvil_pids:
            # An anvil whose supervisor was killed lives on in its own session.
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.mounted:
            for _ in range(20):
                done = subprocess.run(["umount", str(self.data_dir)], capture_output=True,
                                      check=False)  # fmt: skip
                if done.returncode == 0:
                    self.mounted = False
                    break
                time.sleep(0.5)
            else:
                # Something still holds a file there: detach it now, freed when released.
                subprocess.run(["umount", "-l", str(self.data_dir)], check=False)


def month_long_vote(community: int, text: str, now: int) -> ProposalParams:
    """A yes/no/abstain proposal open from now for 30 days, no quorum, simple majority."""
    return ProposalParams(
        communityId=community,
        textHash=Web3.keccak(text=text),
        kind=BallotKind.YesNoAbstain,
        optionCount=3,
        opensAt=now - 1,
        closesAt=now + 30 * 86_400,
        quorumBps=0,
        thresholdBps=5000,
        budgetAmount=0,
        budgetCurrency=bytes(3),
    )


def dev_account(index: int) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(
        DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"
    )
    return account
