"""Wording of fictitious_customer (CUS-01): an account that exists only on paper."""

from __future__ import annotations

import pandas as pd

from audit.common import day, money
from audit.wording import Words, ending_with


def _marks(finding) -> list[str]:
    """One phrase per mark the customer shows, in a fixed order."""
    evidence, facts = finding["evidence"], finding["facts"]
    traces, geofence_m, said = facts["traces"], facts["geofence_m"], []
    if traces["new_account"] > 0:
        opened = f"opened on {day(evidence['created_date'])}"
        if pd.notna(evidence["created_by"]):
            opened += f" by {evidence['created_by']}"
        said.append(f"the account was {opened}, {evidence['days_created_before_first_invoice']} day(s) before its "
                    f"first invoice ({day(evidence['first_invoice'])})")
    shared = []
    for link in evidence["links"]:
        what = link["kind"].replace("shared_", "").replace("_", " ")
        who = link["other"].replace(":", " ")
        name = facts["staff_names"].get(link["other"])
        shared.append(f"{what} {link['value']} with {who}" + (f" ({name})" if name else ""))
    if shared:
        said.append("it shares its " + "; ".join(shared[:6]))
    if traces["no_presence"] > 0:
        if traces["visits_off_site"] > 0:
            said.append(f"{int(evidence['visits_done'])} visit(s) were reported done but none checked in within "
                        f"{geofence_m:g} m of its address (nearest {facts['nearest_checkin_m']:,.0f} m) and no GPS "
                        f"ping of its salesperson was near it")
        else:
            said.append(f"no visit ever checked in there and no GPS ping of its salesperson came within "
                        f"{geofence_m:g} m of its address")
    away = facts["away"]
    if traces["delivered_elsewhere"] > 0 and away is not None:
        far = f", {away['metres_away']:,.0f} m from its address" if pd.notna(away["metres_away"]) else ""
        said.append(f"{away['shipments']} of its {int(evidence['shipments'])} shipments were delivered elsewhere "
                    f"({away['delivery_address']}{far})")
    receiver = facts["received_by_other"]
    if traces["received_by_other"] > 0 and receiver is not None:
        why = ""
        if receiver["staff"]:
            why = f", who has the name of {receiver['staff'].replace(':', ' ')}"
        elif receiver["salesperson_family"]:
            why = f", who has salesperson {finding['salesperson_id']}'s family name"
        said.append(f"{receiver['shipments']} shipment(s) were received by {receiver['received_by']}{why}, not by "
                    f"its owner {facts['owner_name']}")
    if traces["unpaid_then_dormant"] > 0:
        said.append(f"{money(evidence['open_balance'])} of its {money(evidence['invoiced'])} invoiced is unpaid and "
                    f"it has bought nothing since {day(evidence['last_invoice'])}")
    if traces["seen_at_its_address"] < 0 and evidence["visits_near"] is not None:
        said.append(f"its salesperson was at its address ({int(evidence['visits_near'])} visit(s) checked in within "
                    f"{geofence_m:g} m) and its goods were delivered there, which speaks for a real shop")
    if traces["paid_by_customer"] < 0:
        said.append(f"it did pay {money(evidence['received'] - evidence['cash_collected_by_own_salesperson'])} "
                    f"itself, which speaks for a real buyer")
    if traces["cash_by_own_collector"] > 0:
        said.append(f"{money(evidence['cash_collected_by_own_salesperson'])} of the {money(evidence['received'])} "
                    f"it paid was cash collected by its own salesperson {facts['cash_collector']}")
    if traces["no_tax_id"] > 0:
        said.append("it has no tax id")
    return said


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    said = _marks(finding)
    risk = finding["risk_amount"]
    risk_words = (f"the whole {money(risk)} invoiced, since the money came through the salesperson's own hands"
                  if facts["traces"]["cash_by_own_collector"] > 0 else f"its unpaid {money(risk)}")
    lower = "" if facts["has_visits"] else (" Confidence is lower: there are no visit records, so whether anybody "
                                            "was ever at the address could not be checked.")
    explanation = (
        f"Customer {finding['entity_id']} ({facts['name']}, salesperson {finding['salesperson_id']}) was invoiced "
        f"{money(evidence['invoiced'])} in {evidence['invoices']} invoice(s) from {day(evidence['first_invoice'])} "
        f"to {day(evidence['last_invoice'])}. " + "; ".join(s[0].upper() + s[1:] if i == 0 else s
                                                             for i, s in enumerate(said))
        + f". Together these are the marks of an account that exists only on paper, used to invoice goods that "
          f"went elsewhere; money at risk is {risk_words}." + lower)
    title = (f"Customer {finding['entity_id']} looks made up: {sum(v > 0 for v in evidence['traces'].values())} "
             f"marks, {money(evidence['invoiced'])} invoiced")
    opened_by = evidence["created_by"]
    opening = f"customer {finding['entity_id']}'s account-opening file" + (
        f" (opened by {opened_by})" if isinstance(opened_by, str) else "")
    check_next = (f"Pull {opening} and the signed delivery notes of its shipments, and ask salesperson "
                  f"{finding['salesperson_id']}'s manager to visit {facts['name']} at its address and meet the owner.")
    return ending_with(title, explanation, check_next)
