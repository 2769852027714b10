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
from dataclasses import dataclass
from pathlib import Path

from ledger.config import Settings
from ledger.files import atomic_write
from ledger.node import child_pids, pid_alive
from ledger.operator_keys import KeystoreRelayer, api_environment


def report(message: str) -> None:
    """One supervisor line on stderr, beside the API's own log lines."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} supervisor: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RunRecord:
    """`<data_dir>/run.json`: the `commons run` serving a data dir, and its API once started."""

    supervisor_pid: int
    url: str
    api_pid: int | None


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

    def claim(self) -> None:
        """Mark this data dir as served by this supervisor (and where), before anything starts:
        a second `commons run` finds it here and says so instead of fighting over the ports."""
        self._write_record(None)

    def record(self) -> None:
        """Where a later `commons run` finds this API should this supervisor be killed -9."""
        self._write_record(self.pid)

    def _write_record(self, api_pid: int | None) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        record = {"supervisor_pid": os.getpid(), "url": self.url, "api_pid": api_pid}
        atomic_write(self.record_path, json.dumps(record))

    def _read_record(self) -> RunRecord | None:
        try:
            left = json.loads(self.record_path.read_text())
            api = left.get("api_pid")
            return RunRecord(
                int(left["supervisor_pid"]), str(left["url"]), None if api is None else int(api)
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def live_run(self) -> RunRecord | None:
        """The `commons run` serving this data dir, if it is alive and is not this process."""
        record = self._read_record()
        if record is None or record.supervisor_pid == os.getpid():
            return None
        # After a reboot the PID may name another program: only a `commons` counts.
        if pid_alive(record.supervisor_pid) and b"commons" in _cmdline(record.supervisor_pid):
            return record
        return None

    def retire_orphan(self) -> int | None:
        """Stop the API a killed `commons run` left behind (its worker stops with it); the
        orphan's PID, if there was one. Never one of a live `commons run`."""
        record = self._read_record()
        if record is None or self.live_run() is not None:
            return None
        self.record_path.unlink(missing_ok=True)
        api = record.api_pid
        if api is None or not pid_alive(api) or b"-m\0api" not in _cmdline(api):
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
