"""The chain: a managed anvil with durable state, or an attached node of any EVM network.

anvil keeps its chain in memory. Durability is ours: `snapshot()` dumps the whole chain (blocks,
receipts, state) with `anvil_dumpState` and writes it atomically (temp file, fsync, rename); on
start the newest snapshot that parses is loaded and a torn one is skipped for the one before.
What happened after the last snapshot is recovered by the relay's outbox, not here.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from web3 import Web3
from web3.types import RPCEndpoint

from ledger.config import DEV_CHAIN_ID, DEV_MNEMONIC, Settings
from ledger.errors import NodeError, WrongChain
from ledger.files import atomic_write
from ledger.restarts import RestartPolicy, describe_exit
from ledger.transport import keep_alive_provider

log = logging.getLogger("ledger.node")

DUMP_ATTEMPTS = 4
QUIET_POLLS, QUIET_POLL_S = 40, 0.05
WATCH_POLL_S = 0.25
# The node is away (refused, reset, timed out): what was read before stands in for it.
NODE_AWAY = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(host: str, port: int) -> bool:
    """Whether a listener could bind `host:port` now (nothing else holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn and anvil bind: a port left in TIME_WAIT by our own last run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def make_web3(url: str) -> Web3:
    # Caching eth_chainId saves two round trips per eth_call (measured). Nothing else is cached:
    # web3 would otherwise serve old blocks by number after the chain rewinds (a restart from an
    # older snapshot, a reorg).
    provider = keep_alive_provider(
        url,
        cache_allowed_requests=True,
        cacheable_requests={RPCEndpoint("eth_chainId")},
        request_kwargs={"timeout": 60},
    )
    return Web3(provider)


def rpc(w3: Web3, method: str, params: list[Any] | None = None) -> Any:
    response = w3.provider.make_request(method, params or [])  # type: ignore[arg-type]
    if "error" in response:
        raise NodeError(f"{method} failed: {response['error']}")
    return response["result"]


def check_chain_id(w3: Web3, expected: int) -> None:
    found = w3.eth.chain_id
    if found != expected:
        raise WrongChain(expected, found)


class AnvilProcess:
    """One anvil process on loopback. Always `--prune-history`: without it anvil writes a
    state file per block under ~/.foundry and never deletes them."""

    def __init__(
        self,
        binary: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        chain_id: int = DEV_CHAIN_ID,
        prune_history: int,
        startup_timeout_s: float,
        load_state: Path | None = None,
        log_file: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if not binary.exists():
            raise NodeError(f"anvil not found at {binary}: run `make setup`")
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.startup_timeout_s = startup_timeout_s
        args = [
            str(binary),
            "--host", host,
            "--port", str(self.port),
            "--chain-id", str(chain_id),
            "--mnemonic", DEV_MNEMONIC,
            # Bounded history: no per-block state files on disk, yet recent states stay in memory
            # for historical calls, eth_getProof and anvil_reorg.
            "--prune-history", str(prune_history),
            "--block-base-fee-per-gas", "0",
            "--silent",
            *extra_args,
        ]  # fmt: skip
        if load_state is not None:
            args += ["--load-state", str(load_state)]
        log = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            # Own session: a Ctrl-C meant for the supervisor must not kill anvil before the
            # final snapshot is taken.
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        self.w3 = make_web3(self.url)
        self._wait_ready()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeError(f"anvil exited with status {self.proc.returncode} on start")
            try:
                self.w3.eth.block_number  # noqa: B018 - a probe
                return
            except Exception:
                time.sleep(0.05)
        self.kill()
        raise NodeError(f"anvil did not answer on {self.url} within {self.startup_timeout_s:.0f}s")

    def dump_state(self) -> bytes:
        """The whole chain as anvil's state JSON (blocks, transactions, receipts, accounts)."""
        return dump_state(self.w3)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class SnapshotStore:
    """Numbered state snapshots in a directory; the newest that validates wins."""

    def __init__(self, directory: Path, keep: int = 3) -> None:
        self.directory = directory
        self.keep = keep

    def files(self) -> list[Path]:
        """Snapshot files, newest first."""
        return sorted(self.directory.glob("state-*.json"), reverse=True)

    def write(self, state: bytes, block: int) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        seq = int(self.files()[0].name.split("-")[1]) + 1 if self.files() else 1
        path = self.directory / f"state-{seq:010d}-{block:012d}.json"
        atomic_write(path, state)
        for old in self.files()[self.keep :]:
            old.unlink(missing_ok=True)
        return path

    def newest_valid(self) -> tuple[Path | None, list[Path]]:
        """The newest snapshot that parses as a complete anvil state, and those skipped."""
        skipped: list[Path] = []
        for path in self.files():
            if self.is_valid(path):
                return path, skipped
            skipped.append(path)
        return None, skipped

    @staticmethod
    def is_valid(path: Path) -> bool:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and {"block", "accounts", "blocks"} <= data.keys()


def dumped_head(state: bytes) -> int:
    """The number of the newest block in an anvil state dump."""
    found = re.search(rb'"best_block_number":(\d+)', state[state.rfind(b'"best_block_number"') :])
    if found is None:
        raise NodeError("anvil state dump without best_block_number")
    return int(found.group(1))


def _dumped_nonce(state: bytes, address: str, accounts_end: int) -> int:
    key = b'"' + address.lower().encode() + b'":{"nonce":'
    at = state.find(key, 0, accounts_end)
    if at < 0:
        return 0
    digits = re.match(rb"\d+", state[at + len(key) : at + len(key) + 24])
    return int(digits.group()) if digits else 0


def consistent_dump(w3: Web3, state: bytes, best: int, depth: int = 64) -> bool:
    """Whether a dump's accounts are the state after exactly its blocks.

    anvil_dumpState reads the accounts and the blocks at two moments: a block mined in between
    leaves a dump whose state holds transactions its blocks lack, or the reverse (measured under
    load: 15 of 60 dumps). A node restarted from it has effects without transactions, receipts
    or events — e.g. a time-bank nonce spent by no ServiceRecorded — so the relay's re-sent
    records are refused. The state moves block by block, so it is enough that the newest block
    with transactions in the dump is in the state, and the oldest newer one on the node is not
    (a transaction is in the state when its sender's nonce there is past it).
    """
    accounts_end = state.rfind(b'"best_block_number"')
    head = w3.eth.block_number
    for number in range(best + 1, head + 1):  # mined after the dump took its blocks
        txs = w3.eth.get_block(number, full_transactions=True)["transactions"]
        if txs:
            tx: Any = txs[0]
            if _dumped_nonce(state, tx["from"], accounts_end) > tx["nonce"]:
                return False
            break
    for number in range(best, max(-1, best - depth), -1):
        txs = w3.eth.get_block(number, full_transactions=True)["transactions"]
        if txs:
            tx = txs[-1]
            return bool(_dumped_nonce(state, tx["from"], accounts_end) > tx["nonce"])
    return True


def dump_state(w3: Web3) -> bytes:
    """The whole chain as anvil's state JSON (blocks, transactions, receipts, accounts)."""
    raw = rpc(w3, "anvil_dumpState")
    return gzip.decompress(bytes.fromhex(raw.removeprefix("0x")))


def consistent_state(w3: Web3) -> tuple[bytes, int]:
    """A dump of the whole chain whose accounts are the state after exactly its blocks, and
    its head block's number. Under heavy load a block lands inside most dumps: the last try
    stops mining for it."""
    for attempt in range(1, DUMP_ATTEMPTS + 1):
        quiet = attempt == DUMP_ATTEMPTS
        state = _dump_quietly(w3) if quiet else dump_state(w3)
        best = dumped_head(state)
        if consistent_dump(w3, state, best):
            return state, best
        log.warning("dump of block %d caught a block half-way (try %d)", best, attempt)
    raise NodeError(f"no consistent dump in {DUMP_ATTEMPTS} attempts")


def _dump_quietly(w3: Web3) -> bytes:
    """A dump with automine off and the block being mined (if any) finished: nothing can
    land inside it. Transactions sent meanwhile wait in the pool and are mined after."""
    rpc(w3, "evm_setAutomine", [False])
    try:
        head, stable = w3.eth.block_number, 0
        for _ in range(QUIET_POLLS):
            time.sleep(QUIET_POLL_S)
            now = w3.eth.block_number
            stable = stable + 1 if now == head else 0
            if stable == 2:
                break
            head = now
        return dump_state(w3)
    finally:
        rpc(w3, "evm_setAutomine", [True])
        if int(rpc(w3, "txpool_status")["pending"], 16):
            rpc(w3, "evm_mine")


def without_regenerated_genesis(state: bytes) -> str | None:
    """The snapshot without the extra genesis blocks anvil adds on every load, or None if it
    has just the one.

    anvil loading a state mints a fresh genesis block (stamped with the current time) next to
    the loaded one, and its next dump carries both. Loading such a dump, anvil may take the new
    one as block 0 — whose hash block 1 does not name as its parent: the chain no longer links
    up (seen after two restarts). The true genesis is the oldest.
    """
    data = json.loads(state)
    blocks = data.get("blocks") or []
    genesis = [b for b in blocks if int(b["header"]["number"], 16) == 0]
    if len(genesis) <= 1:
        return None
    keep = min(genesis, key=lambda b: int(b["header"]["timestamp"], 16))
    data["blocks"] = [b for b in blocks if b is keep or int(b["header"]["number"], 16) != 0]
    return json.dumps(data)


@dataclass(frozen=True)
class NodeInfo:
    """What `commons status` and other processes need to find a running embedded node."""

    url: str
    chain_id: int
    supervisor_pid: int
    anvil_pid: int

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(self.__dict__))

    @classmethod
    def load(cls, path: Path) -> NodeInfo | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time `pid` has used so far, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def child_pids(pid: int) -> list[int]:
    """The direct child processes of `pid` (e.g. the API's relay worker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs. A zombie does not: it exited and only waits to be reaped (as the
    supervisor does when `commons run` started it in-process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


class ManagedNode:
    """The embedded chain: anvil + snapshots under `<data_dir>/chain`."""

    def __init__(self, settings: Settings, *, port: int | None = None) -> None:
        if not settings.embedded:
            raise NodeError("an attached node (COMMONS_RPC_URL) is not managed here")
        self.settings = settings
        self.dir = settings.data_dir / "chain"
        self.snapshots = SnapshotStore(self.dir / "snapshots", keep=settings.snapshots_kept)
        self.info_path = self.dir / "node.json"
        self.port = port or settings.anvil_port
        self.anvil: AnvilProcess | None = None
        self.skipped: list[Path] = []
        self.loaded: Path | None = None
        self.last_snapshot: Path | None = None
        self._lock = threading.Lock()
        self._last_snapshot_block = -1

    def start(self) -> AnvilProcess:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.retire_orphan()
        state, self.skipped = self.snapshots.newest_valid()
        if state is None and self.skipped:
            # Starting from genesis here would silently throw the whole chain away.
            raise NodeError(
                f"no readable chain snapshot in {self.snapshots.directory} "
                f"({len(self.skipped)} damaged); restore one or move them away to start afresh"
            )
        for torn in self.skipped:
            # Keep the evidence, out of the way of the next start.
            torn.rename(torn.with_suffix(".torn"))
        self.loaded = self.last_snapshot = state
        load = state
        if state is not None:
            fixed = without_regenerated_genesis(state.read_bytes())
            if fixed is not None:
                load = self.dir / "load-state.json"
                atomic_write(load, fixed)
        try:
            self.anvil = AnvilProcess(
                self.settings.anvil_binary,
                host=self.settings.host,
                port=self.port,
                chain_id=self.settings.chain_id,
                prune_history=self.settings.node_prune_history,
                startup_timeout_s=self.settings.node_startup_timeout_s,
                load_state=load,
                log_file=self.dir / "anvil.log",
            )
        finally:
            if load != state and load is not None:
                load.unlink(missing_ok=True)
        try:
            self._last_snapshot_block = self.anvil.w3.eth.block_number if state else -1
            NodeInfo(self.anvil.url, self.settings.chain_id, os.getpid(), self.anvil.pid).save(
                self.info_path
            )
        except BaseException:
            # anvil runs in its own session: left behind, it would outlive us unsupervised.
            self.anvil.kill()
            self.anvil = None
            raise
        return self.anvil

    def orphan(self) -> NodeInfo | None:
        """The record of an anvil that outlived its supervisor (killed -9: anvil runs in a
        session of its own), if that anvil still runs."""
        info = NodeInfo.load(self.info_path)
        if info is None or pid_alive(info.supervisor_pid) or not pid_alive(info.anvil_pid):
            return None
        try:  # the PID may since have gone to another program
            if b"anvil" not in Path(f"/proc/{info.anvil_pid}/cmdline").read_bytes():
                return None
        except OSError:
            return None
        return info

    def retire_orphan(self) -> None:
        """Snapshot an orphaned anvil (it holds the newest state, and the port), then stop it,
        so this start resumes from where it was."""
        info = self.orphan()
        if info is None:
            return
        w3 = make_web3(info.url)
        try:
            rpc(w3, "evm_setAutomine", [False])  # nothing lands inside the dump; it stops next
            time.sleep(QUIET_POLL_S * 4)  # a block being mined is finished meanwhile
            state = dump_state(w3)
            saved = self.snapshots.write(state, dumped_head(state))
            log.warning(
                "anvil pid %d outlived its supervisor: saved %s", info.anvil_pid, saved.name
            )
        except Exception as exc:
            log.warning("anvil pid %d outlived its supervisor; no snapshot of it: %s",
                        info.anvil_pid, exc)  # fmt: skip
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.anvil_pid, sig)
            deadline = time.monotonic() + wait_s
            while pid_alive(info.anvil_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not pid_alive(info.anvil_pid):
                break
        self.info_path.unlink(missing_ok=True)

    def snapshot(self, *, force: bool = False) -> Path | None:
        """Persist the chain if it moved since the last snapshot (or always, with force)."""
        if self.anvil is None:
            raise NodeError("node not started")
        with self._lock:
            block = self.anvil.w3.eth.block_number
            if block == self._last_snapshot_block and not force:
                return None
            state, best = consistent_state(self.anvil.w3)
            path = self.snapshots.write(state, best)
            self._last_snapshot_block = best
            self.last_snapshot = path
            return path

    def stop(self) -> None:
        if self.anvil is None:
            return
        try:
            if self.anvil.proc.poll() is None:
                self.snapshot()
        finally:
            self.anvil.stop()
            self.info_path.unlink(missing_ok=True)
            self.anvil = None

    def serve(self, stop: threading.Event) -> None:
        """Run until `stop` is set: snapshot every interval, then a last one on the way out.
        A dead anvil ends it (NodeError); `watch` with a RestartPolicy starts it again."""
        self.start()
        self.watch(stop)

    def watch(
        self,
        stop: threading.Event,
        *,
        restarts: RestartPolicy | None = None,
        report: Callable[[str], None] = log.warning,
    ) -> None:
        """Keep the started chain until `stop` is set: snapshot every interval, and a last one
        on the way out. A dead anvil is restarted from the newest good snapshot under
        `restarts` (one `report` line each time), or, without a policy, ends this with
        NodeError; so does a policy that gives up."""
        assert self.anvil is not None, "start() first"
        failing = 0
        next_snapshot = time.monotonic() + self.settings.snapshot_interval_s
        try:
            while not stop.wait(min(WATCH_POLL_S, self.settings.snapshot_interval_s)):
                code = self.anvil.proc.poll()
                if code is not None:
                    status = f"anvil (pid {self.anvil.pid}) {describe_exit(code)}"
                    if restarts is None:
                        raise NodeError(status)
                    self._restart(stop, restarts, status, report)
                    next_snapshot = time.monotonic() + self.settings.snapshot_interval_s
                    continue
                if time.monotonic() < next_snapshot:
                    continue
                next_snapshot = time.monotonic() + self.settings.snapshot_interval_s
                try:
                    self.snapshot()
                    if failing:
                        log.warning("snapshots written again after %d failed rounds", failing)
                    failing = 0
                except Exception as exc:
                    if self.anvil.proc.poll() is not None:
                        continue  # it died during the dump: the next round restarts it
                    # A full disk or a slow dump must not take the chain down with it: anvil
                    # still holds everything, and the next round tries again.
                    failing += 1
                    log.warning("snapshot failed (%d in a row), chain kept running: %s",
                                failing, exc)  # fmt: skip
        finally:
            self.stop()

    def _restart(
        self,
        stop: threading.Event,
        restarts: RestartPolicy,
        status: str,
        report: Callable[[str], None],
    ) -> None:
        """Start anvil again from the newest good snapshot; what it lost since that snapshot
        the relay's outbox sends again."""
        died, tries = status, 0
        while True:
            delay = restarts.died()
            if delay is None:
                raise NodeError(restarts.giving_up("the chain", status))
            if stop.wait(delay):
                return
            tries += 1
            try:
                self.start()
            except NodeError as exc:
                report(f"chain: {died}; try {tries} to start it again failed: {exc}")
                status = f"anvil could not start again: {exc}"
                continue
            assert self.anvil is not None
            source = self.loaded.name if self.loaded else "genesis (no snapshot yet)"
            pause = f" after {delay:.1f}s" if delay else ""
            report(f"chain: {died}; restarted{pause} as pid {self.anvil.pid} from {source}")
            return


def running_info(settings: Settings) -> NodeInfo | None:
    """The embedded node's info if its supervisor is alive."""
    info = NodeInfo.load(settings.data_dir / "chain" / "node.json")
    if info is None or not pid_alive(info.supervisor_pid):
        return None
    return info


def connect(settings: Settings) -> Web3:
    """A Web3 for the configured chain: the attached node, or the running embedded one.

    Refuses a node whose chain id is not the configured one, so nothing is ever signed for
    (or read from) the wrong network.
    """
    if settings.rpc_url:
        url = settings.rpc_url
    else:
        info = running_info(settings)
        if info is None:
            raise NodeError("the embedded chain is not running: start it with `commons up`")
        url = info.url
    w3 = make_web3(url)
    try:
        check_chain_id(w3, settings.chain_id)
    except WrongChain:
        raise
    except Exception as exc:
        raise NodeError(f"cannot reach node at {url}: {exc}") from exc
    return w3


@contextlib.contextmanager
def ephemeral_node(
    settings: Settings | None = None, *, extra_args: tuple[str, ...] = ()
) -> Iterator[AnvilProcess]:
    """A throwaway anvil on a free loopback port (tests, benchmarks); stopped on exit."""
    settings = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="commons-anvil-") as tmp:
        node = AnvilProcess(
            settings.anvil_binary,
            chain_id=settings.chain_id,
            prune_history=settings.node_prune_history,
            startup_timeout_s=settings.node_startup_timeout_s,
            log_file=Path(tmp) / "anvil.log",
            extra_args=extra_args,
        )
        try:
            yield node
        finally:
            node.stop()


def main() -> None:
    """Supervisor entry point (`python -m ledger.node`), started detached by `commons up`."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ManagedNode(Settings()).serve(stop)


if __name__ == "__main__":
    main()
