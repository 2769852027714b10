"""The audit: start one (a background job), follow it, download its signed report, and show the
newest report with whether its signature holds and who signed it (what the web page displays).

This API runs the audits it serves, so its word that a report is valid is worth nothing: a
report is shown as an auditor's only when its key is registered on-chain by that auditor
(IRegistry.registerAuditorKey), and named as such; otherwise as signed by an unregistered key."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import AuditIn, AuditJobOut, LatestReportOut
from api.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


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
    return audit.start(request, services, body)


@router.get(
    "/reports/latest",
    response_model=LatestReportOut,
    responses=responses(404),
    summary="The newest signed audit report, and whether its signature verifies",
)
def latest_report(request: Request, services: ServicesDep) -> LatestReportOut:
    return audit.latest_report(request, services)


@router.get(
    "/{job_id}",
    response_model=AuditJobOut,
    responses=responses(404),
    summary="An audit job's status and progress",
)
def get_audit(job_id: str, request: Request, services: ServicesDep) -> AuditJobOut:
    return audit.job_out(audit.job(request, services, job_id))


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
    lang: Annotated[Literal["en", "zh"], Query(description="the HTML report's language")] = "en",
) -> Response:
    content, media_type, name = audit.report_file(request, services, job_id, format, lang)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
