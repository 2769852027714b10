"""`commons`: run the embedded chain, deploy, and inspect the system.

Every failure is one line on stderr and a non-zero exit; tracebacks are for bugs only.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from commons.admin_cli import admin_app
from commons.api_client import ApiClient
from commons.audit_cli import anchor, audit_app, verify_receipt
from commons.backup_cli import register_backup
from commons.demo import demo_keys, seed_demo
from commons.election_cli import election_app
from commons.entry import INTERRUPTED
from commons.errors import fail, one_line_errors
from commons.initiative_cli import initiative_app
from commons.key_cli import PASSPHRASE_FD_OPTION, RELAYER_KEY_OPTION, key_app
from commons.proposal_cli import proposal_app
from commons.proxy import proxy_config
from commons.roll_cli import roll_app
from commons.rotation_cli import register_rotation
from commons.secret_cli import secret_app
from ledger.build import compile_project, load_artifacts, load_manifest, load_protocol
from ledger.config import Settings
from ledger.deploy import deploy_system, deployment_path, load_deployment
from ledger.errors import LedgerError, NodeError, WrongChain
from ledger.files import atomic_write
from ledger.node import ManagedNode, connect, pid_alive, port_free, running_info
from ledger.operator_keys import deployer_account, relayer_banner, relayer_for_run
from ledger.protocol.render import write_modules
from ledger.restarts import RestartPolicy, describe_exit
from ledger.supervise import ApiProcess, relay_backlog, report

app = typer.Typer(
    name="commons",
    help="Commons Ledger: council votes, community fund and time bank on an Ethereum chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

UP_TIMEOUT_S = 30.0
SUPERVISE_POLL_S = 0.25
STATUS_PROBE_S = 2.0


def load_settings() -> Settings:
    return Settings()


@app.command()
@one_line_errors()
def build(
    force: Annotated[bool, typer.Option(help="recompile even if nothing changed")] = False,
) -> None:
    """Compile contracts/ with brownie-config.yaml's settings; write artifacts and manifest."""
    settings = load_settings()
    artifacts = compile_project(settings, force=force)
    for path in write_modules(load_protocol(settings), settings.project_root):
        typer.echo(f"protocol changed: rewrote {path}")
    manifest = load_manifest(settings)
    count, version = len(manifest["runtime_bytecode"]), manifest["compiler"]["version"]
    typer.echo(f"compiled {count} contracts with solc {version}")
    typer.echo(f"artifacts: {settings.build_dir} ({len(artifacts)} incl. libraries)")


@app.command()
@one_line_errors(interrupted="stopped; the chain was not started", interrupted_code=INTERRUPTED)
def up() -> None:
    """Start the embedded chain in the background (or check the attached node). Ctrl-C while
    it starts stops it again (exit 130)."""
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
    try:
        _wait_up(settings, proc, chain_dir)
    except BaseException:
        # In a session of its own, it did not see the Ctrl-C: stopped here, by its PID.
        proc.terminate()
        proc.wait(UP_TIMEOUT_S)
        raise


def _wait_up(settings: Settings, proc: subprocess.Popen[bytes], chain_dir: Path) -> None:
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
    raise NodeError(
        f"chain did not start within {UP_TIMEOUT_S:.0f}s; see {chain_dir / 'supervisor.log'}"
    )


