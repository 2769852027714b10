"""A live system for end-to-end tests: its own anvil, the real contracts, and the real API
server (`python -m api`, uvicorn) on a free loopback port, talked to over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.api_client import ApiClient
from commons.demo import demo_keys, seed_demo
from ledger.audit.acks import AckCheck, AckEntry, check_acks
from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import Deployment, deploy_system
from ledger.node import AnvilProcess, child_pids, ephemeral_node, free_port, rpc
from ledger.signing.acks import Acknowledgement
from ledger.transport import RpcClient
from tests.e2e.browser import build_page


@dataclass
class LiveSystem:
    """A running chain + API. `env` is the API process's environment (COMMONS_* settings)."""

    node: AnvilProcess
    deployment: Deployment
    artifacts: dict[str, Artifact]
    data_dir: Path
    env: dict[str, str]
    url: str
    proc: subprocess.Popen[bytes] | None = None
    client: ApiClient = field(init=False)
    log_path: Path = field(init=False)

    @property
    def w3(self) -> Web3:
        return self.node.w3

    def start_api(self, **overrides: str) -> None:
        env = {**self.env, **{f"COMMONS_{k.upper()}": v for k, v in overrides.items()}}
        self.log_path = self.data_dir / "api.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api"],
                env=env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"API exited on start:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    self.client = ApiClient(self.url, self.w3, self.artifacts)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("API did not become healthy within 60 s")

    def stop_api(self, *, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.client.close()

    def children(self) -> list[int]:
        """The API process's child processes (its relay worker, multiprocessing's tracker)."""
        assert self.proc is not None
        return child_pids(self.proc.pid)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return rpc(self.w3, method, params)

    def judge_acks(self, keep: Callable[[dict[str, Any]], bool]) -> AckCheck:
        """`commons audit --acks`'s judgement of the exported acknowledgements `keep` selects."""
        items = self.client.get("/v1/relay/acks", limit=1000)["items"]
        return self.judge(
            [
                AckEntry(Acknowledgement.from_json(i["ack"]), i["id"], i["kind"], i["payload"])
                for i in items
                if keep(i)
            ]
        )

    def judge(self, entries: list[AckEntry]) -> AckCheck:
        """`commons audit --acks`'s judgement of `entries` against the whole chain."""
        contracts = {k: bytes.fromhex(c.address[2:]) for k, c in self.deployment.contracts.items()}
        with RpcClient(self.node.url) as client:
            head = self.w3.eth.block_number
            return check_acks(client, self.w3.eth.chain_id, contracts, 0, head, entries)


def new_accounts(n: int) -> list[LocalAccount]:
    return [Account.create() for _ in range(n)]


def page_community(
    live: LiveSystem,
    admin: LocalAccount,
    roles: Sequence[tuple[bytes, str]],
    roll: Sequence[str],
    tag: bytes,
) -> int:
    """Community 1 of a fresh system (the page opens on it), made by `admin` with `roles` granted
    and `roll` published, all gasless through the relay."""
    registry = live.client.contracts["registry"].functions
    live.client.act(admin, registry.createCommunity(tag * 32))
    cid = int(registry.communityCount().call())
    assert cid == 1, "the page opens on community 1"
    for role, who in roles:
        live.client.act(admin, registry.grantRole(cid, role, who))
    live.client.act(admin, registry.updateRoll(cid, list(roll), [], True))
    return cid


@contextmanager
def live_system(
    data_dir: Path, accounts: list[LocalAccount], settings: Settings, artifacts: dict[str, Artifact]
) -> Iterator[LiveSystem]:
    """A fresh anvil with the system deployed and the API serving it, all under `data_dir`."""
    relayer = Account.create()
    with ephemeral_node(settings) as node:
        rpc(node.w3, "anvil_setBalance", [relayer.address, hex(10**24)])
        deploy_settings = settings.model_copy(
            update={
                "rpc_url": node.url,
                "deployments_dir": data_dir / "deployments",
                "data_dir": data_dir,
            }
        )
        deployment = deploy_system(node.w3, accounts[0], deploy_settings)
        port = free_port()
        env = {
            **os.environ,
            "COMMONS_RPC_URL": node.url,
            "COMMONS_DATA_DIR": str(data_dir / "var"),
            "COMMONS_DEPLOYMENTS_DIR": str(data_dir / "deployments"),
            "COMMONS_API_PORT": str(port),
            # test-only secrets, made for this run
            "COMMONS_RELAYER_KEY": relayer.key.hex(),
            "COMMONS_AUTH_SECRET": os.urandom(16).hex(),
            "COMMONS_RELAY_INTERVAL_S": "0.05",
        }
        system = LiveSystem(node, deployment, artifacts, data_dir, env, f"http://127.0.0.1:{port}")
        system.start_api()
        try:
            yield system
        finally:
            system.stop_api()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, accounts: list[LocalAccount], settings: Settings,
         artifacts: dict[str, Artifact]) -> Iterator[LiveSystem]:  # fmt: skip
    with live_system(tmp_path_factory.mktemp("live"), accounts, settings, artifacts) as system:
        yield system


@pytest.fixture(scope="module")
def web_dist() -> Path:
    """web/dist, fresh (the API mounts it when it starts)."""
    return build_page()


@pytest.fixture(scope="module")
def served(web_dist: Path, live: LiveSystem) -> LiveSystem:
    """The live system, started after web/dist exists so the API serves the page at /."""
    return live


@pytest.fixture(scope="module")
def seeded(served: LiveSystem, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo community (roles, roll, proposals, fund, time bank) through the signed paths,
    on the module's live system: {"keys": the demo's accounts, "community": id, ...}."""
    keys = demo_keys(tmp_path_factory.mktemp("demo") / "keys.json")
    made = seed_demo(served.client, keys, log=lambda _: None, fast_clock=True)
    return {"keys": keys, **made}
