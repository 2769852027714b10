"""The page a running API serves, against a fresh build of web/ from source.

The page is what decrypts residents' keys and signs their ballots: an operator who serves a
page of their own can take both. The build is reproducible (esbuild pinned by
web/package-lock.json; no time, path or random input reaches the output), so every file the
page is made of must equal, byte for byte, what `node web/build.mjs` makes here now.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from ledger.audit.model import AuditWarning, Finding
from ledger.config import Settings
from ledger.transport import node_name

BUILD_TIMEOUT_S = 120.0
HTTP_TIMEOUT_S = 30.0


def fresh_page(settings: Settings) -> dict[str, bytes]:
    """Build web/ into a directory of its own beside dist/ (the same depth, so the source map's
    relative paths come out the same) and read what it made."""
    web = settings.project_root / "web"
    out = Path(tempfile.mkdtemp(prefix=".audit-build-", dir=web))
    try:
        subprocess.run(
            ["node", "build.mjs", "--out", out.name],
            cwd=web,
            check=True,
            capture_output=True,
            timeout=BUILD_TIMEOUT_S,
        )
        # Every file the build writes is served (the chunks loaded later, source maps and licence
        # texts too) and checked like the rest.
        return {path.name: path.read_bytes() for path in sorted(out.iterdir()) if path.is_file()}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def check_page(
    settings: Settings, api_url: str
) -> tuple[list[Finding], list[AuditWarning], dict[str, str]]:
    """Findings for each file the API serves otherwise than the fresh build; the build's
    sha256 of each file, for the report."""
    try:
        built = fresh_page(settings)
    except (OSError, subprocess.SubprocessError) as exc:
        reason = exc.stderr.decode(errors="replace")[-300:] if hasattr(exc, "stderr") else exc
        return [], [AuditWarning("page", None, None, f"web/ could not be built: {reason}")], {}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in built.items()}
    findings: list[Finding] = []
    warnings: list[AuditWarning] = []
    where = node_name(api_url)
    with httpx.Client(base_url=api_url.rstrip("/"), timeout=HTTP_TIMEOUT_S) as http:
        for name, data in built.items():
            try:
                response = http.get("/" if name == "index.html" else f"/{name}")
            except httpx.HTTPError as exc:
                warnings.append(
                    AuditWarning("page", None, None, f"{where} did not serve {name}: {exc!r}")
                )
                continue
            served = response.content if response.status_code == 200 else b""
            if served != data:
                findings.append(
                    Finding(
                        "api.page",
                        None,
                        None,
                        f"sha256 {digests[name]}",
                        f"sha256 {hashlib.sha256(served).hexdigest()}"
                        if response.status_code == 200
                        else f"HTTP {response.status_code}",
                        f"{where} serves a {name} that is not the fresh build of web/",
                    )
                )
    return findings, warnings, digests
