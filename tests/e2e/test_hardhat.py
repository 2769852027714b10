"""Attach mode on a second, independent node: Hardhat's (EDR), not anvil. Deploy, relay ballots
and a forwarded request, index, and audit clean; then one word changed by hand is named. The
ledger uses only standard JSON-RPC here (no anvil_* or evm_*: those live in the managed node and
in tests); Hardhat answers neither eth_simulateV1 nor eth_getBlockReceipts, and the relay and
the audit take their documented other paths."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit.auditor import AuditOptions, run_audit
from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import Deployment, deploy_system, load_deployment
from ledger.node import free_port, make_web3, rpc
from ledger.relay.ballots import BallotRelay
from ledger.relay.forwards import ForwardRelay
from ledger.relay.outbox import Outbox
from ledger.relay.relayer import Relayer
from ledger.signing.ballots import make_ballot, sign_ballot
from ledger.signing.forwards import sign_forward_request
from ledger.tx import ErrorDecoder
from ledger.worker import open_index
from tests.relay_support import open_election, stepped

HARDHAT_DIR = Path(__file__).resolve().parents[2] / "tools" / "hardhat"
HARDHAT = HARDHAT_DIR / "node_modules" / ".bin" / "hardhat"


@dataclass
class Hardhat:
    url: str
    w3: Web3
    settings: Settings
    deployment: Deployment


@pytest.fixture(scope="module")
def hardhat(
    tmp_path_factory: pytest.TempPathFactory,
    accounts: list[LocalAccount],
    artifacts: dict[str, Artifact],
) -> Iterator[Hardhat]:
    if not HARDHAT.exists():
        pytest.fail("Hardhat is not installed: make hardhat")
    data = tmp_path_factory.mktemp("hardhat")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(data / "hardhat.log", "wb") as log:
        proc = subprocess.Popen(
            [str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=HARDHAT_DIR,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
                if httpx.post(url, json=body, timeout=1).json().get("result"):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Hardhat's node did not start: {(data / 'hardhat.log').read_text()}")
            time.sleep(0.2)
        settings = Settings(
            rpc_url=url, data_dir=data / "var", deployments_dir=data / "deployments"
        )
        w3 = make_web3(url)
        deploy_system(w3, accounts[0], settings)
        yield Hardhat(url, w3, settings, load_deployment(w3, settings))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def audit(h: Hardhat) -> object:
    record = h.deployment.record
    return run_audit(AuditOptions(rpc_url=h.url, record=record, settings=h.settings, resume=False))


def test_deploy_relay_index_and_a_clean_audit_on_hardhats_node(
    hardhat: Hardhat, accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> None:
    h, system = hardhat, hardhat.deployment
    proposal, residents = open_election(h.w3, system, accounts, voters=3, tag=80)
    decoder = ErrorDecoder(a.abi for a in artifacts.values())
    outbox = Outbox(h.settings.data_dir / "relay.sqlite", h.settings)
    ballots = BallotRelay(h.w3, system.council, system.registry, h.settings)
    forward = ForwardRelay(
        h.w3,
        system.forwarder,
        [c.address for k, c in system.contracts.items() if k != "forwarder"],
        decoder,
        accounts[9].address,
        h.settings,
        lambda signer: outbox.in_flight("forward", signer),
    )
    forward.pending = lambda: outbox.pending("forward")
    relayer = Relayer(
        h.w3, accounts[9], outbox, [ballots, forward], stepped(h.settings), decoder=decoder
    )
    receipts = []
    for option, voter in enumerate(residents):
        signed = sign_ballot(voter, make_ballot(proposal, voter.address, option), ballots.domain)
        message = ballots.parse(
            {"proposalId": proposal, "voter": voter.address, "option": option,
             "signature": "0x" + signed.signature.hex()}
        )  # fmt: skip
        ballots.check(message)
        receipts.append(outbox.submit(message).result(5))
    stranger = Account.create()
    request = sign_forward_request(
        h.w3, system.forwarder, stranger, system.registry.functions.createCommunity(b"\x51" * 32)
    )
    message = forward.parse(request.to_payload())
    forward.check(message)  # no eth_simulateV1 here: simulated alone (nothing ahead of it)
    receipts.append(outbox.submit(message).result(5))
    for _ in range(40):
        relayer.step()
        if all(outbox.get(r.id).status in ("counted", "rejected") for r in receipts):
            break
        time.sleep(0.1)
    assert [outbox.get(r.id).status for r in receipts] == ["counted"] * 4
    assert list(system.council.functions.tallyOf(proposal).call()) == [1, 1, 1]
    outbox.close()

    index = open_index(h.settings, h.w3, system)
    index.sync()
    cast = index.events(contract="council", event="BallotCast")
    assert len(cast) == 3
    index.close()

    result = audit(h)
    assert result.ok, (result.findings, result.skipped)
    assert result.report["reexecution"]["transactions"] > 0
    assert all(c["ok"] for c in result.report["reexecution"]["contracts"])


def test_a_word_changed_by_hand_on_hardhats_node_is_named(hardhat: Hardhat) -> None:
    h = hardhat
    council = h.deployment.council.address
    slot = "0x0"
    value = int(rpc(h.w3, "eth_getStorageAt", [council, slot, "latest"]), 16)
    rpc(h.w3, "hardhat_setStorageAt", [council, slot, f"0x{value + 7:064x}"])
    rpc(h.w3, "hardhat_mine", ["0x1"])
    result = audit(h)
    assert "reexec.storage" in {f.rule for f in result.findings}, result.findings
