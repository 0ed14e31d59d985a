"""invoice_number_gap: invoice numbers missing from a numbering series."""

from __future__ import annotations

import re

import ibis
import numpy as np
import pandas as pd

from audit.common import combine_traces, month_of
from audit.detector import MAX_RELATED, Detector, empty_findings, related_ids
from audit.ledger import line_net
from audit.membership import among
from audit.problems import ROW
from detectors.wording import invoice_number_gap

# The series is what surrounds the last run of digits of invoice_no: "INV-0000734" is number 734 of
# series ("INV-", ""); "2025/00012-B" is number 12 of ("2025/", "-B"). Numbers of more than 18 digits
# do not fit a 64-bit integer and are left out.
NUMBER_PATTERN = r"^(.*?)([0-9]+)([^0-9]*)$"
MAX_NUMBER_DIGITS = 18


def _numbered(table: ibis.Table) -> ibis.Table:
    """Rows of ``table`` (with invoice_no) split into prefix, digits and suffix; unparseable rows dropped."""
    text = table.invoice_no.cast("string")
    parts = table.mutate(prefix=text.re_extract(NUMBER_PATTERN, 1), digits=text.re_extract(NUMBER_PATTERN, 2),
                         suffix=text.re_extract(NUMBER_PATTERN, 3))
    parts = parts.filter(parts.digits.notnull() & (parts.digits.length() > 0)
                         & (parts.digits.length() <= MAX_NUMBER_DIGITS))
    return parts.mutate(number=parts.digits.cast("int64"))


