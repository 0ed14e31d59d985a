"""The worklist's filters, shared by the desk's pages and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from desk.cases import open_q
from desk.models import CLOSING

FILTERS = ("pattern", "salesperson", "status", "decision", "period")


def apply_filters(findings: QuerySet, params) -> QuerySet:
    """pattern, salesperson, period: exact; status: open (no closing decision), decided, or all (default for
    the API; the desk's worklist asks for open); decision: a decision code or 'none'."""
    # the run's manifest (policy, inputs, detectors) and the finding's long texts are not listed
    findings = findings.select_related("last_run", "assigned_to").defer(
        "last_run__manifest", "evidence", "related", "explanation")
    if params.get("pattern"):
        findings = findings.filter(pattern=params["pattern"])
    if params.get("salesperson"):
        findings = findings.filter(salesperson_id=params["salesperson"])
    if params.get("period"):
        findings = findings.filter(period=params["period"])
    status = params.get("status") or "all"
    if status == "open":
        findings = findings.filter(open_q())
    elif status == "decided":
        findings = findings.filter(decision__in=CLOSING)
    decision = params.get("decision")
    if decision == "none":
        findings = findings.filter(decision="")
    elif decision:
        findings = findings.filter(decision=decision)
    # ranked as in the run: the latest run's findings first, in its order
    return findings.order_by("-last_run__started_at", "rank", "exception_id")
