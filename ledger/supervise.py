"""What `commons run` supervises besides the chain: the API as a child process, its log lines,
and the relay's backlog as `commons status` reads it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ledger.build import atomic_write
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.node import child_pids, pid_alive
from ledger.operator_keys import KeystoreRelayer, api_environment


def report(message: str) -> None:
    """One supervisor line on stderr, beside the API's own log lines."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} supervisor: {message}", file=sys.stderr, flush=True)


class ApiProcess:
    """The API (`python -m api`, with its relay worker) as a child process of the supervisor.

    In a session of its own: a Ctrl-C at the terminal reaches only the supervisor, which stops
    the API first (so its worker sends nothing more) and the chain after it."""

    def __init__(self, settings: Settings, relayer: KeystoreRelayer | None = None) -> None:
        self.settings = settings
        self.relayer = relayer  # a keystore key's passphrase is handed to each API started
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with api_environment(self.relayer) as (env, fds):
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api"],
                cwd=self.settings.project_root,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
                pass_fds=fds,
            )

    @property
    def record_path(self) -> Path:
        return self.settings.data_dir / "run.json"

    def record(self) -> None:
        """Where a later `commons run` finds this API should this supervisor be killed -9."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.record_path, json.dumps({"supervisor_pid": os.getpid(), "api_pid": self.pid})
        )

    def retire_orphan(self) -> int | None:
        """Refuse to run beside a live `commons run` on the same data dir; stop the API a killed
        one left behind (its worker stops with it). The orphan's PID, if there was one."""
        try:
            left = json.loads(self.record_path.read_text())
            supervisor, api = int(left["supervisor_pid"]), int(left["api_pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        # After a reboot the PID may name another program: only a `commons` counts.
        if (
            supervisor != os.getpid()
            and pid_alive(supervisor)
            and b"commons" in _cmdline(supervisor)
        ):
            raise LedgerError(f"`commons run` is already running here (pid {supervisor})")
        self.record_path.unlink(missing_ok=True)
        if not pid_alive(api) or b"-m\0api" not in _cmdline(api):
            return None
        for sig, wait_s in (
            (signal.SIGTERM, self.settings.api_stop_timeout_s),
            (signal.SIGKILL, 5.0),
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(api, sig)
            deadline = time.monotonic() + wait_s
            while pid_alive(api) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not pid_alive(api):
                break
        return api

    def forget(self) -> None:
        self.record_path.unlink(missing_ok=True)

    def poll(self) -> int | None:
        assert self.proc is not None
        return self.proc.poll()

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down, the API stops its worker), SIGKILL if that hangs; and
        any child left behind, by PID."""
        if self.proc is None:
            return
        children = child_pids(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.settings.api_stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + self.settings.api_stop_timeout_s
        while any(pid_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in children:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def relay_backlog(data_dir: Path) -> dict[str, int] | None:
    """The outbox's messages by status, read-only (a running API keeps writing), or None when
    there is no outbox yet."""
    path = data_dir / "relay.sqlite"
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return {str(status): int(n) for status, n in rows}
