"""The audit: start one (a background job), follow it, download its signed report, and show the
newest report with whether its signature holds and who signed it (what the web page displays).

This API runs the audits it serves, so its word that a report is valid is worth nothing: a
report is shown as an auditor's only when its key is registered on-chain by that auditor
(IRegistry.registerAuditorKey), and named as such; otherwise as signed by an unregistered key."""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import ServicesDep
from api.errors import ApiError, QuotaExceeded, responses
from api.schemas import STRICT
from api.services.container import Services
from ledger.audit.jobs import AuditBusy, AuditJob, AuditJobs, AuditTooSoon, UnknownJob
from ledger.audit.report import Verification, read_document, render
from ledger.audit.signers import Signer, judge
from ledger.config import Settings
from ledger.deploy import deployment_path
from ledger.transport import node_name

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


class SignerOut(BaseModel):
    """Who signed the report, by the report keys auditors registered in the Registry."""

    registered: bool = Field(
        description="the key is registered by an AUDITOR and was not revoked at or before the "
        "report's last audited block"
    )
    key_fingerprint: str | None = Field(description="sha256 of the raw Ed25519 public key")
    auditor: str | None = Field(description="the auditor who registered the key")
    community: int | None = Field(description="the community whose AUDITOR it is")
    registered_at_block: int | None
    revoked_at_block: int | None
    detail: str = Field(description="one line: the registered auditor, or why not")


class LatestReportOut(BaseModel):
    signature_valid: bool = Field(
        description="the Ed25519 signature matches the report as stored on the server; says "
        "nothing of who signed it (see `signer`)"
    )
    signature_detail: str = Field(
        description="whether the signature matches and which registered auditor signed it, or "
        "that an unregistered key did"
    )
    signed_by_registered_auditor: bool = Field(
        description="the signature matches and its key is a registered auditor's (`signer`)"
    )
    signer: SignerOut
    key_id: str | None
    generated_at: int
    ok: bool = Field(description="the report found nothing wrong")
    report: dict[str, Any]
    signature: dict[str, Any] | None
    redacted: list[str] = Field(
        description="fields this server took out of the report before serving it (the node's "
        "URL beyond scheme, host and port; server file paths): empty for reports written by "
        "this version, whose signature covers exactly what is served"
    )


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


def _jobs(request: Request, services: Services) -> AuditJobs:
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


# While one audit runs, ask again after this long (an audit of a small chain takes seconds).
RUNNING_RETRY_S = 10.0


@router.post(
    "",
    status_code=202,
    response_model=AuditJobOut,
    responses=responses(422, 429, 503),
    summary="Start an audit of the chain (a background job)",
)
def start_audit(body: AuditIn, request: Request, services: ServicesDep) -> AuditJobOut:
    """Re-derives every tally, balance and fund trail from raw chain data, checks the deployed
    code against a fresh compile and storage against state proofs, and writes a signed report.
    One audit runs at a time (429 `AuditRunning` names it), the next only
    `COMMONS_AUDIT_MIN_INTERVAL_S` after it finished (429 `AuditTooSoon`); blocks past the
    chain's head, or a range that ends before it starts, are refused at once (422)."""
    _check_range(body, services.w3.eth.block_number)
    try:
        job = _jobs(request, services).start(
            from_block=body.from_block, to_block=body.to_block, all_proofs=body.all_proofs
        )
    except AuditBusy as exc:
        detail = f"{exc}; follow GET /v1/audit/{exc.job_id}"
        raise QuotaExceeded("AuditRunning", detail, RUNNING_RETRY_S) from exc
    except AuditTooSoon as exc:
        raise QuotaExceeded("AuditTooSoon", str(exc), exc.retry_after_s) from exc
    return _job_out(job)


def _check_range(body: AuditIn, head: int) -> None:
    for name, block in (("from_block", body.from_block), ("to_block", body.to_block)):
        if block is not None and block > head:
            raise ApiError(422, "BlockBeyondHead", f"{name} {block} is past the head ({head})")
    first, last = body.from_block, body.to_block
    if first is not None and last is not None and first > last:
        raise ApiError(422, "InvalidBlockRange", f"from_block {first} > to_block {last}")


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
    document, _ = public_document(read_document(job.files["json"]), services.settings)
    content, media_type = render(document, format)
    suffix = {"json": "json", "md": "md", "html": "html", "csv": "csv"}[format]
    name = "fund-trail.csv" if format == "csv" else f"audit-report.{suffix}"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