class InvoiceNumberGap(Detector):
    """Numbers missing from an invoice-number series, with no cancelled invoice to account for them.

    What it finds
    -------------
    Every invoice (posted or cancelled) is placed in its series — the text around the last run of
    digits of ``invoice_no``, so INV-0000734 is number 734 of series "INV-" — and each series is sorted
    by number. Where consecutive numbers jump by more than one, the numbers in between are missing: no
    invoice, not even a cancelled one, carries them. One finding per hole, on its first missing number.
    A hole wider than ``jump_width`` numbers reads as a jump to a new block (a new year or book) and
    scores low; a series that skips more than ``routine_missing_share`` of its numbers throughout is
    not numbered strictly and its holes score low too.

    Why it matters
    --------------
    Pre-numbered documents are a basic control: each number must be accounted for. An invoice that was
    issued and then deleted (rather than cancelled with a trace) may have billed goods whose payment
    was kept, or may hide a sale from the books.

    Flagged
    -------
    Series INV- jumps from INV-0000733 (2025-01-16, salesperson S0016) to INV-0000735 (2025-01-16,
    S0016): INV-0000734 is missing, no cancelled invoice carries it. Flagged with money at risk = the
    series' median invoice amount (the deleted invoice's own amount is unknown) × 1 missing number.

    Not flagged
    -----------
    A cancelled invoice: its row is in the table with status cancelled, so its number is accounted for
    (its reissue carries a new number). Numbers before the first or after the last invoice of a series.

    Evidence
    --------
    The series, the missing numbers, the invoices on either side (number, date, salesperson, customer,
    status), the series' size, its share of missing numbers and median amount, and the traces.
    """

    code = "STD-03"
    pattern = "invoice_number_gap"
    wording = invoice_number_gap.words
    entity_type = "invoice_no"
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {"invoices": ("status",), "invoice_lines": ("discount_pct",)}
    # The hole is certain, its amount is an estimate (the series' median): half weight.
    rank_weight = 0.5

    def __init__(self, jump_width: int = 50, routine_missing_share: float = 0.02, min_holes_throughout: int = 10):
        self.jump_width = jump_width
        self.routine_missing_share = routine_missing_share
        # A series with at least this many holes that skips more than ``routine_missing_share`` of its
        # numbers has holes everywhere: one finding about the series instead of one per hole.
        self.min_holes_throughout = min_holes_throughout

    def _numbered_invoices(self, data) -> ibis.Table:
        """Every invoice (posted or cancelled) split into its series and number, with its amount when posted
        (null when cancelled or without lines): the regex runs once per invoice, in one query whose result
        the engine keeps (``cache``) for the holes, the series' sizes and their amounts."""
        invoices = data.table("invoices").select("invoice_id", "invoice_no", "invoice_date", "customer_id",
                                                 "salesperson_id", "status")
        lines = data.table("invoice_lines")
        totals = lines.group_by("invoice_id").aggregate(amount=line_net(lines).sum())
        posted = invoices.status.isnull() | (invoices.status != "cancelled")
        joined = invoices.left_join(totals, invoices.invoice_id == totals.invoice_id).select(
            *[invoices[c] for c in invoices.columns], amount=ibis.ifelse(posted, totals.amount, ibis.null()))
        return _numbered(joined)

    def _holes(self, parts: ibis.Table) -> ibis.Table:
        window = ibis.window(group_by=[parts.prefix, parts.suffix], order_by=[parts.number, parts.invoice_id])
        parts = parts.drop("amount").mutate(**{f"prev_{c}": parts[c].lag().over(window) for c in (
            "number", "invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id", "status",
            "digits")})
        holes = parts.filter(parts.number - parts.prev_number > 1)
        return holes.mutate(missing=holes.number - holes.prev_number - 1)

    def _series_stats(self, parts: ibis.Table) -> ibis.Table:
        return parts.group_by(["prefix", "suffix"]).aggregate(
            n_numbers=parts.number.nunique(), lowest=parts.number.min(), highest=parts.number.max())

    def _series_amounts(self, data, parts: ibis.Table, holes: pd.DataFrame) -> pd.DataFrame:
        """Posted invoices' amounts in the series of ``holes`` (with those of other series sharing a prefix
        with one: the holes are read from pandas, not found again by the window query)."""
        amounts = parts.filter(parts.amount.notnull() & among(parts.prefix, sorted(set(holes["prefix"]))))
        return data.execute(amounts.select("prefix", "suffix", "amount"))

    def _accounted(self, data) -> dict[tuple[str, str], np.ndarray]:
        """Per series, numbers that other records use: credit notes numbered in the invoices' series and
        invoice rows the tool set aside (data_quality.csv lists them)."""
        texts = []
        if data.has("credit_notes", ("credit_note_id",)):
            texts += [str(v) for v in data.frame("credit_notes")["credit_note_id"].dropna()]
        for problem in getattr(data.tables, "problems", []):
            if problem.severity == ROW and problem.table == "invoices":
                texts += [t for t in (problem.record_id, problem.value if problem.column == "invoice_no" else None)
                          if isinstance(t, str) and t]
        found: dict[tuple[str, str], set] = {}
        pattern = re.compile(NUMBER_PATTERN)
        for text in texts:
            match = pattern.match(text.strip())
            if match and 0 < len(match.group(2)) <= MAX_NUMBER_DIGITS:
                found.setdefault((match.group(1), match.group(3)), set()).add(int(match.group(2)))
        return {key: np.array(sorted(numbers), dtype=np.int64) for key, numbers in found.items()}

    def find(self, data) -> pd.DataFrame:
        parts = self._numbered_invoices(data).cache()
        try:
            return self._find(data, parts)
        finally:
            parts.release()  # the engine's copy of the numbered invoices

    def _find(self, data, parts: ibis.Table) -> pd.DataFrame:
        holes = data.execute(self._holes(parts))
        self.n_holes_ = len(holes)
        if holes.empty:
            return empty_findings()
        holes = holes.sort_values(["prefix", "suffix", "prev_number"], ignore_index=True)
        # Numbers that cancellations (in the table), credit notes or rows set aside use are not missing.
        accounted = self._accounted(data)
        remaining = []
        for hole in holes.itertuples(index=False):
            used = accounted.get((hole.prefix, hole.suffix))
            inside = 0
            if used is not None:
                inside = int(np.searchsorted(used, hole.number, "left") - np.searchsorted(used, hole.prev_number,
                                                                                              "right"))
            remaining.append(int(hole.missing) - inside)
        holes["accounted"] = holes["missing"] - np.asarray(remaining)
        holes["missing"] = remaining
        self.n_accounted_ = int(holes["accounted"].sum())
        holes = holes[holes["missing"] > 0].reset_index(drop=True)
        if holes.empty:
            return empty_findings()
        stats = data.execute(self._series_stats(parts)).set_index(["prefix", "suffix"])
        amounts = self._series_amounts(data, parts, holes)
        medians = amounts.groupby(["prefix", "suffix"])["amount"].median()
        findings = []
        for key, series_holes in holes.groupby(["prefix", "suffix"], sort=True):
            series = stats.loc[key]
            span = int(series["highest"] - series["lowest"] + 1)
            missing_total = int(series_holes["missing"].sum())
            missing_share = missing_total / span if span else 0.0
            median = float(medians.get(key, 0.0))
            steps = max(int(series["n_numbers"]) - 1, 1)
            if missing_share > self.routine_missing_share and len(series_holes) >= self.min_holes_throughout:
                # Holes everywhere: the series is not numbered strictly; one finding about the series.
                findings.append(self._series_finding(key, series, series_holes, missing_share))
                continue
            widths = np.sort(series_holes["missing"].to_numpy())
            for hole in series_holes.itertuples(index=False):
                # how often the series has a hole at least this wide, per step between two numbers
                as_wide = int(len(widths) - np.searchsorted(widths, hole.missing, "left"))
                findings.append(self._finding(hole, series, missing_share, median, as_wide / steps, as_wide,
                                              accounted.get(key)))
        return pd.DataFrame(findings) if findings else empty_findings()

    def _series_finding(self, key, series, holes: pd.DataFrame, missing_share: float) -> dict:
        prefix, suffix = key
        name = f"{prefix}…{suffix}" if prefix or suffix else "(plain numbers)"
        widest = holes.sort_values(["missing", "prev_number"], ascending=[False, True], kind="mergesort").head(5)
        accounted = int(holes["accounted"].sum())
        return {
            "entity_id": f"series {name}", "salesperson_id": None, "customer_id": None,
            "period": month_of(holes["prev_invoice_date"].min()), "score": 0.3, "risk_amount": 0.0,
            "facts": {"kind": "series", "series_name": name},
            "evidence": {"series": {"prefix": prefix, "suffix": suffix, "n_numbers": int(series["n_numbers"]),
                                    "lowest": int(series["lowest"]), "highest": int(series["highest"]),
                                    "missing_share": missing_share},
                         "holes": len(holes), "missing": int(holes["missing"].sum()), "accounted": accounted,
                         "widest": [{"after": h.prev_invoice_no, "before": h.invoice_no, "missing": int(h.missing)}
                                    for h in widest.itertuples(index=False)],
                         "traces": {"holes_throughout": 0.3}},
            "related": [],
        }

    def _missing_numbers(self, hole, used, limit: int) -> tuple[list[str], str]:
        """The first ``limit`` numbers of the hole that no record uses, and the last one (formatted)."""
        taken = set() if used is None else set(used[(used > hole.prev_number) & (used < hole.number)].tolist())
        out = []
        number = int(hole.prev_number) + 1
        while number < int(hole.number) and len(out) < limit:
            if number not in taken:
                out.append(self._format(hole, number))
            number += 1
        last = int(hole.number) - 1
        while last in taken:
            last -= 1
        return out, self._format(hole, last)

    def _format(self, hole, number: int) -> str:
        width = len(hole.prev_digits) if len(hole.prev_digits) == len(hole.digits) else 0
        return f"{hole.prefix}{number:0{width}d}{hole.suffix}"

    def _finding(self, hole, series, missing_share: float, median: float, hole_rate: float, as_wide: int,
                 used) -> dict:
        width = int(hole.missing)
        missing, last_missing = self._missing_numbers(hole, used, MAX_RELATED)
        jump = width > self.jump_width
        # How unusual the hole is in its series: holes this wide (or wider) per step between two numbers.
        unusual = 1 - min(1.0, hole_rate / self.routine_missing_share) if self.routine_missing_share else 0.0
        same_salesperson = (isinstance(hole.prev_salesperson_id, str)
                            and hole.prev_salesperson_id == hole.salesperson_id)
        traces = {
            "numbers_missing": 0.6,
            "unusual_in_series": 0.6 * unusual,
            "one_issuer": 0.2 if same_salesperson else 0.0,
        }
        score = combine_traces(traces.values())
        if jump:
            score *= 0.4  # a new block of numbers rather than deleted invoices
            traces["wide_jump_factor"] = 0.4
        counted = min(width, self.jump_width)
        risk = median * counted
        salesperson = hole.salesperson_id if same_salesperson else None
        series_name = f"{hole.prefix}…{hole.suffix}" if hole.prefix or hole.suffix else "(plain numbers)"
        evidence = {
            "series": {"prefix": hole.prefix, "suffix": hole.suffix, "n_numbers": int(series["n_numbers"]),
                       "lowest": int(series["lowest"]), "highest": int(series["highest"]),
                       "missing_share": missing_share, "median_amount": median},
            "missing_numbers": missing[:MAX_RELATED], "missing_count": width,
            "before": {"invoice_id": hole.prev_invoice_id, "invoice_no": hole.prev_invoice_no,
                       "invoice_date": hole.prev_invoice_date, "salesperson_id": hole.prev_salesperson_id,
                       "customer_id": hole.prev_customer_id, "status": hole.prev_status},
            "after": {"invoice_id": hole.invoice_id, "invoice_no": hole.invoice_no,
                      "invoice_date": hole.invoice_date, "salesperson_id": hole.salesperson_id,
                      "customer_id": hole.customer_id, "status": hole.status},
            "risk_basis": f"median invoice amount of the series x {counted} missing number(s)",
            "traces": {k: round(v, 4) for k, v in traces.items()},
        }
        evidence["hole_rate"] = hole_rate
        evidence["accounted_numbers"] = int(hole.accounted)
        neighbours = [hole.prev_invoice_id, hole.invoice_id]
        related = related_ids(("invoice_no", missing[:MAX_RELATED - 4]), ("invoice", neighbours),
                              ("salesperson", [hole.prev_salesperson_id, hole.salesperson_id]))
        return {
            "entity_id": missing[0], "salesperson_id": salesperson, "customer_id": None,
            "period": month_of(hole.prev_invoice_date), "score": score, "risk_amount": risk,
            "evidence": evidence, "related": related,
            "facts": {"kind": "hole", "series_name": series_name, "last_missing": last_missing,
                      "jump_width": self.jump_width, "as_wide": as_wide, "unusual": unusual},
        }
