"""The case store: runs, findings, decisions (append-only, hash-chained), assignments and reviewers."""

from __future__ import annotations

from django.conf import settings
from django.db import models

ROLES = (("auditor", "auditor"), ("manager", "manager"), ("compliance", "compliance"))
DECISIONS = (
    ("confirmed", "confirmed"),
    ("false_positive", "false positive"),
    ("explained", "explained"),
    ("needs_information", "needs information"),
)
DECISION_LABELS = dict(DECISIONS)
# Decisions that close a finding; "needs information" keeps it open.
CLOSING = ("confirmed", "false_positive", "explained")


class Reviewer(models.Model):
    """A desk user's role and scope. A manager sees the findings of ``salespeople`` (comma-separated ids)
    and of every salesperson whose ``manager_id`` in the ledger is theirs."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewer")
    role = models.CharField(max_length=20, choices=ROLES)
    salespeople = models.TextField(blank=True, default="")
    manager_id = models.CharField(max_length=100, blank=True, default="")

    def salesperson_ids(self) -> list[str]:
        return [s.strip() for s in self.salespeople.split(",") if s.strip()]


class Salesperson(models.Model):
    """The ledger's ``salespeople`` (id, name, manager_id) as of the latest imported run."""

    salesperson_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=300, blank=True, default="")
    manager_id = models.CharField(max_length=100, blank=True, default="", db_index=True)


class Run(models.Model):
    run_id = models.CharField(max_length=64, unique=True)
    period = models.CharField(max_length=7, blank=True, default="")
    folder = models.TextField()
    data = models.TextField(blank=True, default="")
    started_at = models.CharField(max_length=40, blank=True, default="")
    imported_at = models.DateTimeField(auto_now_add=True)
    findings = models.IntegerField(default=0)
    manifest = models.JSONField(default=dict)


class Finding(models.Model):
    """One finding, keyed by its ``exception_id`` (stable from run to run); its text and rank are those of
    the latest run it appeared in. ``version`` counts the decisions made on it (optimistic concurrency)."""

    exception_id = models.CharField(max_length=32, unique=True)
    detector = models.CharField(max_length=20, db_index=True)
    pattern = models.CharField(max_length=60, db_index=True)
    entity_type = models.CharField(max_length=40)
    entity_id = models.CharField(max_length=200)
    salesperson_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    customer_id = models.CharField(max_length=100, blank=True, default="")
    period = models.CharField(max_length=7, blank=True, default="", db_index=True)
    score = models.FloatField(default=0.0)
    risk_amount = models.FloatField(default=0.0)
    title = models.TextField()
    explanation = models.TextField()
    check_next = models.TextField(blank=True, default="")  # what to check next; empty for runs made before it
    evidence = models.TextField(default="{}")
    related = models.TextField(default="[]")
    rank = models.IntegerField(default=0, db_index=True)
    run_status = models.CharField(max_length=20, default="new")
    last_run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="latest_findings")
    version = models.IntegerField(default=0)
    decision = models.CharField(max_length=30, blank=True, default="", choices=DECISIONS)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="assigned_findings")
    due_date = models.DateField(null=True, blank=True)

    @property
    def is_open(self) -> bool:
        return self.decision not in CLOSING


class Appearance(models.Model):
    """A finding as one run listed it: the timeline of a finding across runs."""

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="appearances")
    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="appearances")
    rank = models.IntegerField()
    status = models.CharField(max_length=20)
    score = models.FloatField()
    risk_amount = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["finding", "run"], name="one_appearance_per_run")]


class Decision(models.Model):
    """A decision: never updated or deleted. ``sequence`` orders the store's decisions; ``hash`` is the
    SHA-256 of this row's content and the previous row's ``hash`` (see :mod:`desk.chain`)."""

    sequence = models.BigIntegerField(unique=True)
    exception_id = models.CharField(max_length=32, db_index=True)
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="decisions")
    run_id = models.CharField(max_length=64)
    username = models.CharField(max_length=150)
    decided_at = models.DateTimeField()
    decision = models.CharField(max_length=30, choices=DECISIONS)
    comment = models.TextField()
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "desk_decision"  # read by `audit run --cases` (audit.decisions), which does not import Django


class Assignment(models.Model):
    """Who a finding was given to and by when, as set (append-only; the finding holds the current one)."""

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="assignments")
    assigned_by = models.CharField(max_length=150)
    assigned_to = models.CharField(max_length=150, blank=True, default="")
    due_date = models.DateField(null=True, blank=True)
    assigned_at = models.DateTimeField(auto_now_add=True)


class ChainHead(models.Model):
    """One row: the latest decision's sequence and hash. Locked while a decision is written, so decisions
    form one chain however many reviewers write at once."""

    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
