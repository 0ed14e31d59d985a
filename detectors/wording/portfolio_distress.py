"""Wording of portfolio_distress: a salesperson's portfolio gathering distressed customers, or a salesperson
still supplying them past the credit limit or the stop-supply step (DST-02)."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, both, clauses, day, ending_with, figure, items, money, month, sentences
from detectors.wording import text


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    name = text(facts["salesperson_name"])
    salesperson = finding["entity_id"]
    who = (t("Salesperson %(salesperson)s (%(name)s)", salesperson=salesperson, name=name) if name
           else t("Salesperson %(salesperson)s", salesperson=salesperson))
    count, size, rate = figure(evidence["distressed_customers"]), figure(evidence["portfolio_customers"]), \
        evidence["company_rate"]
    customer_words = items(t("%(customer)s (score %(score)s from %(first)s, exposure %(exposure)s)",
                             customer=c["customer_id"], score=figure(c["best_score"], ".2f"),
                             first=month(c["first_alert"]), exposure=money(c["exposure"]))
                           for c in evidence["customers"][:8])
    parts = []
    if evidence["clustered"]:
        parts.append(t("%(count)s of the %(size)s customers of %(who)s reached the distress alert level "
                       "(%(customers)s); company-wide %(rate)s of customers did, so %(expected)s were expected, and "
                       "the chance of %(count)s or more is %(chance)s.", count=count, size=size, who=who,
                       customers=customer_words, rate=figure(rate, ".1%"),
                       expected=figure(evidence["expected"], ".1f"),
                       chance=figure(evidence["binomial_tail_p"], ".2%")))
    elif evidence["distressed_customers"]:
        parts.append(t("%(count)s of the %(size)s customers of %(who)s reached the distress alert level "
                       "(%(customers)s).", count=count, size=size, who=who, customers=customer_words))
    supplied = facts["supplied_by_customer"]
    if supplied:
        supply_words = []
        for customer in supplied:
            reasons = []
            if customer["over_limit"]:
                reasons.append(t("over its credit limit of %(limit)s", limit=money(customer["credit_limit"])))
            if customer["after_stop"]:
                reasons.append(t("with invoices more than %(grace)s days overdue (up to %(days)s days)",
                                 grace=figure(facts["grace_days"]),
                                 days=figure(customer["oldest_overdue_days"], ".0f")))
            supply_words.append(t("%(count)s invoice(s) worth %(amount)s to %(customer)s between %(first)s and "
                                  "%(last)s, %(reasons)s", count=figure(customer["invoices"]),
                                  amount=money(customer["amount"]), customer=customer["customer_id"],
                                  first=day(customer["first_date"]), last=day(customer["last_date"]),
                                  reasons=both(reasons)))
        parts.append(t("%(who)s kept selling on credit to customers that later reached the alert level: "
                       "%(supplies)s.", who=who, supplies=clauses(supply_words)))
    explanation = sentences(
        sentences(*parts) if parts else ".",
        t("The distressed customers owe %(amount)s.", amount=money(finding["risk_amount"])),
        t("Failures gathering around one salesperson, or goods still shipped on credit to a customer that stopped "
          "paying, mean either credit given against the rules to chase volume or collusion with the customers: "
          "review that portfolio's credit decisions, the deliveries and who approved them."))
    past = len(evidence["invoices_past_limits"])
    title = (t("%(who)s: %(count)s distressed customer(s) of %(size)s, %(past)s invoice(s) past the credit limit or "
               "stop-supply - distress or collusion?", who=who, count=count, size=size, past=figure(past)) if past
             else t("%(who)s: %(count)s distressed customer(s) of %(size)s - distress or collusion?", who=who,
                    count=count, size=size))
    customers = [c["customer_id"] for c in evidence["customers"][:3]]
    invoices = [i["invoice_no"] for i in evidence["invoices_past_limits"][:3]]
    pull = (t("the credit approvals and delivery notes of invoices %(invoices)s", invoices=items(invoices))
            if invoices else t("the credit files of customers %(customers)s", customers=items(customers)))
    check_next = t("Pull %(pull)s and the latest statements of account of %(customers)s, and ask salesperson "
                   "%(salesperson)s's manager and the credit controller who approved selling to them on credit.",
                   pull=pull, customers=items(customers), salesperson=salesperson)
    return ending_with(title, explanation, check_next)
