"""The auditor: re-derives every tally, balance and fund trail from raw chain data, checks the
deployed code against a fresh compile and the storage against state proofs, and signs a report.

    from ledger.audit import AuditOptions, run_audit
    result = run_audit(AuditOptions(rpc_url=url, record=deployment_record))
    result.ok, result.findings  # Finding(rule, block, tx, expected, found, detail)

`commons audit` (ledger.audit.cli) and `POST /v1/audit` (api/routers/audit.py) run it.
"""

from ledger.audit.auditor import AuditOptions, Progress, run_audit
from ledger.audit.model import RULES, AuditResult, AuditWarning, Finding
from ledger.errors import AuditInfraError

__all__ = [
    "RULES",
    "AuditInfraError",
    "AuditOptions",
    "AuditResult",
    "AuditWarning",
    "Finding",
    "Progress",
    "run_audit",
]
