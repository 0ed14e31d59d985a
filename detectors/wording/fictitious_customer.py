"""Wording of fictitious_customer (CUS-01): an account that exists only on paper."""

from __future__ import annotations

import pandas as pd

from audit.i18n import N_, t
from audit.wording import Words, both, clauses, day, ending_with, figure, money, sentences
from detectors.wording import entity_ref

LINK_WORDS = {"phone": N_("phone"), "address": N_("address"), "bank account": N_("bank account"),
              "name": N_("name"), "owner name": N_("owner name"), "tax id": N_("tax id")}


def _marks(finding) -> list[str]:
    """One phrase per mark the customer shows, in a fixed order."""
    evidence, facts = finding["evidence"], finding["facts"]
    traces, geofence_m, said = facts["traces"], figure(facts["geofence_m"], "g"), []
    if traces["new_account"] > 0:
        values = dict(opened=day(evidence["created_date"]), by=evidence["created_by"],
                      days=figure(evidence["days_created_before_first_invoice"]),
                      first=day(evidence["first_invoice"]))
        said.append(t("the account was opened on %(opened)s by %(by)s, %(days)s day(s) before its first invoice "
                      "(%(first)s)", **values) if pd.notna(evidence["created_by"]) else
                    t("the account was opened on %(opened)s, %(days)s day(s) before its first invoice (%(first)s)",
                      **values))
    shared = []
    for link in evidence["links"]:
        what = link["kind"].replace("shared_", "").replace("_", " ")
        name = facts["staff_names"].get(link["other"])
        values = dict(what=t(LINK_WORDS[what]) if what in LINK_WORDS else what, value=link["value"],
                      who=entity_ref(link["other"]), name=name)
        shared.append(t("%(what)s %(value)s with %(who)s (%(name)s)", **values) if name else
                      t("%(what)s %(value)s with %(who)s", **values))
    if shared:
        said.append(t("it shares its %(links)s", links=clauses(shared[:6])))
    if traces["no_presence"] > 0:
        if traces["visits_off_site"] > 0:
            said.append(t("%(visits)s visit(s) were reported done but none checked in within %(metres)s m of its "
                          "address (nearest %(nearest)s m) and no GPS ping of its salesperson was near it",
                          visits=figure(int(evidence["visits_done"])), metres=geofence_m,
                          nearest=figure(facts["nearest_checkin_m"], ",.0f")))
        else:
            said.append(t("no visit ever checked in there and no GPS ping of its salesperson came within %(metres)s "
                          "m of its address", metres=geofence_m))
    if traces.get("never_checked_in", 0) > 0:
        said.append(t("no visit ever checked in there, though its salesperson's GPS pings came within %(metres)s m "
                      "of its address (%(pings)s): passing by is no visit", metres=geofence_m,
                      pings=figure(int(evidence["pings_near"] or 0))))
    away = facts["away"]
    if traces["delivered_elsewhere"] > 0 and away is not None:
        values = dict(away=figure(away["shipments"]), shipments=figure(int(evidence["shipments"])),
                      where=away["delivery_address"])
        said.append(t("%(away)s of its %(shipments)s shipments were delivered elsewhere (%(where)s, %(metres)s m "
                      "from its address)", metres=figure(away["metres_away"], ",.0f"), **values)
                    if pd.notna(away["metres_away"]) else
                    t("%(away)s of its %(shipments)s shipments were delivered elsewhere (%(where)s)", **values))
    receiver = facts["received_by_other"]
    if traces["received_by_other"] > 0 and receiver is not None:
        values = dict(count=figure(receiver["shipments"]), receiver=receiver["received_by"],
                      owner=facts["owner_name"])
        if receiver["staff"]:
            said.append(t("%(count)s shipment(s) were received by %(receiver)s, who has the name of %(staff)s, not "
                          "by its owner %(owner)s", staff=entity_ref(receiver["staff"]), **values))
        elif receiver["salesperson_family"]:
            said.append(t("%(count)s shipment(s) were received by %(receiver)s, who has salesperson "
                          "%(salesperson)s's family name, not by its owner %(owner)s",
                          salesperson=finding["salesperson_id"], **values))
        else:
            said.append(t("%(count)s shipment(s) were received by %(receiver)s, not by its owner %(owner)s",
                          **values))
    if traces["unpaid_then_dormant"] > 0:
        said.append(t("%(open)s of its %(invoiced)s invoiced is unpaid and it has bought nothing since %(last)s",
                      open=money(evidence["open_balance"]), invoiced=money(evidence["invoiced"]),
                      last=day(evidence["last_invoice"])))
    if traces["seen_at_its_address"] < 0 and evidence["visits_near"] is not None:
        said.append(t("its salesperson was at its address (%(visits)s visit(s) checked in within %(metres)s m) and "
                      "its goods were delivered there, which speaks for a real shop",
                      visits=figure(int(evidence["visits_near"])), metres=geofence_m))
    paid = []
    if traces["paid_from_own_account"] < 0:
        paid.append(t("%(amount)s by cheques on its own bank account in %(months)s month(s)",
                      amount=money(evidence["paid_from_own_account"]),
                      months=figure(evidence["paid_from_own_account_months"])))
    if traces["paid_by_customer"] < 0:
        paid.append(t("%(amount)s otherwise, not as cash through its salesperson, in %(months)s month(s)",
                      amount=money(evidence["paid_otherwise"]), months=figure(evidence["paid_otherwise_months"])))
    if paid:
        said.append(t("it paid for its goods itself (%(payments)s), which speaks for a real buyer; payments over fewer "
                      "than "
                      "%(full)s months weigh less, since a made-up account can be paid for a while to stay out of "
                      "sight", payments=both(paid), full=figure(evidence["paid_months_full"])))
    if evidence["goods_to_linked_customers"]:
        said.append(t("its goods went to %(customers)s, which shares its details or paid for it: that reads as one "
                      "buyer under two names (multi-name invoicing), so those deliveries are not counted as goods "
                      "diverted", customers=both(entity_ref(f"customer:{c}") for c in
                                                 evidence["goods_to_linked_customers"])))
    if traces["cash_by_own_collector"] > 0:
        said.append(t("%(cash)s of the %(received)s it paid was cash collected by its own salesperson "
                      "%(collector)s", cash=money(evidence["cash_collected_by_own_salesperson"]),
                      received=money(evidence["received"]), collector=facts["cash_collector"]))
    if traces["no_tax_id"] > 0:
        said.append(t("it has no tax id"))
    return said


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    said = _marks(finding)
    risk = finding["risk_amount"]
    traces = facts["traces"]
    risk_words = (t("the whole %(amount)s invoiced, since the money came through the salesperson's own hands",
                    amount=money(risk)) if traces["cash_by_own_collector"] > 0
                  else t("the whole %(amount)s invoiced: whoever paid, the goods went out to an account that may "
                         "not exist", amount=money(risk))
                  if traces["paid_from_own_account"] < 0 or traces["paid_by_customer"] < 0
                  else t("its unpaid %(amount)s", amount=money(risk)))
    explanation = sentences(
        t("Customer %(customer)s (%(name)s, salesperson %(salesperson)s) was invoiced %(invoiced)s in %(count)s "
          "invoice(s) from %(first)s to %(last)s.", customer=finding["entity_id"], name=facts["name"],
          salesperson=finding["salesperson_id"], invoiced=money(evidence["invoiced"]),
          count=figure(evidence["invoices"]), first=day(evidence["first_invoice"]),
          last=day(evidence["last_invoice"])),
        t("%(marks)s. Together these are the marks of an account that exists only on paper, used to invoice goods "
          "that went elsewhere; money at risk is %(risk)s.",
          marks=clauses(s[0].upper() + s[1:] if i == 0 else s for i, s in enumerate(said)), risk=risk_words),
        "" if facts["has_visits"] else
        t("Confidence is lower: there are no visit records, so whether anybody was ever at the address could not be "
          "checked."))
    title = t("Customer %(customer)s looks made up: %(marks)s marks, %(invoiced)s invoiced",
              customer=finding["entity_id"], marks=figure(sum(v > 0 for v in evidence["traces"].values())),
              invoiced=money(evidence["invoiced"]))
    opened_by = evidence["created_by"]
    opening = (t("customer %(customer)s's account-opening file (opened by %(by)s)", customer=finding["entity_id"],
                 by=opened_by) if isinstance(opened_by, str) else
               t("customer %(customer)s's account-opening file", customer=finding["entity_id"]))
    check_next = t("Pull %(opening)s and the signed delivery notes of its shipments, and ask salesperson "
                   "%(salesperson)s's manager to visit %(name)s at its address and meet the owner.", opening=opening,
                   salesperson=finding["salesperson_id"], name=facts["name"])
    return ending_with(title, explanation, check_next)
