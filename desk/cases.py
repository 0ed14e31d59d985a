"""What a reviewer may see and do, and the one way a decision is written."""

from __future__ import annotations

import datetime as dt
import threading

from django.db import transaction
from django.db.models import Q, QuerySet

from desk.chain import GENESIS, decision_hash
from desk.models import CLOSING, DECISIONS, Assignment, ChainHead, Decision, Finding, Reviewer, Salesperson

# Decisions written by this process queue here, and wake as soon as the one before is committed; SQLite's
# own lock (IMMEDIATE transactions, busy timeout) still orders writers from other processes, but its
# waiters poll with growing sleeps, which would put a tail on every reviewer's latency.
_WRITING = threading.Lock()


class CaseError(Exception):
    status = 400


class NotFound(CaseError):
    status = 404


class Forbidden(CaseError):
    status = 403


class Stale(CaseError):
    status = 409


def reviewer_of(user) -> Reviewer | None:
    """The user's role and scope, read once per request (kept on the request's user object)."""
    if user is None or not user.is_authenticated:
        return None
    if not hasattr(user, "_desk_reviewer"):
        user._desk_reviewer = Reviewer.objects.filter(user=user).first()
    return user._desk_reviewer


def role_of(user) -> str | None:
    reviewer = reviewer_of(user)
    return reviewer.role if reviewer else None


def scope_salespeople(reviewer: Reviewer) -> set[str]:
    """A manager's salespeople: the listed ones and those whose manager_id in the ledger is theirs."""
    ids = set(reviewer.salesperson_ids())
    if reviewer.manager_id:
        ids |= set(Salesperson.objects.filter(manager_id=reviewer.manager_id)
                   .values_list("salesperson_id", flat=True))
    return ids


def visible_findings(user) -> QuerySet:
    reviewer = reviewer_of(user)
    if reviewer is None:
        return Finding.objects.none()
    if reviewer.role in ("auditor", "compliance"):
        return Finding.objects.all()
    return Finding.objects.filter(salesperson_id__in=scope_salespeople(reviewer))


def find(user, exception_id: str) -> Finding:
    """The finding, or NotFound (unknown) / Forbidden (outside the user's scope)."""
    finding = (Finding.objects.select_related("last_run", "assigned_to").defer("last_run__manifest")
               .filter(exception_id=exception_id).first())
    if finding is None:
        raise NotFound(f"no finding {exception_id}")
    if not visible_findings(user).filter(pk=finding.pk).exists():
        raise Forbidden(f"finding {exception_id} is outside your scope")
    return finding


def may_decide(user) -> bool:
    return role_of(user) in ("auditor", "manager")


def decision_code(text) -> str:
    """'false positive', 'False_Positive' and 'false-positive' are the same decision."""
    code = str(text or "").strip().lower().replace(" ", "_").replace("-", "_")
    if code not in dict(DECISIONS):
        raise CaseError(f"unknown decision {text!r}; choose one of: " + ", ".join(label for _, label in DECISIONS))
    return code


def decide(user, exception_id: str, decision, comment, version) -> Decision:
    """Append a decision. 404 unknown finding, 403 outside scope or role, 400 unknown decision or no comment
    or no version, 409 when ``version`` is not the finding's current one (someone decided meanwhile)."""
    finding = find(user, exception_id)
    if not may_decide(user):
        raise Forbidden(f"a {role_of(user) or 'user without a role'} may read findings but not decide on them")
    code = decision_code(decision)
    comment = str(comment or "").strip()
    if not comment:
        raise CaseError("a comment is required: say why")
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise CaseError("version is required: the finding's version you read (GET /api/findings/<id>)") from None
    with _WRITING, transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"sequence": 0, "hash": GENESIS})
        current = Finding.objects.select_for_update().only("pk", "version", "last_run_id").get(pk=finding.pk)
        if current.version != version:
            raise Stale(f"finding {exception_id} is at version {current.version}, not {version}: "
                        "someone decided on it meanwhile; reload it and decide again")
        moment = dt.datetime.now(dt.UTC)
        sequence = head.sequence + 1
        content = {"sequence": sequence, "exception_id": exception_id, "run_id": finding.last_run.run_id,
                   "username": user.get_username(), "decided_at": moment, "decision": code, "comment": comment,
                   "previous_hash": head.hash}
        digest = decision_hash(**content)
        row = Decision.objects.create(finding=current, hash=digest, **content)
        Finding.objects.filter(pk=current.pk).update(version=current.version + 1, decision=code)
        ChainHead.objects.filter(pk=1).update(sequence=sequence, hash=digest)
    return row


def assign(user, exception_id: str, assignee: str, due_date: dt.date | None) -> Assignment:
    finding = find(user, exception_id)
    if not may_decide(user):
        raise Forbidden("only auditors and managers assign findings")
    from django.contrib.auth import get_user_model

    target = None
    if assignee:
        target = get_user_model().objects.filter(username=assignee).first()
        if target is None:
            raise CaseError(f"no user {assignee!r}")
    with transaction.atomic():
        row = Assignment.objects.create(finding=finding, assigned_by=user.get_username(),
                                        assigned_to=assignee or "", due_date=due_date)
        Finding.objects.filter(pk=finding.pk).update(assigned_to=target, due_date=due_date)
    return row


def open_q() -> Q:
    return ~Q(decision__in=CLOSING)


def history(finding: Finding) -> list[dict]:
    return [{"decision": d.decision, "comment": d.comment, "user": d.username, "time": d.decided_at.isoformat(),
             "run_id": d.run_id, "sequence": d.sequence}
            for d in finding.decisions.order_by("sequence")]
