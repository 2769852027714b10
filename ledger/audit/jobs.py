"""Audits as background jobs (for the API): one at a time, each in its own thread, its report
signed and written like the CLI's, the newest signed report always at hand."""

from __future__ import annotations

import contextlib
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.audit.auditor import AuditOptions, Progress, run_audit
from ledger.audit.model import AuditResult
from ledger.audit.report import (
    Verification,
    generate_key,
    load_key,
    read_document,
    sign,
    verify,
    write_all,
)
from ledger.config import Settings
from ledger.errors import LedgerError


def default_key_path(settings: Settings) -> Path:
    return settings.data_dir / "audit" / "auditor-key.pem"


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "audit" / "reports"


def audit_and_write(
    options: AuditOptions, key_path: Path | None, out: Path | None
) -> tuple[AuditResult, dict[str, Any], dict[str, Path]]:
    """Run, sign (if a key is available) and write every format; the CLI and the API's jobs."""
    result = run_audit(options)
    key = load_key(key_path) if key_path is not None and key_path.exists() else None
    document = sign(result.report, key)
    chain = result.report["chain"]
    directory = out or (
        reports_dir(options.settings)
        / f"{chain['chain_id']}-{chain['to_block']:010d}-{result.report['generated_at']}"
    )
    return result, document, write_all(document, directory)


class AuditBusy(LedgerError):
    """An audit job is already running; its id is `job_id`."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"audit job {job_id} is still running")
        self.job_id = job_id


class AuditTooSoon(LedgerError):
    """The previous audit finished less than the minimum interval ago."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"the previous audit finished recently; the next may start in "
                         f"{retry_after_s:.0f} s")  # fmt: skip
        self.retry_after_s = retry_after_s


class UnknownJob(LedgerError):
    """No audit job has this id (jobs live as long as the process)."""


@dataclass
class AuditJob:
    id: str
    status: str = "queued"  # queued, running, done, failed
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    progress: Progress | None = None
    ok: bool | None = None
    findings: int | None = None
    warnings: int | None = None
    error: str | None = None
    files: dict[str, Path] = field(default_factory=dict)


class AuditJobs:
    def __init__(
        self,
        settings: Settings,
        rpc_url: str,
        record: dict[str, Any],
        record_source: str | None = None,
        *,
        min_interval_s: float = 0.0,
    ) -> None:
        self.settings = settings
        # An audit reads the whole chain and keeps a core busy: anyone may ask for one, so the
        # next may start only this long after the previous one finished.
        self.min_interval_s = min_interval_s
        self.rpc_url = rpc_url
        self.record = record
        self.record_source = record_source
        self.key_path = default_key_path(settings)
        self._jobs: dict[str, AuditJob] = {}
        self._lock = threading.Lock()

    def start(self, *, from_block: int | None = None, to_block: int | None = None,
              all_proofs: bool = False) -> AuditJob:  # fmt: skip
        with self._lock:
            running = [j for j in self._jobs.values() if j.status in ("queued", "running")]
            if running:
                raise AuditBusy(running[0].id)
            finished = [j.finished_at for j in self._jobs.values() if j.finished_at is not None]
            wait = max(finished, default=-math.inf) + self.min_interval_s - time.time()
            if wait > 0:
                raise AuditTooSoon(wait)
            job = AuditJob(secrets.token_hex(8))
            self._jobs[job.id] = job
        if not self.key_path.exists():
            # This service's own signing key, made once (or meanwhile by another process).
            with contextlib.suppress(LedgerError):
                generate_key(self.key_path)
        options = AuditOptions(
            rpc_url=self.rpc_url,
            record=self.record,
            settings=self.settings,
            record_source=self.record_source,
            from_block=from_block,
            to_block=to_block,
            all_proofs=all_proofs,
            progress=lambda p: setattr(job, "progress", p),
            pins=[reports_dir(self.settings)],
        )
        thread = threading.Thread(target=self._run, args=(job, options), name=f"audit-{job.id}")
        thread.daemon = True
        thread.start()
        return job

    def _run(self, job: AuditJob, options: AuditOptions) -> None:
        job.status, job.started_at = "running", time.time()
        try:
            result, _, files = audit_and_write(options, self.key_path, None)
            job.ok, job.findings = result.ok, len(result.findings)
            job.warnings = len(result.warnings)
            job.files = files
            job.status = "done"
        except LedgerError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # a bug: the job says so instead of vanishing
            job.status, job.error = "failed", f"internal error ({type(exc).__name__}): {exc}"
        finally:
            job.finished_at = time.time()

    def get(self, job_id: str) -> AuditJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no audit job {job_id}")
        return job

    def latest(self) -> tuple[dict[str, Any], Path, Verification] | None:
        """The newest report written here (by a job or by `commons audit` with this data dir),
        with whether its signature verifies."""
        candidates = sorted(
            reports_dir(self.settings).glob("*/report.json"),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for path in candidates:
            try:
                document = read_document(path)
            except LedgerError:
                continue
            return document, path, verify(document)
        return None