@app.command()
@one_line_errors(
    interrupted="stopped waiting; `commons status` says whether the chain has stopped",
    interrupted_code=INTERRUPTED,
)
def down() -> None:
    """Stop the embedded chain, taking a final snapshot first; under `commons run`, that stops
    the API with it."""
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
@one_line_errors()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Show the chain (or what is wrong with it), the API, the relay's backlog, the snapshots and
    the deployment. Exit status 0 when the chain answers with the configured chain id, 3 when it
    does not (not running, unreachable, or another chain)."""
    settings = load_settings()
    out: dict[str, Any] = {"mode": "embedded" if settings.embedded else "attached"}
    if settings.embedded:
        node = ManagedNode(settings)
        snaps = node.snapshots.files()
        out["snapshots"] = {"count": len(snaps), "newest": snaps[0].name if snaps else None}
    out["chain"], w3 = _chain_status(settings)
    out["api"] = _api_status(settings)
    out["relay"] = relay_backlog(settings.data_dir)
    if w3 is not None:
        try:
            deployment = load_deployment(w3, settings)
            out["deployment"] = {
                "file": str(deployment_path(settings, deployment.chain_id)),
                "block": deployment.start_block,
                "contracts": {k: c.address for k, c in deployment.contracts.items()},
            }
        except LedgerError as exc:
            out["deployment"] = {"deployed": False, "reason": str(exc)}
    out["hints"] = _status_hints(settings, out)
    _print_status(out, as_json)
    if not out["chain"]["running"] or "problem" in out["chain"]:
        raise typer.Exit(3)


def _chain_status(settings: Settings) -> tuple[dict[str, Any], Any]:
    info = None if settings.rpc_url else running_info(settings)
    url = settings.rpc_url or (info.url if info else None)
    try:
        w3 = connect(settings)
    except WrongChain as exc:
        problem = f"wrong chain id: expected {exc.expected}, node says {exc.found}"
        return {"running": True, "url": url, "problem": problem}, None
    except NodeError as exc:
        reason = str(exc)
        if settings.embedded and info is None:
            orphan = ManagedNode(settings).orphan()
            reason = (
                f"anvil pid {orphan.anvil_pid} runs on, but its supervisor (pid "
                f"{orphan.supervisor_pid}) was killed"
                if orphan
                else "not started"
            )
        return {"running": False, "url": url, "reason": reason}, None
    chain = {
        "running": True,
        "url": url,
        "chain_id": w3.eth.chain_id,
        "head": w3.eth.block_number,
    }
    if info is not None:
        chain["pid"] = info.anvil_pid
    return chain, w3


def _api_status(settings: Settings) -> dict[str, Any]:
    url = f"http://{settings.api_host}:{settings.api_port}"
    try:
        response = httpx.get(f"{url}/health", timeout=STATUS_PROBE_S)
    except httpx.HTTPError as exc:
        return {"up": False, "url": url, "reason": type(exc).__name__}
    if response.status_code == 200:
        body = response.json()
        return {"up": True, "url": url, "head": body.get("head"), "index": body.get("index")}
    try:
        body = response.json()
        reason = f"{body['code']}: {body['detail']}"
    except (ValueError, KeyError, TypeError):
        reason = f"HTTP {response.status_code}"
    return {"up": True, "url": url, "healthy": False, "reason": reason}


def _status_hints(settings: Settings, out: dict[str, Any]) -> list[str]:
    chain, api = out["chain"], out["api"]
    hints: list[str] = []
    if "problem" in chain:
        hints.append(
            f"COMMONS_CHAIN_ID ({settings.chain_id}) or the node's URL names the wrong network"
        )
    elif not chain["running"] and "supervisor" in chain["reason"]:
        hints.append("`make run` saves that anvil's state, stops it and starts everything again")
    elif not chain["running"]:
        hints.append(
            "start everything with `make run`"
            if settings.embedded
            else "the node at COMMONS_RPC_URL does not answer: check it"
        )
    elif not api["up"]:
        hints.append("the API is down: `make run` starts it (and keeps it up)")
    return hints


def _print_status(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    chain, api, relay = out["chain"], out["api"], out["relay"]
    typer.echo(f"mode:       {out['mode']}")
    if "problem" in chain:
        typer.echo(f"chain:      {chain['problem']} (at {chain['url']})")
    elif chain["running"]:
        pid = f", anvil pid {chain['pid']}" if "pid" in chain else ""
        typer.echo(
            f"chain:      {chain['url']} (chain id {chain['chain_id']}, head block "
            f"{chain['head']}{pid})"
        )
    else:
        typer.echo(f"chain:      not running ({chain['reason']})")
    if not api["up"]:
        typer.echo(f"api:        down at {api['url']} ({api['reason']})")
    elif api.get("healthy", True):
        typer.echo(f"api:        up at {api['url']} (sees head block {api['head']})")
    else:
        typer.echo(f"api:        up at {api['url']} but unhealthy ({api['reason']})")
    index = api.get("index") or {}
    if index.get("consistent") is False:
        typer.echo(f"index:      DISAGREES with the chain, being rebuilt ({index.get('problem')})")
    if relay is not None:
        waiting = relay.get("queued", 0) + relay.get("sent", 0)
        typer.echo(
            f"relay:      {waiting} waiting to land (queued {relay.get('queued', 0)}, sent "
            f"{relay.get('sent', 0)}); included {relay.get('included', 0)}, counted "
            f"{relay.get('counted', 0)}, rejected {relay.get('rejected', 0)}"
        )
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
    for hint in out["hints"]:
        typer.echo(f"hint:       {hint}")


@app.command()
@one_line_errors()
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
@one_line_errors(interrupted="stopped; nothing was started", interrupted_code=INTERRUPTED)
def run(
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="seed the demo community on first start (default: COMMONS_SEED_DEMO, on)",
        ),
    ] = None,
    relayer_key: Annotated[str | None, RELAYER_KEY_OPTION] = None,
    passphrase_fd: Annotated[int | None, PASSPHRASE_FD_OPTION] = None,
) -> None:
    """Start the chain and deploy if needed, serve the API on loopback, seed the demo community
    on first start, and keep them up: a chain or API that dies is restarted (from the newest
    good snapshot, for the chain), with a pause when it keeps dying, and given up on after
    COMMONS_RESTART_MAX deaths within COMMONS_RESTART_WINDOW_S (exit 1). SIGTERM (`make down`)
    stops everything it started, saving the chain's state, and exits 0; Ctrl-C does the same
    and exits 130 with one line on stderr. A stopped demo seeding is finished by the next start,
    in the same community. Already running on this data dir: says where, exits 0. Without a
    relayer key (--relayer-key, COMMONS_RELAYER_KEYSTORE or COMMONS_RELAYER_KEY) on the embedded
    chain, the relayer pays with a public development key: development only."""
    settings = load_settings()
    api = ApiProcess(settings)
    _exit_if_already_running(api)
    # A chain someone else started (`commons up`) is theirs to keep up: used, not supervised.
    chain = ChainWatch(ManagedNode(settings), settings) if _chain_is_ours(settings) else None
    orphan = api.retire_orphan()
    if orphan is not None:
        report(f"stopped the API (pid {orphan}) a killed `commons run` left behind")
    _refuse_taken_ports(settings, chain)
    relayer = relayer_for_run(settings, relayer_key, passphrase_fd)
    api.relayer = relayer
    typer.echo(relayer_banner(settings, relayer))
    seed = settings.seed_demo if demo is None else demo
    # The chain's warnings (a failed snapshot, an orphan saved) in the API's log format.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    stop = _install_stop_handler()
    api.claim()
    seeding = False
    try:
        if chain is not None:
            chain.begin()
        w3 = connect(settings)
        deploy_system(w3, deployer_account(settings), settings, log=typer.echo)
        _stop_point(stop)
        api.start()
        api.record()
        _wait_healthy(api, stop)
        if seed:
            seeding = True
            _seed_once(settings, w3, api.url, stop)
            seeding = False
        _stop_point(stop)
        _say_ready(api, chain)
        _supervise(api, chain, stop, RestartPolicy(settings))
    except _Stopped:
        pass
    finally:
        api.stop()
        api.forget()
        if chain is not None:
            chain.end()
    _say_stopped(api, chain, stop, seeding)


def _exit_if_already_running(api: ApiProcess) -> None:
    """Our own `commons run` on this data dir: say where it is and exit 0 (starting a second
    would only fail on its ports)."""
    other = api.live_run()
    if other is None:
        return
    answers = _api_status(api.settings)["up"]
    state = "" if answers else f", starting: not answering yet; pid {other.supervisor_pid}"
    typer.echo(f"already running at {other.url} (stop it with `make down`{state})")
    raise typer.Exit(0)


def _refuse_taken_ports(settings: Settings, chain: ChainWatch | None) -> None:
    """A port another program holds, named with the setting that moves ours, before anything
    is started (rather than an 'address already in use' from deep inside)."""
    ports = [(settings.api_host, settings.api_port, "COMMONS_API_PORT")]
    if chain is not None and chain.node.orphan() is None:  # an orphan's port is freed on start
        ports.append((settings.host, settings.anvil_port, "COMMONS_ANVIL_PORT"))
    for host, port, setting in ports:
        if not port_free(host, port):
            fail(
                f"port {port} on {host} is in use by another program: set {setting} to a free port"
            )


def _chain_is_ours(settings: Settings) -> bool:
    return settings.embedded and running_info(settings) is None


class ChainWatch(threading.Thread):
    """The managed chain kept by `commons run`: anvil started here, then watched (snapshots,
    restarts) in this thread until `end()`, which takes the last snapshot and stops anvil."""

    def __init__(self, node: ManagedNode, settings: Settings) -> None:
        super().__init__(name="chain", daemon=True)
        self.node = node
        self.policy = RestartPolicy(settings)
        self.stop_event = threading.Event()
        self.error: Exception | None = None
        self.anvil_pid: int | None = None

    def begin(self) -> None:
        anvil = self.node.start()
        self.anvil_pid = anvil.pid
        self.start()

    def run(self) -> None:
        try:
            self.node.watch(self.stop_event, restarts=self.policy, report=self._report)
        except Exception as exc:  # handed to the main thread, which stops and says why
            self.error = exc

    def _report(self, message: str) -> None:
        if self.node.anvil is not None:
            self.anvil_pid = self.node.anvil.pid
        report(message)

    def end(self) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join()


class _Stopped(Exception):
    """Ctrl-C or SIGTERM arrived while `commons run` was starting up."""


def _stop_point(stop: threading.Event) -> None:
    if stop.is_set():
        raise _Stopped


def _supervise(
    api: ApiProcess, chain: ChainWatch | None, stop: threading.Event, policy: RestartPolicy
) -> None:
    """Until Ctrl-C / SIGTERM: restart the API when it dies; the chain restarts itself in its
    thread, whose giving up ends this with its error."""
    while not stop.wait(SUPERVISE_POLL_S):
        if chain is not None and not chain.is_alive():
            raise chain.error or NodeError("the chain stopped")
        code = api.poll()
        if code is None:
            continue
        died = f"API (pid {api.pid}) {describe_exit(code)}"
        delay = policy.died()
        if delay is None:
            raise LedgerError(policy.giving_up("the API", died))
        if stop.wait(delay):
            return
        api.start()
        api.record()
        pause = f" after {delay:.1f}s" if delay else ""
        report(f"{died}; restarted{pause} as pid {api.pid}")


def _say_ready(api: ApiProcess, chain: ChainWatch | None) -> None:
    typer.echo(f"API:       {api.url}  (OpenAPI docs: {api.url}/docs; pid {api.pid})")
    typer.echo(f"web page:  {api.url}/")
    if chain is not None and chain.node.anvil is not None:
        anvil = chain.node.anvil
        typer.echo(f"chain:     {anvil.url}  (anvil pid {anvil.pid}; data in {chain.node.dir})")
    stops = "the API and the chain" if chain else "the API"
    typer.echo(f"Ctrl-C stops {stops} (supervisor pid {os.getpid()})")


def _say_stopped(
    api: ApiProcess, chain: ChainWatch | None, stop: StopSignal, seeding: bool
) -> None:
    """What was stopped, in one line: on stdout after SIGTERM (exit 0); on stderr after Ctrl-C,
    with exit status 130 as a shell expects of an interrupted command."""
    what = f"stopped the API (pid {api.pid})" if api.proc is not None else "stopped"
    if seeding:
        what += " while seeding the demo community (the next start finishes it)"
    if chain is None:
        line = f"{what}; the chain was not started here and keeps running"
    else:
        saved = chain.node.last_snapshot
        state = f"chain state saved in {saved}" if saved else "no chain state to save"
        line = f"{what} and the chain (anvil pid {chain.anvil_pid}); {state}"
    if stop.signum == signal.SIGINT:
        typer.echo(line, err=True)
        raise typer.Exit(INTERRUPTED)
    typer.echo(line)


class StopSignal(threading.Event):
    """Set by Ctrl-C or SIGTERM; remembers which, for the exit status."""

    signum: int | None = None

    def arrived(self, signum: int) -> None:
        self.signum = signum
        self.set()


def _install_stop_handler() -> StopSignal:
    stop = StopSignal()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stop.arrived(signum))
    return stop


def _wait_healthy(api: ApiProcess, stop: threading.Event, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _stop_point(stop)
        if api.poll() is not None:
            raise LedgerError(f"the API {describe_exit(api.poll())} on start")
        try:
            if httpx.get(f"{api.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise LedgerError(f"the API did not answer on {api.url} within {timeout:.0f}s")


def _seed_once(settings: Settings, w3: Any, url: str, stop: threading.Event) -> None:
    """Seed the demo community unless the marker says it was seeded completely; the marker is
    written only then, so a stopped seeding is resumed (in the same community) next time."""
    demo_dir = settings.data_dir / "demo"
    registry = load_deployment(w3, settings).registry.address
    marker = demo_dir / f"seeded-{w3.eth.chain_id}-{registry}.json"
    if marker.exists():
        typer.echo(f"demo community already seeded ({marker.name})")
        return
    _wait_relay_drained(settings, stop)
    client = ApiClient(url, w3, load_artifacts(settings))
    try:
        keys = demo_keys(demo_dir / "keys.json")
        made = seed_demo(
            client,
            keys,
            typer.echo,
            checkpoint=lambda: _stop_point(stop),
            fast_clock=settings.demo_fast_clock,
        )
    finally:
        client.close()
    atomic_write(marker, json.dumps(made, indent=2))


def _wait_relay_drained(settings: Settings, stop: threading.Event, timeout: float = 60.0) -> None:
    """What a stopped seeding left in the relay lands first, so the seeding sees it on-chain."""
    deadline = time.monotonic() + timeout
    while (backlog := relay_backlog(settings.data_dir)) and (
        backlog.get("queued", 0) + backlog.get("sent", 0)
    ):
        _stop_point(stop)
        if time.monotonic() > deadline:
            raise LedgerError(f"the relay's backlog did not land within {timeout:.0f}s")
        time.sleep(0.2)


# Commands kept beside what they serve, registered after the core ones (the order of --help).
app.add_typer(audit_app, name="audit")
app.add_typer(key_app, name="key")
app.add_typer(admin_app, name="admin")
app.add_typer(roll_app, name="roll")
app.add_typer(proposal_app, name="proposal")
app.add_typer(initiative_app, name="initiative")
app.add_typer(election_app, name="election")
app.add_typer(secret_app, name="secret")
app.command("verify-receipt")(verify_receipt)
app.command("anchor")(anchor)
app.command("proxy-config")(proxy_config)
register_backup(app)
register_rotation(roll_app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
