"""What the API must not give away: server file paths and a node URL's key in the audit report
it serves; Python reprs in error details (a decoded custom error is said with its ABI argument
names and 0x-hex, a bare revert as such)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web3.exceptions import ContractCustomError, ContractLogicError

from api import errors
from api.main import create_app
from api.services.audit import public_document
from ledger.audit.jobs import reports_dir
from ledger.audit.report import generate_key, load_key, sign
from ledger.config import Settings
from ledger.errors import ContractRuleBroken, InvalidMessage
from ledger.hashing import checksum_address
from ledger.transport import node_name
from ledger.tx import ErrorDecoder

SECRET_URL = "https://user:pw@mainnet.example.org/v3/0123456789abcdef?key=SECRET"
MISSING_ROLE = {
    "type": "error",
    "name": "MissingRole",
    "inputs": [
        {"name": "communityId", "type": "uint256"},
        {"name": "role", "type": "bytes32"},
        {"name": "account", "type": "address"},
    ],
}
ROLE = bytes.fromhex("d6" + "00" * 31)
ACCOUNT = checksum_address("0x" + "ab" * 20)


def test_a_node_is_named_by_scheme_host_and_port_only() -> None:
    assert node_name(SECRET_URL) == "https://mainnet.example.org:443"
    assert node_name("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert node_name("http://node") == "http://node:80"


def _report(settings: Settings) -> dict[str, Any]:
    return {
        "generated_at": 1,
        "ok": True,
        "chain": {"chain_id": 1, "rpc_url": SECRET_URL},
        "deployment": {"source": str(settings.deployments_dir / "1.json")},
        "checkpoint": {"file": str(settings.data_dir / "audit" / "checkpoint-1-ab.json.gz")},
        "warnings": [{"detail": f"not saved: [Errno 28] {settings.data_dir}/audit/x.tmp"}],
    }


def test_server_paths_and_the_node_url_are_taken_out_of_a_served_report(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", deployments_dir=tmp_path / "deployments")
    served, redacted = public_document({"report": _report(settings)}, settings)
    text = json.dumps(served)
    assert str(tmp_path) not in text and "SECRET" not in text and "0123456789" not in text
    assert served["report"]["chain"]["rpc_url"] == "https://mainnet.example.org:443"
    assert served["report"]["deployment"]["source"] == "1.json"
    assert set(redacted) == {
        "report.chain.rpc_url",
        "report.deployment.source",
        "report.checkpoint.file",
        "report.warnings[0].detail",
    }
    clean = {"report": {"chain": {"rpc_url": "http://127.0.0.1:8545"}}}
    assert public_document(clean, settings) == (clean, [])


@pytest.fixture
def app_with_report(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "var", deployments_dir=tmp_path / "deployments")
    directory = reports_dir(settings) / "1-0000000001-1"
    directory.mkdir(parents=True)
    key_path = tmp_path / "key.pem"
    generate_key(key_path)
    document = sign(_report(settings), load_key(key_path))
    (directory / "report.json").write_text(json.dumps(document))
    services: Any = SimpleNamespace(
        settings=settings,
        decoder=None,
        # A Registry where no report key is registered: auditorKey answers all zero.
        w3=SimpleNamespace(
            provider=SimpleNamespace(endpoint_uri=SECRET_URL),
            eth=SimpleNamespace(call=lambda *_: bytes(128)),
        ),
        deployment=SimpleNamespace(
            record={}, chain_id=1, registry=SimpleNamespace(address="0x" + "12" * 20)
        ),
    )
    with TestClient(create_app(settings, services=services)) as client:
        yield client


def test_the_latest_report_is_served_without_paths_and_says_what_it_took_out(
    app_with_report: TestClient, tmp_path: Path
) -> None:
    answer = app_with_report.get("/v1/audit/reports/latest")
    assert answer.status_code == 200, answer.text
    assert str(tmp_path) not in answer.text and "SECRET" not in answer.text
    body = answer.json()
    assert body["signatureValid"] is True  # of the stored report
    assert body["signedByRegisteredAuditor"] is False
    assert "signed by an unregistered key" in body["signatureDetail"]
    assert "report.chain.rpc_url" in body["redacted"]


# --- error details -------------------------------------------------------------------------------


def test_a_decoded_custom_error_is_said_with_argument_names_and_hex() -> None:
    decoder = ErrorDecoder([[MISSING_ROLE]])
    assert decoder.describe("MissingRole", (1, ROLE, ACCOUNT)) == (
        f"MissingRole(communityId=1, role=0x{ROLE.hex()}, account={ACCOUNT})"
    )
    assert decoder.describe_data(b"") == "the call reverted without a reason"
    assert decoder.describe_data(b"\x01\x02\x03\x04").startswith(
        "the call reverted with an unknown"
    )


def _selector_data(decoder: ErrorDecoder) -> str:
    from eth_abi.abi import encode

    from ledger.hashing import keccak

    selector = keccak(b"MissingRole(uint256,bytes32,address)")[:4]
    return "0x" + (selector + encode(["uint256", "bytes32", "address"], [1, ROLE, ACCOUNT])).hex()


@pytest.fixture
def failing() -> TestClient:
    """An app whose routes raise what the relay's checks raise after simulating a call."""
    app = FastAPI()
    errors.install(app)
    decoder = ErrorDecoder([[MISSING_ROLE]])
    app.state.services = SimpleNamespace(decoder=decoder)
    data = _selector_data(decoder)

    @app.get("/custom")
    async def custom() -> None:
        try:
            raise ContractCustomError(data, data=data)
        except ContractCustomError as exc:
            # As the forwarding check words it: Python's reprs of the decoded arguments.
            raise InvalidMessage("MissingRole", f"MissingRole(1, {ROLE!r}, {ACCOUNT})") from exc

    @app.get("/bare")
    async def bare() -> None:
        try:
            raise ContractLogicError("execution reverted", data="0x")
        except ContractLogicError as exc:
            raise InvalidMessage("CallReverted", str(exc)) from exc

    @app.get("/rule")
    async def rule() -> None:
        raise ContractRuleBroken("MissingRole", (1, ROLE, ACCOUNT))

    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "status", "code", "detail"),
    [
        ("/custom", 403, "MissingRole",
         f"MissingRole(communityId=1, role=0x{ROLE.hex()}, account={ACCOUNT})"),
        ("/bare", 422, "CallReverted", "the call reverted without a reason"),
        ("/rule", 403, "MissingRole",
         f"MissingRole(communityId=1, role=0x{ROLE.hex()}, account={ACCOUNT})"),
    ],
)  # fmt: skip
def test_error_details_carry_no_python_reprs(
    failing: TestClient, path: str, status: int, code: str, detail: str
) -> None:
    answer = failing.get(path)
    assert (answer.status_code, answer.json()) == (status, {"code": code, "detail": detail})
    assert "b'" not in answer.text and "('" not in answer.text
