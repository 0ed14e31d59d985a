"""invoice_number_gap: invoice numbers missing from a numbering series."""

from __future__ import annotations

import ibis
import pandas as pd

from audit.detector import MAX_RELATED, Detector, empty_findings, related_ids
from detectors.common import combine_traces, day, money, month_of
from detectors.standard.support import invoice_totals

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
    entity_type = "invoice_no"
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {"invoices": ("status",), "invoice_lines": ("discount_pct",)}
    # The hole is certain, its amount is an estimate (the series' median): half weight.
    rank_weight = 0.5

    def __init__(self, jump_width: int = 50, routine_missing_share: float = 0.02):
        self.jump_width = jump_width
        self.routine_missing_share = routine_missing_share

    def _holes(self, data) -> ibis.Table:
        invoices = data.table("invoices")
        parts = _numbered(invoices.select("invoice_id", "invoice_no", "invoice_date", "customer_id",
                                          "salesperson_id", "status"))
        window = ibis.window(group_by=[parts.prefix, parts.suffix], order_by=[parts.number, parts.invoice_id])
        parts = parts.mutate(**{f"prev_{c}": parts[c].lag().over(window) for c in (
            "number", "invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id", "status",
            "digits")})
        holes = parts.filter(parts.number - parts.prev_number > 1)
        return holes.mutate(missing=holes.number - holes.prev_number - 1)

    def _series_stats(self, data) -> ibis.Table:
        parts = _numbered(data.table("invoices").select("invoice_no"))
        return parts.group_by(["prefix", "suffix"]).aggregate(
            n_numbers=parts.number.nunique(), lowest=parts.number.min(), highest=parts.number.max())

    def _series_amounts(self, data, holes: ibis.Table) -> pd.DataFrame:
        amounts = _numbered(invoice_totals(data))
        series = holes.select("prefix", "suffix").distinct()
        amounts = amounts.semi_join(series, [amounts.prefix == series.prefix, amounts.suffix == series.suffix])
        return data.execute(amounts.select("prefix", "suffix", "amount"))

    def find(self, data) -> pd.DataFrame:
        holes_expr = self._holes(data)
        holes = data.execute(holes_expr)
        self.n_holes_ = len(holes)
        if holes.empty:
            return empty_findings()
        holes = holes.sort_values(["prefix", "suffix", "prev_number"], ignore_index=True)
        stats = data.execute(self._series_stats(data)).set_index(["prefix", "suffix"])
        amounts = self._series_amounts(data, holes_expr)
        medians = amounts.groupby(["prefix", "suffix"])["amount"].median()
        findings = []
        for hole in holes.itertuples(index=False):
            key = (hole.prefix, hole.suffix)
            series = stats.loc[key]
            span = int(series["highest"] - series["lowest"] + 1)
            missing_share = 1 - int(series["n_numbers"]) / span if span else 0.0
            findings.append(self._finding(hole, series, missing_share, float(medians.get(key, 0.0))))
        return pd.DataFrame(findings)

    def _format(self, hole, number: int) -> str:
        width = len(hole.prev_digits) if len(hole.prev_digits) == len(hole.digits) else 0
        return f"{hole.prefix}{number:0{width}d}{hole.suffix}"

    def _finding(self, hole, series, missing_share: float, median: float) -> dict:
        width = int(hole.missing)
        missing = [self._format(hole, int(hole.prev_number) + k) for k in range(1, width + 1)]
        jump = width > self.jump_width
        regularity = 1 - min(1.0, missing_share / self.routine_missing_share) if self.routine_missing_share else 0.0
        same_salesperson = (isinstance(hole.prev_salesperson_id, str)
                            and hole.prev_salesperson_id == hole.salesperson_id)
        traces = {
            "numbers_missing": 0.6,
            "strict_series": 0.6 * regularity,
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
        shown = ", ".join(missing[:5]) + (f" and {width - 5} more" if width > 5 else "")
        who = (f"both issued by salesperson {salesperson}" if salesperson else
               f"issued by salespeople {hole.prev_salesperson_id} and {hole.salesperson_id}")
        cancelled = [n for n, s in ((hole.prev_invoice_no, hole.prev_status), (hole.invoice_no, hole.status))
                     if s == "cancelled"]
        explanation = (
            f"Invoice number{'s' if width > 1 else ''} {shown} {'are' if width > 1 else 'is'} missing from series "
            f"{series_name}: it goes from {hole.prev_invoice_no} ({day(hole.prev_invoice_date)}, customer "
            f"{hole.prev_customer_id}) straight to {hole.invoice_no} ({day(hole.invoice_date)}, customer "
            f"{hole.customer_id}), {who}. No invoice, not even a cancelled one, carries the missing "
            f"number{'s' if width > 1 else ''}. An invoice issued and then deleted instead of cancelled can hide a "
            f"sale whose money was kept. Its amount is unknown, so the money at risk is estimated as the "
            f"series' median invoice amount, {money(median)}, × {counted} missing number{'s' if counted > 1 else ''}."
            + (f" The hole is wider than {self.jump_width} numbers, which looks more like a jump to a new block of "
               f"numbers than deleted invoices." if jump else "")
            + (f" The series skips {missing_share:.1%} of its numbers overall, so holes are not unusual in it."
               if regularity == 0 else "")
            + (f" ({', '.join(cancelled)} on the edge of the hole {'is' if len(cancelled) == 1 else 'are'} cancelled.)"
               if cancelled else "")
        )
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
        neighbours = [hole.prev_invoice_id, hole.invoice_id]
        related = related_ids(("invoice_no", missing[:MAX_RELATED - 4]), ("invoice", neighbours),
                              ("salesperson", [hole.prev_salesperson_id, hole.salesperson_id]))
        return {
            "entity_id": missing[0], "salesperson_id": salesperson, "customer_id": None,
            "period": month_of(hole.prev_invoice_date), "score": score, "risk_amount": risk,
            "title": f"Invoice number{'s' if width > 1 else ''} {missing[0]}"
                     + (f" to {missing[-1]} ({width})" if width > 1 else "") + " missing from the series",
            "explanation": explanation, "evidence": evidence, "related": related,
        }
