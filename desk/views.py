"""The desk's pages. Django's templates escape every value; forms carry Django's CSRF token."""

from __future__ import annotations

import datetime as dt
import json
from importlib.resources import files

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from desk import cases, throttle
from desk.filters import apply_filters
from desk.models import CLOSING, DECISION_LABELS, DECISIONS, Finding, Salesperson

PAGE_SIZE = 200


class ThrottledLoginForm(AuthenticationForm):
    """Django's login form, refusing a username with too many recent failures (see :mod:`desk.throttle`)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        wait = throttle.wait_seconds(username)
        if wait:
            raise ValidationError(f"Too many failed logins for this user: try again in {wait} seconds.")
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(username)
            raise
        throttle.reset(username)
        return cleaned


class DeskLogin(LoginView):
    template_name = "desk/login.html"
    authentication_form = ThrottledLoginForm
    redirect_authenticated_user = True


def report_css(request):
    """The report's stylesheet, so the desk looks like the report."""
    css = files("reports").joinpath("templates/report.css").read_text(encoding="utf-8")
    return HttpResponse(css, content_type="text/css; charset=utf-8")


def _context(request, **extra) -> dict:
    return {"role": cases.role_of(request.user), "may_decide": cases.may_decide(request.user),
            "decision_labels": DECISION_LABELS, **extra}


@login_required
def worklist(request):
    params = request.GET.copy()
    params.setdefault("status", "open")
    visible = cases.visible_findings(request.user)
    findings = apply_filters(visible, params)
    total = findings.count()
    choices = {
        "pattern": sorted(set(visible.values_list("pattern", flat=True))),
        "salesperson": sorted(set(visible.exclude(salesperson_id="").values_list("salesperson_id", flat=True))),
        "period": sorted(set(visible.exclude(period="").values_list("period", flat=True)), reverse=True),
    }
    return render(request, "desk/worklist.html", _context(
        request, findings=findings[:PAGE_SIZE], total=total, shown=min(total, PAGE_SIZE), params=params,
        choices=choices, decisions=DECISIONS, today=dt.date.today()))


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=DECISIONS)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    version = forms.IntegerField(widget=forms.HiddenInput)


class AssignForm(forms.Form):
    assigned_to = forms.ChoiceField(required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.filter(reviewer__role__in=("auditor", "manager")).order_by("username")
        self.fields["assigned_to"].choices = [("", "nobody")] + [(u.username, u.username) for u in users]


def _finding_page(request, finding: Finding, form: DecideForm | None = None, status: int = 200):
    try:
        evidence = json.dumps(json.loads(finding.evidence), indent=2, ensure_ascii=False)
    except ValueError:
        evidence = finding.evidence
    try:
        related = json.loads(finding.related)
    except ValueError:
        related = [finding.related]
    form = form or DecideForm(initial={"version": finding.version})
    assign_form = AssignForm(initial={"assigned_to": finding.assigned_to.username if finding.assigned_to else "",
                                      "due_date": finding.due_date})
    return render(request, "desk/finding.html", _context(
        request, finding=finding, evidence=evidence, related=related, form=form, assign_form=assign_form,
        history=finding.decisions.order_by("sequence"),
        appearances=finding.appearances.select_related("run").defer("run__manifest").order_by("run__started_at"),
        assignments=finding.assignments.order_by("assigned_at"), today=dt.date.today()), status=status)


def _lookup(request, exception_id: str):
    try:
        return cases.find(request.user, exception_id), None
    except cases.NotFound as exc:
        return None, render(request, "desk/error.html", _context(request, message=str(exc)), status=404)
    except cases.Forbidden as exc:
        return None, render(request, "desk/error.html", _context(request, message=str(exc)), status=403)


@login_required
def finding_page(request, exception_id: str):
    finding, error = _lookup(request, exception_id)
    return error or _finding_page(request, finding)


@login_required
@require_POST
def decide(request, exception_id: str):
    finding, error = _lookup(request, exception_id)
    if error:
        return error
    form = DecideForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, form, status=400)
    try:
        cases.decide(request.user, exception_id, form.cleaned_data["decision"], form.cleaned_data["comment"],
                     form.cleaned_data["version"])
    except cases.CaseError as exc:
        form.add_error(None, str(exc))
        finding.refresh_from_db()
        return _finding_page(request, finding, form, status=exc.status)
    messages.success(request, f"Decision recorded: {DECISION_LABELS[form.cleaned_data['decision']]}.")
    return redirect("finding", exception_id=exception_id)


@login_required
@require_POST
def assign(request, exception_id: str):
    finding, error = _lookup(request, exception_id)
    if error:
        return error
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Assignment not saved: " + "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect("finding", exception_id=exception_id)
    try:
        cases.assign(request.user, exception_id, form.cleaned_data["assigned_to"], form.cleaned_data["due_date"])
    except cases.CaseError as exc:
        return render(request, "desk/error.html", _context(request, message=str(exc)), status=exc.status)
    messages.success(request, "Assignment saved.")
    return redirect("finding", exception_id=exception_id)


@login_required
def overview(request):
    """Open, overdue and decided findings by manager (auditors and compliance)."""
    if cases.role_of(request.user) not in ("auditor", "compliance"):
        return HttpResponseForbidden("the overview by manager is for auditors and compliance")
    today = dt.date.today()
    managers = dict(Salesperson.objects.values_list("salesperson_id", "manager_id"))
    counts = (Finding.objects.values("salesperson_id").annotate(
        open=Count("pk", filter=cases.open_q()),
        overdue=Count("pk", filter=cases.open_q() & Q(due_date__lt=today)),
        decided=Count("pk", filter=Q(decision__in=CLOSING)),
        confirmed=Count("pk", filter=Q(decision="confirmed")),
        false_positive=Count("pk", filter=Q(decision="false_positive"))))
    rows: dict[str, dict] = {}
    for row in counts:
        manager = managers.get(row["salesperson_id"]) or "(no manager on record)"
        entry = rows.setdefault(manager, {"manager": manager, "salespeople": set(), "open": 0, "overdue": 0,
                                          "decided": 0, "confirmed": 0, "false_positive": 0})
        entry["salespeople"].add(row["salesperson_id"] or "(none)")
        for key in ("open", "overdue", "decided", "confirmed", "false_positive"):
            entry[key] += row[key]
    table = [{**r, "salespeople": ", ".join(sorted(r["salespeople"]))}
             for r in sorted(rows.values(), key=lambda r: (-r["overdue"], -r["open"], r["manager"]))]
    overdue = (Finding.objects.filter(cases.open_q() & Q(due_date__lt=today))
               .select_related("assigned_to", "last_run").order_by("due_date", "rank")[:PAGE_SIZE])
    return render(request, "desk/overview.html", _context(request, rows=table, overdue=overdue, today=today))


@login_required
def tuning(request):
    from desk.tuning import feedback

    if cases.role_of(request.user) is None:
        return HttpResponseForbidden("no role")
    report = feedback(cases.visible_findings(request.user))
    return render(request, "desk/tuning.html", _context(request, report=report))
