"""What `commons run` supervises besides the chain: the API as a child process, its log lines,
and the relay's backlog as `commons status` reads it."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ledger.config import Settings
from ledger.node import child_pids, pid_alive

API_STOP_TIMEOUT_S = 20.0


def report(message: str) -> None:
    """One supervisor line on stderr, beside the API's own log lines."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} supervisor: {message}", file=sys.stderr, flush=True)


class ApiProcess:
    """The API (`python -m api`, with its relay worker) as a child process of the supervisor.

    In a session of its own: a Ctrl-C at the terminal reaches only the supervisor, which stops
    the API first (so its worker sends nothing more) and the chain after it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=self.settings.project_root,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

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
                self.proc.wait(API_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + API_STOP_TIMEOUT_S
        while any(pid_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in children:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


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
