"""The API for scripts: token-authenticated (Django REST framework's ``authtoken``), JSON in and out."""

from __future__ import annotations

import json

from django.contrib.auth import authenticate
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from desk import cases, throttle
from desk.filters import apply_filters
from desk.models import Finding


def finding_summary(finding: Finding) -> dict:
    return {"exception_id": finding.exception_id, "salesperson_id": finding.salesperson_id or None,
            "status": "open" if finding.is_open else "decided", "decision": finding.decision or None,
            "version": finding.version, "run_status": finding.run_status, "rank": finding.rank,
            "run_id": finding.last_run.run_id, "detector": finding.detector, "pattern": finding.pattern,
            "period": finding.period or None, "score": finding.score, "risk_amount": finding.risk_amount,
            "title": finding.title,
            "assigned_to": finding.assigned_to.get_username() if finding.assigned_to else None,
            "due_date": finding.due_date.isoformat() if finding.due_date else None}


def _json(text: str, default):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def _error(exc: cases.CaseError) -> Response:
    return Response({"detail": str(exc)}, status=exc.status)


class TokenView(APIView):
    """POST {"username", "password"} → {"token"}. Wrong credentials: 401; repeated failures: 429."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        username, password = str(data.get("username") or ""), str(data.get("password") or "")
        wait = throttle.wait_seconds(username)
        if wait:
            raise Throttled(wait=wait, detail=f"too many failed logins for {username!r}: try again in {wait} s")
        user = authenticate(request, username=username, password=password)
        if user is None or not user.is_active:
            throttle.record_failure(username)
            return Response({"detail": "wrong username or password"}, status=status.HTTP_401_UNAUTHORIZED)
        throttle.reset(username)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class FindingsView(APIView):
    def get(self, request):
        findings = apply_filters(cases.visible_findings(request.user), request.query_params)
        return Response({"findings": [finding_summary(f) for f in findings]})


class FindingView(APIView):
    def get(self, request, exception_id: str):
        try:
            finding = cases.find(request.user, exception_id)
        except cases.CaseError as exc:
            return _error(exc)
        body = finding_summary(finding)
        body.update({"entity_type": finding.entity_type, "entity_id": finding.entity_id,
                     "customer_id": finding.customer_id or None, "explanation": finding.explanation,
                     "check_next": finding.check_next or None,
                     "evidence": _json(finding.evidence, {}), "related": _json(finding.related, []),
                     "history": cases.history(finding),
                     "runs": [{"run_id": a.run.run_id, "period": a.run.period or None, "rank": a.rank,
                               "status": a.status}
                              for a in finding.appearances.select_related("run").defer("run__manifest")
                              .order_by("run__started_at")]})
        return Response(body)


class DecisionsView(APIView):
    def post(self, request, exception_id: str):
        data = request.data if isinstance(request.data, dict) else {}
        try:
            row = cases.decide(request.user, exception_id, data.get("decision"), data.get("comment"),
                               data.get("version"))
        except cases.CaseError as exc:
            return _error(exc)
        return Response({"exception_id": exception_id, "decision": row.decision, "comment": row.comment,
                         "user": row.username, "time": row.decided_at.isoformat(), "sequence": row.sequence,
                         "hash": row.hash, "version": row.finding.version + 1}, status=status.HTTP_201_CREATED)
