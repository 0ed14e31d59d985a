"""Wording of invoice_number_gap: invoice numbers missing from a series (STD-03), or a series with holes
throughout."""

from __future__ import annotations

from numbers import Number

from audit.i18n import t, tn
from audit.wording import Words, clauses, day, ending_with, figure, items, money, sentences
from detectors.wording import text


def _number(value) -> str:
    """A series number as the text shows it: a figure in the language's digits, an invoice number as it is."""
    return figure(value) if isinstance(value, Number) else str(value)


def words(finding) -> Words:
    return _series(finding) if finding["facts"]["kind"] == "series" else _hole(finding)


def _series(finding) -> Words:
    evidence, name = finding["evidence"], finding["facts"]["series_name"]
    series, accounted = evidence["series"], evidence["accounted"]
    shown = clauses(t("%(count)s after %(after)s", count=_number(h["missing"]), after=_number(h["after"]))
                    for h in evidence["widest"])
    values = dict(name=name, missing=_number(evidence["missing"]),
                  numbers=figure(series["highest"] - series["lowest"] + 1), lowest=_number(series["lowest"]),
                  highest=_number(series["highest"]), share=figure(series["missing_share"], ".1%"),
                  holes=_number(evidence["holes"]), widest=shown)
    explanation = sentences(
        t("Series %(name)s skips %(missing)s of the %(numbers)s numbers between %(lowest)s and %(highest)s "
          "(%(share)s), in %(holes)s holes spread over the series (widest: %(widest)s); %(accounted)s further "
          "numbers are used by credit notes or rows set aside.", accounted=_number(accounted), **values)
        if accounted else
        t("Series %(name)s skips %(missing)s of the %(numbers)s numbers between %(lowest)s and %(highest)s "
          "(%(share)s), in %(holes)s holes spread over the series (widest: %(widest)s).", **values),
        t("Holes everywhere mean the series is not numbered strictly (numbers shared with other documents, or "
          "outside this extract): a single hole in it is no evidence of a deleted invoice, so holes are not listed "
          "one by one and no money is put at risk."),
        t("Check how the numbers are issued before relying on the series as a control."))
    widest = evidence["widest"][0]["after"] if evidence["widest"] else series["lowest"]
    check_next = t("Ask the billing office how numbers of series %(name)s are issued (which other documents share "
                   "them), and pull the numbering log around %(widest)s, where the widest hole is.", name=name,
                   widest=_number(widest))
    return ending_with(t("Invoice series %(name)s has holes throughout (%(share)s of its numbers missing)", name=name,
                         share=figure(series["missing_share"], ".1%")), explanation, check_next)


def _hole(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    series, before, after = evidence["series"], evidence["before"], evidence["after"]
    width, missing, jump_width = evidence["missing_count"], evidence["missing_numbers"], facts["jump_width"]
    jump = width > jump_width
    counted = min(width, jump_width)
    salesperson = text(finding["salesperson_id"])
    shown = items(missing[:5])
    if width > 5:
        shown = t("%(lines)s and %(count)s more", lines=shown, count=figure(width - 5))
    who = (t("both issued by salesperson %(salesperson)s", salesperson=salesperson) if salesperson else
           t("issued by salespeople %(first)s and %(second)s", first=before["salesperson_id"],
             second=after["salesperson_id"]))
    cancelled = [edge["invoice_no"] for edge in (before, after) if edge["status"] == "cancelled"]
    accounted = evidence["accounted_numbers"]
    rate = figure(evidence["hole_rate"], ".2%")
    steps = dict(as_wide=_number(facts["as_wide"]), steps=figure(series["n_numbers"] - 1), rate=rate)
    explanation = sentences(
        tn("Invoice number %(numbers)s is missing from series %(series)s: it goes from %(before)s (%(before_date)s, "
           "customer %(before_customer)s) straight to %(after)s (%(after_date)s, customer %(after_customer)s), "
           "%(who)s.",
           "Invoice numbers %(numbers)s are missing from series %(series)s: it goes from %(before)s (%(before_date)s, "
           "customer %(before_customer)s) straight to %(after)s (%(after_date)s, customer %(after_customer)s), "
           "%(who)s.", 2 if width > 1 else 1, numbers=shown, series=facts["series_name"],
           before=before["invoice_no"], before_date=day(before["invoice_date"]),
           before_customer=before["customer_id"], after=after["invoice_no"], after_date=day(after["invoice_date"]),
           after_customer=after["customer_id"], who=who),
        tn("No invoice, not even a cancelled one, carries the missing number.",
           "No invoice, not even a cancelled one, carries the missing numbers.", 2 if width > 1 else 1),
        t("An invoice issued and then deleted instead of cancelled can hide a sale whose money was kept."),
        tn("Its amount is unknown, so the money at risk is estimated as the series' median invoice amount, "
           "%(median)s, × %(count)s missing number.",
           "Its amount is unknown, so the money at risk is estimated as the series' median invoice amount, "
           "%(median)s, × %(count)s missing numbers.", 2 if counted > 1 else 1,
           median=money(series["median_amount"]), count=figure(counted)),
        t("The hole is wider than %(width)s numbers, which looks more like a jump to a new block of numbers than "
          "deleted invoices.", width=_number(jump_width)) if jump else "",
        t("Holes this wide or wider occur at %(as_wide)s of the series' %(steps)s steps (%(rate)s), so this one is "
          "not unusual there.", **steps) if facts["unusual"] == 0 else
        t("Holes this wide or wider occur at %(as_wide)s of the series' %(steps)s steps (%(rate)s).", **steps),
        t("%(count)s number(s) in the hole are used by credit notes or rows set aside.", count=_number(accounted))
        if accounted else "",
        tn("(%(invoices)s on the edge of the hole is cancelled.)", "(%(invoices)s on the edge of the hole are "
           "cancelled.)", len(cancelled), invoices=items(cancelled)) if cancelled else "")
    if width > 1:
        title = t("Invoice numbers %(first)s to %(last)s (%(count)s) missing from the series", first=missing[0],
                  last=facts["last_missing"], count=figure(width))
    else:
        title = t("Invoice number %(first)s missing from the series", first=missing[0])
    who_asked = (t("salesperson %(salesperson)s", salesperson=salesperson) if salesperson else
                 t("salespeople %(first)s and %(second)s", first=before["salesperson_id"],
                   second=after["salesperson_id"]))
    check_next = (t("Pull the billing system's log (or the paper invoice book) for numbers %(first)s to %(last)s, and "
                    "ask the billing clerk and %(who)s what was issued under them.", first=missing[0],
                    last=facts["last_missing"], who=who_asked) if width > 1 else
                  t("Pull the billing system's log (or the paper invoice book) for number %(first)s, and ask the "
                    "billing clerk and %(who)s what was issued under it.", first=missing[0], who=who_asked))
    return ending_with(title, explanation, check_next)
