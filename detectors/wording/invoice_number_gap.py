"""Wording of invoice_number_gap: invoice numbers missing from a series (STD-03), or a series with holes
throughout."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.wording import text


def words(finding) -> Words:
    return _series(finding) if finding["facts"]["kind"] == "series" else _hole(finding)


def _series(finding) -> Words:
    evidence, name = finding["evidence"], finding["facts"]["series_name"]
    series, accounted = evidence["series"], evidence["accounted"]
    shown = "; ".join(f"{h['missing']} after {h['after']}" for h in evidence["widest"])
    explanation = (
        f"Series {name} skips {evidence['missing']} of the {series['highest'] - series['lowest'] + 1}"
        f" numbers between {series['lowest']} and {series['highest']} ({series['missing_share']:.1%}), in "
        f"{evidence['holes']} holes spread over the series (widest: {shown})"
        + (f"; {accounted} further numbers are used by credit notes or rows set aside" if accounted else "")
        + ". Holes everywhere mean the series is not numbered strictly (numbers shared with other documents, "
        "or outside this extract): a single hole in it is no evidence of a deleted invoice, so holes are not "
        "listed one by one and no money is put at risk. Check how the numbers are issued before relying on "
        "the series as a control.")
    widest = evidence["widest"][0]["after"] if evidence["widest"] else series["lowest"]
    check_next = (f"Ask the billing office how numbers of series {name} are issued (which other documents share "
                  f"them), and pull the numbering log around {widest}, where the widest hole is.")
    return ending_with(f"Invoice series {name} has holes throughout ({series['missing_share']:.1%} of its numbers "
                       f"missing)", explanation, check_next)


def _hole(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    series, before, after = evidence["series"], evidence["before"], evidence["after"]
    width, missing, jump_width = evidence["missing_count"], evidence["missing_numbers"], facts["jump_width"]
    jump = width > jump_width
    counted = min(width, jump_width)
    salesperson = text(finding["salesperson_id"])
    shown = ", ".join(missing[:5]) + (f" and {width - 5} more" if width > 5 else "")
    who = (f"both issued by salesperson {salesperson}" if salesperson else
           f"issued by salespeople {before['salesperson_id']} and {after['salesperson_id']}")
    cancelled = [edge["invoice_no"] for edge in (before, after) if edge["status"] == "cancelled"]
    accounted = evidence["accounted_numbers"]
    explanation = (
        f"Invoice number{'s' if width > 1 else ''} {shown} {'are' if width > 1 else 'is'} missing from series "
        f"{facts['series_name']}: it goes from {before['invoice_no']} ({day(before['invoice_date'])}, customer "
        f"{before['customer_id']}) straight to {after['invoice_no']} ({day(after['invoice_date'])}, customer "
        f"{after['customer_id']}), {who}. No invoice, not even a cancelled one, carries the missing "
        f"number{'s' if width > 1 else ''}. An invoice issued and then deleted instead of cancelled can hide a "
        f"sale whose money was kept. Its amount is unknown, so the money at risk is estimated as the "
        f"series' median invoice amount, {money(series['median_amount'])}, × {counted} missing "
        f"number{'s' if counted > 1 else ''}."
        + (f" The hole is wider than {jump_width} numbers, which looks more like a jump to a new block of "
           f"numbers than deleted invoices." if jump else "")
        + f" Holes this wide or wider occur at {facts['as_wide']} of the series' {series['n_numbers'] - 1} steps"
        + f" ({evidence['hole_rate']:.2%}){', so this one is not unusual there' if facts['unusual'] == 0 else ''}."
        + (f" {accounted} number(s) in the hole are used by credit notes or rows set aside." if accounted else "")
        + (f" ({', '.join(cancelled)} on the edge of the hole {'is' if len(cancelled) == 1 else 'are'} cancelled.)"
           if cancelled else "")
    )
    title = (f"Invoice number{'s' if width > 1 else ''} {missing[0]}"
             + (f" to {facts['last_missing']} ({width})" if width > 1 else "") + " missing from the series")
    who_asked = f"salesperson {salesperson}" if salesperson else (
        f"salespeople {before['salesperson_id']} and {after['salesperson_id']}")
    check_next = (f"Pull the billing system's log (or the paper invoice book) for number"
                  f"{'s' if width > 1 else ''} {missing[0]}" + (f" to {facts['last_missing']}" if width > 1 else "")
                  + f", and ask the billing clerk and {who_asked} what was issued under "
                  + ("them." if width > 1 else "it."))
    return ending_with(title, explanation, check_next)
