"""Audit jobs run by this server (one at a time), their reports as served (without the
server's paths or a node URL's key), and who signed the newest report, judged by the keys
auditors registered on-chain (this API's own word on a report is worth nothing)."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any

from fastapi import Request

from api.errors import ApiError, QuotaExceeded
from api.schemas import AuditIn, AuditJobOut, AuditProgressOut, LatestReportOut, SignerOut
from api.services.container import Services
from ledger.audit.jobs import AuditBusy, AuditJob, AuditJobs, AuditTooSoon, UnknownJob
from ledger.audit.report import Verification, canonical, read_document, render
from ledger.audit.signers import Signer, judge
from ledger.config import Settings
from ledger.deploy import deployment_path
from ledger.transport import node_name

# While one audit runs, ask again after this long (an audit of a small chain takes seconds).
RUNNING_RETRY_S = 10.0


def public_document(
    document: dict[str, Any], settings: Settings
) -> tuple[dict[str, Any], list[str]]:
    """The signed report as this API serves it: without the server's file paths or a node URL
    that may carry a provider's key. Reports written since the auditor names the node and files
    that way come out unchanged; an older one comes out redacted, and says where."""
    redacted: list[str] = []
    roots = sorted(
        {str(p) for p in (settings.data_dir, settings.deployments_dir, settings.project_root)}
        | {str(Path.home())},
        key=len,
        reverse=True,
    )

    def clean(value: Any, where: str) -> Any:
        if isinstance(value, dict):
            return {k: clean(v, f"{where}.{k}" if where else k) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        if where == "report.chain.rpc_url":
            public = node_name(value)
        elif where in ("report.deployment.source", "report.checkpoint.file"):
            public = PurePath(value).name
        else:
            public = value
            for root in roots:
                public = public.replace(root, "<server>")
        if public != value:
            redacted.append(where)
        return public

    return clean(document, ""), redacted


def jobs(request: Request, services: Services) -> AuditJobs:
    jobs: AuditJobs | None = getattr(request.app.state, "audit_jobs", None)
    if jobs is None:
        settings = services.settings
        jobs = AuditJobs(
            settings,
            str(getattr(services.w3.provider, "endpoint_uri", "")),
            services.deployment.record,
            # The record's file name: a report is public, the server's directories are not.
            deployment_path(settings, services.deployment.chain_id).name,
            min_interval_s=settings.audit_min_interval_s,
        )
        request.app.state.audit_jobs = jobs
    return jobs


def job_out(job: AuditJob) -> AuditJobOut:
    p = job.progress
    return AuditJobOut(
        job_id=job.id,
        status=job.status,  # type: ignore[arg-type]
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress=None
        if p is None
        else AuditProgressOut(
            phase=p.phase,
            block=p.block,
            first=p.first,
            last=p.last,
            fraction=round(p.fraction, 4),
            ballots=p.ballots,
            findings=p.findings,
        ),
        ok=job.ok,
        findings=job.findings,
        warnings=job.warnings,
        error=job.error,
    )


def job(request: Request, services: Services, job_id: str) -> AuditJob:
    try:
        return jobs(request, services).get(job_id)
    except UnknownJob as exc:
        raise ApiError(404, "UnknownAuditJob", str(exc)) from exc


def start(request: Request, services: Services, body: AuditIn) -> AuditJobOut:
    """Start an audit: 422 for blocks past the head or a backwards range, 429 while one runs or
    too soon after the last."""
    _check_range(body, services.w3.eth.block_number)
    try:
        started = jobs(request, services).start(
            from_block=body.from_block, to_block=body.to_block, all_proofs=body.all_proofs
        )
    except AuditBusy as exc:
        detail = f"{exc}; follow GET /v1/audit/{exc.job_id}"
        raise QuotaExceeded("AuditRunning", detail, RUNNING_RETRY_S) from exc
    except AuditTooSoon as exc:
        raise QuotaExceeded("AuditTooSoon", str(exc), exc.retry_after_s) from exc
    return job_out(started)


def _check_range(body: AuditIn, head: int) -> None:
    for name, block in (("fromBlock", body.from_block), ("toBlock", body.to_block)):
        if block is not None and block > head:
            raise ApiError(422, "BlockBeyondHead", f"{name} {block} is past the head ({head})")
    first, last = body.from_block, body.to_block
    if first is not None and last is not None and first > last:
        raise ApiError(422, "InvalidBlockRange", f"fromBlock {first} > toBlock {last}")


def latest_report(request: Request, services: Services) -> LatestReportOut:
    """The newest report as served, whether its signature holds and who signed it; 404 when
    there is none yet."""
    latest = jobs(request, services).latest()
    if latest is None:
        raise ApiError(404, "NoAuditReport", "no audit report yet: POST /v1/audit")
    stored, _, verification = latest
    document, redacted = public_document(stored, services.settings)
    report = document.get("report") or {}
    signer = _signer(services, stored)
    return LatestReportOut(
        signature_valid=verification.valid,
        signature_detail=_detail(verification, signer),
        signed_by_registered_auditor=verification.valid and signer.registered,
        signer=SignerOut(**signer.to_json()),
        key_id=verification.key_id,
        generated_at=int(report.get("generated_at", 0)),
        ok=bool(report.get("ok")),
        report=report,
        signature=document.get("signature"),
        signed_text=canonical(report).decode() if document.get("signature") else None,
        redacted=redacted,
    )


def _signer(services: Services, document: dict[str, Any]) -> Signer:
    registry = services.deployment.registry

    def eth_call(to: str, data: bytes, block: int | None) -> bytes:
        if block is None:
            return bytes(services.w3.eth.call({"to": to, "data": data}, "latest"))
        return bytes(services.w3.eth.call({"to": to, "data": data}, block))

    return judge(document, eth_call, registry.address)


def _detail(verification: Verification, signer: Signer) -> str:
    if not verification.valid:
        return verification.reason
    return f"signature valid; {signer.reason}"


def report_file(
    request: Request, services: Services, job_id: str, format: str, lang: str = "en"
) -> tuple[str, str, str]:
    """A finished audit's report rendered as `format`: (content, media type, file name); 409
    while it runs or when it failed."""
    found = job(request, services, job_id)
    if found.status == "failed":
        raise ApiError(409, "AuditFailed", f"audit job {job_id} failed: {found.error}")
    if found.status != "done" or "json" not in found.files:
        raise ApiError(409, "AuditNotFinished", f"audit job {job_id} is {found.status}")
    document, _ = public_document(read_document(found.files["json"]), services.settings)
    content, media_type = render(document, format, lang)
    suffix = {"json": "json", "md": "md", "html": "html", "csv": "csv"}[format]
    name = "fund-trail.csv" if format == "csv" else f"audit-report.{suffix}"
    return content, media_type, name
