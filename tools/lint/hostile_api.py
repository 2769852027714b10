"""Hostile input against the real API server, driven by schemathesis from its OpenAPI schema.

Every operation gets generated requests, valid and invalid (boundary integers, huge and
negative ids, odd unicode, missing and extra fields). Checked on every response:
  - not_a_server_error: no 5xx, ever;
  - status_code_conformance: every status answered is documented in the schema;
  - content_type_conformance, response_schema_conformance: the body is what the schema says.

    .venv/bin/python tools/lint/hostile_api.py [--url URL] [--examples N] [--max-time S]

Before schemathesis, `limits` checks what schemathesis cannot reach: over raw sockets, a head
over the limit (431), malformed HTTP (400), a body that is not declared JSON on the ballot fast
path and on a route (415) and a half-sent body (408) are each answered with the JSON
`{code, detail}`; and the OpenAPI schema documents 400, 413, 415 and 422 on every operation with
a body and 429 on every quota-bound one. Any miss fails the run.

With --url it attacks a running server (tests/e2e/test_attacks.py passes its live one); without,
it starts its own the way tests/e2e/conftest.py does (a fresh anvil on a free loopback port, the
contracts deployed, `python -m api` on another free port), seeds the demo community through the
API so that ids in paths hit real rows, runs, and stops everything it started.

schemathesis runs from the lint tool venv (.venv-lint, `make lint-tools`): it pins a hypothesis
far newer than the one eth-brownie pins in .venv. Exits with schemathesis's status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = ROOT / ".venv-lint" / "bin" / "schemathesis"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Stateful testing needs links between operations, which the schema does not declare.
PHASES = "examples,coverage,fuzzing"


def schemathesis_command(
    url: str,
    *,
    examples: int,
    max_time: int | None,
    seed: int,
    report_dir: Path,
    workers: int,
    token: str | None = None,
) -> list[str]:
    cmd = [
        str(SCHEMATHESIS),
        "run",
        f"{url.rstrip('/')}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        PHASES,
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    if max_time is not None:
        cmd += ["--max-time", str(max_time)]
    if token is not None:
        # Signed in as a registrar, so the private routes are attacked past their login check.
        cmd += ["--header", f"Authorization: Bearer {token}"]
    return cmd


# Operations bounded by a quota (docs/security.md "Limits"): each must document its 429.
QUOTA_BOUND = (
    ("post", "/v1/texts"),
    ("post", "/v1/auth/challenge"),
    ("post", "/v1/audit"),
    ("post", "/v1/services/pending"),
    ("post", "/v1/ballots"),
)


def _raw(url: str, request: bytes, *, timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
    """Send `request` as is; the status and JSON body the server answers before it closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(request)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"unparsed": body[:200].decode("latin-1")}
    return status, answer if isinstance(answer, dict) else {"unparsed": answer}


def limits(url: str) -> list[str]:
    """The server's own limits, probed; and the schema's statuses. Returns what is wrong."""
    import httpx

    host = urlsplit(url).netloc.encode()
    ballot = b'{"proposalId": 1, "voter": "0x", "option": 0, "signature": "0x"}'
    probes = {
        "head over the limit": (
            b"GET /health HTTP/1.1\r\nHost: " + host + b"\r\nX-Big: " + b"a" * 2_000_000,
            431, "HeadersTooLarge",
        ),
        "malformed HTTP": (b"NOT HTTP AT ALL\r\n\r\n", 400, "MalformedHttp"),
        "ballot as text/plain": (
            b"POST /v1/ballots HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\nContent-Length: " + str(len(ballot)).encode()
            + b"\r\n\r\n" + ballot,
            415, "UnsupportedMediaType",
        ),
        "text as a form": (
            b"POST /v1/texts HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\n\r\n"
            b"text=a",
            415, "UnsupportedMediaType",
        ),
        "half-sent body": (
            b"POST /v1/texts HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json"
            b"\r\nContent-Length: 100\r\n\r\n{",
            408, "RequestTimeout",
        ),
    }  # fmt: skip
    wrong = []
    for name, (request, status, code) in probes.items():
        got, body = _raw(url, request)
        if (got, body.get("code")) != (status, code) or set(body) != {"code", "detail"}:
            wrong.append(f"{name}: expected {status} {code}, got {got} {body}")
    schema = httpx.get(f"{url.rstrip('/')}/openapi.json", timeout=30).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = set(operation.get("responses", {}))
            needed = {"400", "413", "415", "422"} if "requestBody" in operation else set()
            needed |= {"429"} if (method, path) in QUOTA_BOUND else set()
            if missing := sorted(needed - answers):
                wrong.append(f"{method.upper()} {path} does not document {missing}")
    return wrong


