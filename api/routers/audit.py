"""The audit: start one (a background job), follow it, download its signed report, and show the
newest report with whether its signature holds (what the web page displays)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import ServicesDep
from api.errors import ApiError, responses
from api.schemas import STRICT
from api.services import Services
from ledger.audit.jobs import AuditBusy, AuditJob, AuditJobs, UnknownJob
from ledger.audit.report import read_document, render
from ledger.deploy import deployment_path

router = APIRouter(prefix="/audit", tags=["audit"])

Block = Annotated[int, Field(ge=0, lt=2**63)]


class AuditIn(BaseModel):
    """Which blocks to audit (default: from the deployment block to the head)."""

    model_config = STRICT

    from_block: Block | None = None
    to_block: Block | None = None
    all_proofs: bool = Field(
        default=False, description="prove every recomputed storage word, not a sample"
    )


class AuditProgressOut(BaseModel):
    phase: str = Field(description="compile, walk, views, proofs or done")
    block: int
    first: int
    last: int
    fraction: float
    ballots: int = Field(description="ballots judged so far")
    findings: int = Field(description="findings so far")


class AuditJobOut(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: float
    started_at: float | None
    finished_at: float | None
    progress: AuditProgressOut | None
    ok: bool | None = Field(description="true when the audit found nothing wrong")
    findings: int | None
    warnings: int | None
    error: str | None = Field(description="why the audit could not be carried out")


class LatestReportOut(BaseModel):
    signature_valid: bool = Field(description="the Ed25519 signature matches the report")
    signature_detail: str
    key_id: str | None
    generated_at: int
    ok: bool = Field(description="the report found nothing wrong")
    report: dict[str, Any]
    signature: dict[str, Any] | None


def _jobs(request: Request, services: Services) -> AuditJobs:
    jobs: AuditJobs | None = getattr(request.app.state, "audit_jobs", None)
    if jobs is None:
        settings = services.settings
        jobs = AuditJobs(
            settings,
            str(getattr(services.w3.provider, "endpoint_uri", "")),
            services.deployment.record,
            str(deployment_path(settings, services.deployment.chain_id)),
        )
        request.app.state.audit_jobs = jobs
    return jobs


def _job_out(job: AuditJob) -> AuditJobOut:
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


def _job(request: Request, services: Services, job_id: str) -> AuditJob:
    try:
        return _jobs(request, services).get(job_id)
    except UnknownJob as exc:
        raise ApiError(404, "UnknownAuditJob", str(exc)) from exc


@router.post(
    "",
    status_code=202,
    response_model=AuditJobOut,
    responses=responses(409, 422, 503),
    summary="Start an audit of the chain (a background job)",
)
def start_audit(body: AuditIn, request: Request, services: ServicesDep) -> AuditJobOut:
    """Re-derives every tally, balance and fund trail from raw chain data, checks the deployed
    code against a fresh compile and storage against state proofs, and writes a signed report.
    One audit runs at a time: 409 `AuditRunning` names the one running."""
    try:
        job = _jobs(request, services).start(
            from_block=body.from_block, to_block=body.to_block, all_proofs=body.all_proofs
        )
    except AuditBusy as exc:
        raise ApiError(409, "AuditRunning", f"{exc}; follow GET /v1/audit/{exc.job_id}") from exc
    return _job_out(job)


@router.get(
    "/reports/latest",
    response_model=LatestReportOut,
    responses=responses(404),
    summary="The newest signed audit report, and whether its signature verifies",
)
def latest_report(request: Request, services: ServicesDep) -> LatestReportOut:
    latest = _jobs(request, services).latest()
    if latest is None:
        raise ApiError(404, "NoAuditReport", "no audit report yet: POST /v1/audit")
    document, _, verification = latest
    report = document.get("report") or {}
    return LatestReportOut(
        signature_valid=verification.valid,
        signature_detail=verification.reason,
        key_id=verification.key_id,
        generated_at=int(report.get("generated_at", 0)),
        ok=bool(report.get("ok")),
        report=report,
        signature=document.get("signature"),
    )


@router.get(
    "/{job_id}",
    response_model=AuditJobOut,
    responses=responses(404),
    summary="An audit job's status and progress",
)
def get_audit(job_id: str, request: Request, services: ServicesDep) -> AuditJobOut:
    return _job_out(_job(request, services, job_id))


@router.get(
    "/{job_id}/report",
    responses={
        200: {
            "description": "the report: signed JSON, Markdown, HTML, or the fund trail as CSV",
            "content": {
                "application/json": {},
                "text/markdown": {},
                "text/html": {},
                "text/csv": {},
            },
        },
        **responses(404, 409),
    },
    summary="Download a finished audit's report",
)
def get_audit_report(
    job_id: str,
    request: Request,
    services: ServicesDep,
    format: Annotated[Literal["json", "md", "html", "csv"], Query()] = "json",
) -> Response:
    job = _job(request, services, job_id)
    if job.status == "failed":
        raise ApiError(409, "AuditFailed", f"audit job {job_id} failed: {job.error}")
    if job.status != "done" or "json" not in job.files:
        raise ApiError(409, "AuditNotFinished", f"audit job {job_id} is {job.status}")
    content, media_type = render(read_document(job.files["json"]), format)
    suffix = {"json": "json", "md": "md", "html": "html", "csv": "csv"}[format]
    name = "fund-trail.csv" if format == "csv" else f"audit-report.{suffix}"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
