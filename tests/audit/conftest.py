"""Fixtures for the audit tests: a live system (chain + real API server) with a realistic
history made through the public signed paths, and helpers to audit it and to inject faults."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.auditor import AuditOptions, run_audit
from ledger.audit.model import AuditResult
from ledger.config import Settings
from ledger.demo import demo_keys, seed_demo
from ledger.node import rpc
from ledger.signing.services import (
    ServiceRecord,
    category_code,
    record_id,
    sign_reversal,
    timebank_domain,
)
from ledger.tx import send
from tests.e2e.conftest import LiveSystem, live  # noqa: F401  (the fixture is reused here)


@dataclass
class History:
    """The seeded demo plus a direct vote and a service reversal."""

    live: LiveSystem
    keys: dict[str, LocalAccount]
    made: dict[str, Any]
    community: int
    record_path: Path
    settings: Settings

    @property
    def w3(self) -> Web3:
        return self.live.w3

    @property
    def record(self) -> dict[str, Any]:
        return dict(json.loads(self.record_path.read_text()))

    def audit(self, *, record: dict[str, Any] | None = None, resume: bool = False,
              **kwargs: Any) -> AuditResult:  # fmt: skip
        options = AuditOptions(
            rpc_url=self.live.node.url,
            record=record if record is not None else self.record,
            settings=self.settings,
            resume=resume,
            **kwargs,
        )
        return run_audit(options)

    def snapshot(self) -> str:
        return str(rpc(self.w3, "evm_snapshot"))

    def revert(self, snapshot: str) -> None:
        rpc(self.w3, "evm_revert", [snapshot])


@pytest.fixture(scope="module")
def history(live: LiveSystem, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811
            accounts: list[LocalAccount], settings: Settings) -> Iterator[History]:  # fmt: skip
    keys = demo_keys(live.data_dir / "demo-keys.json")
    client = live.client
    made = seed_demo(client, keys, lambda _: None)
    community = int(made["community"])
    c = client.contracts
    # A direct vote (castVote relayed through the forwarder) on the proposal still open.
    client.act(keys["resident5"], c["council"].functions.castVote(made["proposals"]["garden"], 1))
    # A reversal of the first service, signed by both of its sides, sent as a plain transaction.
    record = ServiceRecord(
        keys["resident1"].address, keys["resident2"].address, 90, category_code("CARE"),
        Web3.keccak(text="walked resident2's dog for a week"), 1,
    )  # fmt: skip
    domain = timebank_domain(client.chain_id, c["timebank"].address)
    reason = Web3.keccak(text="entered twice by mistake")
    rid = record_id(community, record)
    sigs = [sign_reversal(keys[k], domain, rid, reason).as_tuple() for k in ("resident1", "resident2")]
    send(live.w3, accounts[0],
         c["timebank"].functions.reverseService(community, record.as_tuple(), reason, *sigs))  # fmt: skip
    audit_settings = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("audit-data")})
    yield History(live, keys, made, community, live.data_dir / "deployments" / "31337.json",
                  audit_settings)  # fmt: skip


@pytest.fixture
def fresh(history: History) -> Iterator[History]:
    """The history, reverted to its seeded state after the test (faults do not leak)."""
    snapshot = history.snapshot()
    yield history
    history.revert(snapshot)


def findings_of(result: AuditResult, rule: str) -> list[Any]:
    return [f for f in result.findings if f.rule == rule]


FaultFn = Callable[[History], None]
