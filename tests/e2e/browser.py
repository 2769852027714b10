"""What every browser story's driver shares: where the page and Chromium are, the marks that skip
locally (and fail in CI) when a tool is missing, and a story (web/tests/<name>.mjs, built on
web/tests/harness.mjs) run as a child process whose operator needs this side answers."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS_ROOT = ROOT / "test-artifacts"
STORY_TIMEOUT_S = 420

# A need's handler: does the operator's part; what it returns (if anything) goes back as JSON.
Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def missing_tool(*, browser: bool = True) -> str | None:
    """What the browser tests lack on this machine (with the make target that brings it), if any."""
    if shutil.which("node") is None:
        return "node"
    if browser and not CHROMIUM.exists():
        return f"{CHROMIUM} (make web-browser)"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return "web/node_modules (make web)"
    return None


# Locally a missing tool skips, naming the make target to run; in CI it must fail instead.
needs_browser = pytest.mark.skipif(
    missing_tool() is not None and not os.environ.get("CI"), reason=f"needs {missing_tool()}"
)
needs_node = pytest.mark.skipif(
    missing_tool(browser=False) is not None and not os.environ.get("CI"),
    reason=f"needs {missing_tool(browser=False)}",
)


def node_tests(name: str) -> None:
    """web/tests/`name` under `node --test`: every test passes."""
    run = subprocess.run(
        ["node", "--test", str(WEB / "tests" / name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout


def build_page() -> Path:
    """web/dist, rebuilt when any source is newer (the API mounts it when it starts)."""
    missing = missing_tool()
    if missing:
        pytest.fail(f"the web test needs {missing}")
    index = WEB / "dist" / "index.html"
    sources = [p for p in (WEB / "src").rglob("*") if p.is_file()] + [WEB / "build.mjs"]
    if not index.exists() or max(p.stat().st_mtime for p in sources) > index.stat().st_mtime:
        subprocess.run(["node", "build.mjs"], cwd=WEB, check=True, timeout=120)
    return index.parent


class Story:
    """A story script as a child process, with its stdio needs answered by `handlers`."""

    def __init__(self, argv: list[str], log_path: Path, timeout_s: float = STORY_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in run()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, handlers: dict[str, Handler]) -> dict[str, Any]:
        """Answer needs until the story ends; its "done" event (ok, steps, screenshots, a11y…)."""
        deadline = time.monotonic() + self.timeout_s
        done: dict[str, Any] = {}
        try:
            while True:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
                if line is None:
                    break
                event = json.loads(line)
                if event["event"] == "need":
                    answer = handlers[event["need"]](event)
                    assert self.proc.stdin is not None
                    self.proc.stdin.write(("ok" if answer is None else json.dumps(answer)) + "\n")
                    self.proc.stdin.flush()
                elif event["event"] == "done":
                    done = event
            self.proc.wait(timeout=30)
        except queue.Empty:
            self.proc.kill()
            pytest.fail(f"the story took longer than {self.timeout_s}s; see {self.log.name}")
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()
        return done


def run_story(
    script: str,
    base_url: str,
    out: Path,
    handlers: dict[str, Handler],
    seed: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run web/tests/`script` against `base_url` with screenshots in `out` (emptied first), and
    fail with the step that failed unless every step passed, nothing secret left the browser,
    nothing came from another origin and the page logged no error."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    argv = ["node", str(WEB / "tests" / script), "--base-url", base_url, "--out", str(out)]
    argv += ["--chromium", str(CHROMIUM), *extra_args]
    if seed is not None:
        argv += ["--seed", str(seed)]
    story = Story(argv, out / "story.log")
    result = story.run(handlers)
    failed = [s for s in result.get("steps", []) if not s["ok"]]
    assert story.proc.returncode == 0 and result.get("ok"), (
        f"story failed at {failed[:1] or result.get('error')}; see {out}/story.log"
    )
    assert result["leaks"] == [], "a private key or passphrase left the browser"
    assert result["external"] == [], "the page fetched something from outside its own server"
    assert result["consoleErrors"] == []
    assert all(not view["violations"] for view in result["a11y"].values())
    return result