def attack(
    url: str,
    *,
    examples: int,
    max_time: int | None = None,
    seed: int = 8,
    report_dir: Path | None = None,
    workers: int = 1,
    token: str | None = None,
) -> tuple[int, str]:
    """Run schemathesis against `url`; returns (exit code, its output)."""
    if not SCHEMATHESIS.exists():
        raise SystemExit(f"{SCHEMATHESIS} is missing: run `make lint-tools`")
    report_dir = report_dir or ROOT / "build" / "lint" / "schemathesis"
    report_dir.mkdir(parents=True, exist_ok=True)
    cmd = schemathesis_command(
        url,
        examples=examples,
        max_time=max_time,
        seed=seed,
        report_dir=report_dir,
        workers=workers,
        token=token,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # No telemetry, no update checks: nothing leaves the machine.
    env |= {"SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1", "COLUMNS": "120"}
    # Its crash cache (.schemathesis/, replayed first on the next run) lives beside the reports.
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        cwd=report_dir.parent,
    )
    return proc.returncode, proc.stdout + proc.stderr


def summary(output: str) -> dict[str, int]:
    """The counts schemathesis prints at the end (operations, test cases, failures)."""
    counts: dict[str, int] = {}
    patterns = {
        "operations": r"API Operations:\s+Selected:\s+(\d+)/",
        "operations_tested": r"Tested:\s+(\d+)",
        "test_cases": r"Test cases:\s+(\d+) generated",
        "unique_failures": r"(\d+) unique failures",
    }
    for key, pattern in patterns.items():
        found = re.search(pattern, output)
        if found:
            counts[key] = int(found.group(1))
    return counts


@contextlib.contextmanager
def own_system() -> Iterator[tuple[str, str]]:
    """A chain, the deployed contracts and the API server, seeded with the demo community;
    yields the server's URL and a login token of the demo's registrar."""
    sys.path.insert(0, str(ROOT))
    import httpx
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from commons.api_client import ApiClient
    from commons.demo import demo_keys, seed_demo
    from ledger.build import compile_project
    from ledger.config import DEV_MNEMONIC, Settings
    from ledger.deploy import deploy_system
    from ledger.node import ephemeral_node, free_port, rpc

    Account.enable_unaudited_hdwallet_features()
    settings = Settings()
    artifacts = compile_project(settings)
    deployer = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    relayer = Account.create()
    with (
        tempfile.TemporaryDirectory(prefix="commons-hostile-") as tmp,
        ephemeral_node(settings) as node,
    ):
        data = Path(tmp)
        rpc(node.w3, "anvil_setBalance", [relayer.address, hex(10**24)])
        deploy_settings = settings.model_copy(
            update={"rpc_url": node.url, "deployments_dir": data / "deployments", "data_dir": data}
        )
        deploy_system(node.w3, deployer, deploy_settings)
        port = free_port()
        env = {
            **os.environ,
            "COMMONS_RPC_URL": node.url,
            "COMMONS_DATA_DIR": str(data / "var"),
            "COMMONS_DEPLOYMENTS_DIR": str(data / "deployments"),
            "COMMONS_API_PORT": str(port),
            "COMMONS_RELAYER_KEY": relayer.key.hex(),
            "COMMONS_AUTH_SECRET": os.urandom(16).hex(),
            "COMMONS_RELAY_INTERVAL_S": "0.05",
        }
        url = f"http://127.0.0.1:{port}"
        with open(data / "api.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "api"],
                env=env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit((data / "api.log").read_text()[-3000:])
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("the API did not become healthy within 60 s")
                time.sleep(0.1)
            client = ApiClient(url, node.w3, artifacts)
            keys = demo_keys(data / "demo-keys.json")
            seed_demo(client, keys, print)
            registrar = keys["registrar"]
            challenge = client.post("/v1/auth/challenge", {"address": registrar.address})
            signed = Account.sign_message(encode_defunct(text=challenge["message"]), registrar.key)
            login = {"nonce": challenge["nonce"], "signature": "0x" + signed.signature.hex()}
            token: str = client.post("/v1/auth/login", login)["token"]
            client.close()
            yield url, token
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            log_text = (data / "api.log").read_text()
            if "Traceback" in log_text:
                print("--- API server log (tracebacks) ---\n" + log_text[-6000:], file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="attack this running server instead of starting one")
    parser.add_argument("--token", help="a bearer token for the running server (with --url)")
    parser.add_argument("--examples", type=int, default=100, help="test cases per operation")
    parser.add_argument("--max-time", type=int, default=None, help="time budget in seconds")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--report-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url, token = (args.url, args.token) if args.url else stack.enter_context(own_system())
        started = time.monotonic()
        wrong = limits(url)
        for line in wrong:
            print(f"limits: {line}")
        print(f"limits: {'ok' if not wrong else f'{len(wrong)} wrong'}")
        code, output = attack(
            url,
            examples=args.examples,
            max_time=args.max_time,
            seed=args.seed,
            report_dir=args.report_dir,
            workers=args.workers,
            token=token,
        )
        print(output)
        stats = summary(output)
        code = code or (1 if wrong else 0)
        print(f"hostile-api: exit {code}, {time.monotonic() - started:.0f}s, {stats}")
    return code


if __name__ == "__main__":
    sys.exit(main())
