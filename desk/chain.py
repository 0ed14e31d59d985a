"""The decisions' hash chain: each decision's ``hash`` is the SHA-256 of its content and the previous
decision's hash, so a changed, deleted or re-ordered row breaks the chain (``audit verify-cases``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

GENESIS = "0" * 64


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def decision_hash(*, sequence: int, exception_id: str, run_id: str, username: str, decided_at: dt.datetime,
                  decision: str, comment: str, previous_hash: str) -> str:
    content = json.dumps({"sequence": sequence, "exception_id": exception_id, "run_id": run_id,
                          "username": username, "decided_at": timestamp(decided_at), "decision": decision,
                          "comment": comment, "previous_hash": previous_hash},
                         sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass
class ChainCheck:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain() -> ChainCheck:
    """Walk every decision in sequence order and recompute its hash; compare the end with the chain head."""
    from desk.models import ChainHead, Decision

    check = ChainCheck()
    previous = GENESIS
    expected_sequence = 1
    for row in Decision.objects.order_by("sequence").iterator():
        check.checked += 1
        if row.sequence != expected_sequence:
            check.problems.append(f"decision #{expected_sequence}"
                                  + (f" to #{row.sequence - 1} are" if row.sequence - 1 > expected_sequence
                                     else " is") + f" missing (deleted) before #{row.sequence}")
        if row.previous_hash != previous:
            check.problems.append(f"decision #{row.sequence} ({row.exception_id}): its previous_hash does not "
                                  "match the decision before it (a row was changed, deleted or inserted)")
        recomputed = decision_hash(sequence=row.sequence, exception_id=row.exception_id, run_id=row.run_id,
                                   username=row.username, decided_at=row.decided_at, decision=row.decision,
                                   comment=row.comment, previous_hash=row.previous_hash)
        if recomputed != row.hash:
            check.problems.append(f"decision #{row.sequence} ({row.exception_id}, by {row.username}): its content "
                                  "no longer matches its hash (the row was changed)")
        if row.finding.exception_id != row.exception_id:
            check.problems.append(f"decision #{row.sequence}: recorded for {row.exception_id} but attached to "
                                  f"finding {row.finding.exception_id}")
        previous = row.hash
        expected_sequence = row.sequence + 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence != expected_sequence - 1 or head.hash != previous):
        check.problems.append(f"the chain head says {head.sequence} decisions ending in {head.hash[:12]}, the "
                              f"table holds {check.checked} ending in {previous[:12]} (the latest decisions were "
                              "deleted or changed)")
    if head is None and check.checked:
        check.problems.append("the chain head is missing (deleted)")
    return check
