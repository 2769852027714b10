"""`commons`: run the embedded chain, deploy, and inspect the system.

Every failure is one line on stderr and a non-zero exit; tracebacks are for bugs only.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import httpx
import typer
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from ledger.api_client import CommonsClient
from ledger.build import atomic_write, compile_project, load_artifacts, load_manifest
from ledger.config import Settings, configured_account
from ledger.demo import demo_keys, seed_demo
from ledger.deploy import deploy_system, deployment_path, load_deployment
from ledger.errors import LedgerError, NodeError
from ledger.node import ManagedNode, connect, pid_alive, running_info

app = typer.Typer(
    name="commons",
    help="Commons Ledger: council votes, community fund and time bank on an Ethereum chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])
UP_TIMEOUT_S = 30.0


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handles_errors(fn: F) -> F:
    """Turn the ledger's errors (and bad settings) into one line and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LedgerError as exc:
            fail(str(exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    return Settings()


def deployer_account(settings: Settings) -> LocalAccount:
    return configured_account(
        settings.deployer_key, settings, dev_index=0, variable="COMMONS_DEPLOYER_KEY"
    )


@app.command()
@handles_errors
def build(
    force: Annotated[bool, typer.Option(help="recompile even if nothing changed")] = False,
) -> None:
    """Compile contracts/ with brownie-config.yaml's settings; write artifacts and manifest."""
    settings = load_settings()
    artifacts = compile_project(settings, force=force)
    manifest = load_manifest(settings)
    count, version = len(manifest["runtime_bytecode"]), manifest["compiler"]["version"]
    typer.echo(f"compiled {count} contracts with solc {version}")
    typer.echo(f"artifacts: {settings.build_dir} ({len(artifacts)} incl. libraries)")


@app.command()
@handles_errors
def up() -> None:
    """Start the embedded chain in the background (or check the attached node)."""
    settings = load_settings()
    if not settings.embedded:
        w3 = connect(settings)
        head = w3.eth.block_number
        typer.echo(f"attached to {settings.rpc_url} (chain {settings.chain_id}, block {head})")
        return
    info = running_info(settings)
    if info is not None:
        typer.echo(f"chain already running at {info.url} (pid {info.supervisor_pid})")
        return
    chain_dir = settings.data_dir / "chain"
    chain_dir.mkdir(parents=True, exist_ok=True)
    with open(chain_dir / "supervisor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.node"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=settings.project_root,
        )
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (chain_dir / "supervisor.log").read_text().strip().splitlines()[-1:]
            raise NodeError(f"chain failed to start: {' '.join(tail) or 'see ' + str(chain_dir)}")
        info = running_info(settings)
        if info is not None and info.supervisor_pid == proc.pid:
            typer.echo(f"chain running at {info.url} (chain {info.chain_id}, data in {chain_dir})")
            return
        time.sleep(0.1)
    proc.terminate()
    raise NodeError(
        f"chain did not start within {UP_TIMEOUT_S:.0f}s; see {chain_dir / 'supervisor.log'}"
    )


@app.command()
@handles_errors
def down() -> None:
    """Stop the embedded chain, taking a final snapshot first."""
    settings = load_settings()
    if not settings.embedded:
        fail("attached to an external node: nothing to stop")
    info = running_info(settings)
    if info is None:
        typer.echo("chain is not running")
        return
    os.kill(info.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline and pid_alive(info.supervisor_pid):
        time.sleep(0.1)
    if pid_alive(info.supervisor_pid) or pid_alive(info.anvil_pid):
        raise NodeError(
            f"chain did not stop within {UP_TIMEOUT_S:.0f}s (pid {info.supervisor_pid})"
        )
    typer.echo("chain stopped; state saved")


@app.command()
@handles_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Show the chain, its head, the snapshots and the deployment."""
    settings = load_settings()
    out: dict[str, Any] = {"mode": "embedded" if settings.embedded else "attached"}
    if settings.embedded:
        node = ManagedNode(settings)
        snaps = node.snapshots.files()
        out["snapshots"] = {"count": len(snaps), "newest": snaps[0].name if snaps else None}
    try:
        w3 = connect(settings)
    except NodeError as exc:
        out["chain"] = {"running": False, "reason": str(exc)}
        _print_status(out, as_json)
        raise typer.Exit(3) from None
    out["chain"] = {
        "running": True,
        "url": getattr(w3.provider, "endpoint_uri", "?"),
        "chain_id": w3.eth.chain_id,
        "head": w3.eth.block_number,
    }
    try:
        deployment = load_deployment(w3, settings)
        out["deployment"] = {
            "file": str(deployment_path(settings, deployment.chain_id)),
            "block": deployment.start_block,
            "contracts": {k: c.address for k, c in deployment.contracts.items()},
        }
    except LedgerError as exc:
        out["deployment"] = {"deployed": False, "reason": str(exc)}
    _print_status(out, as_json)


def _print_status(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    chain = out["chain"]
    typer.echo(f"mode:       {out['mode']}")
    if chain["running"]:
        typer.echo(
            f"chain:      {chain['url']} (chain id {chain['chain_id']}, head block {chain['head']})"
        )
    else:
        typer.echo(f"chain:      not running ({chain['reason']})")
    if "snapshots" in out:
        snaps = out["snapshots"]
        typer.echo(f"snapshots:  {snaps['count']} (newest: {snaps['newest'] or 'none'})")
    deployment = out.get("deployment")
    if deployment and "contracts" in deployment:
        typer.echo(f"deployment: {deployment['file']} (from block {deployment['block']})")
        for key, address in deployment["contracts"].items():
            typer.echo(f"  {key:<10} {address}")
    elif deployment:
        typer.echo(f"deployment: none ({deployment['reason']})")


@app.command()
@handles_errors
def deploy(
    force: Annotated[
        bool, typer.Option(help="deploy again even if a deployment is recorded")
    ] = False,
) -> None:
    """Deploy every contract to the chain and record it in deployments/<chain-id>.json."""
    settings = load_settings()
    w3 = connect(settings)
    deployment = deploy_system(
        w3, deployer_account(settings), settings, force=force, log=typer.echo
    )
    typer.echo(f"deployment recorded in {deployment_path(settings, deployment.chain_id)}")
    for key, contract in deployment.contracts.items():
        typer.echo(f"  {key:<10} {contract.address}")


@app.command()
@handles_errors
def run(
    seed: Annotated[bool, typer.Option(help="seed the demo community on first start")] = True,
) -> None:
    """Start the chain and deploy if needed, serve the API on loopback, seed the demo community
    on first start, and stop everything it started on Ctrl-C."""
    settings = load_settings()
    started_chain = settings.embedded and running_info(settings) is None
    if started_chain:
        up()
    api: subprocess.Popen[bytes] | None = None
    stop = _install_stop_handler()
    try:
        w3 = connect(settings)
        deploy_system(w3, deployer_account(settings), settings, log=typer.echo)
        url = f"http://{settings.api_host}:{settings.api_port}"
        api = subprocess.Popen([sys.executable, "-m", "api"], cwd=settings.project_root)
        _wait_healthy(url, api)
        if seed:
            _seed_once(settings, w3, url)
        typer.echo(f"API:       {url}  (OpenAPI docs: {url}/docs)")
        typer.echo(f"web page:  {url}/")
        typer.echo("Ctrl-C stops the API" + (" and the chain" if started_chain else ""))
        while api.poll() is None and not stop.wait(0.5):
            pass
        if api.poll() not in (None, 0):
            raise LedgerError(f"the API exited with status {api.returncode}")
    finally:
        if api is not None and api.poll() is None:
            api.terminate()
            api.wait(timeout=15)
        if started_chain:
            down()


def _install_stop_handler() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LedgerError(f"the API exited with status {proc.returncode} on start")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise LedgerError(f"the API did not answer on {url} within {timeout:.0f}s")


def _seed_once(settings: Settings, w3: Any, url: str) -> None:
    demo_dir = settings.data_dir / "demo"
    registry = load_deployment(w3, settings).registry.address
    marker = demo_dir / f"seeded-{w3.eth.chain_id}-{registry}.json"
    if marker.exists():
        typer.echo(f"demo community already seeded ({marker.name})")
        return
    client = CommonsClient(url, w3, load_artifacts(settings))
    try:
        made = seed_demo(client, demo_keys(demo_dir / "keys.json"), typer.echo)
    finally:
        client.close()
    atomic_write(marker, json.dumps(made, indent=2))


from ledger.audit.cli import audit_app, verify_receipt  # noqa: E402

app.add_typer(audit_app, name="audit")
app.command("verify-receipt")(verify_receipt)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
