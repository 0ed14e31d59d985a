"""Wording of visit_noncompliance (VIS-01): a visit missed, late, off site, impossible or reported from elsewhere."""

from __future__ import annotations

from audit import i18n
from audit.i18n import N_, t
from audit.wording import Words, clauses, day, ending_with, figure, items, localised, money, sentences

TRACE_WORDS = {
    "missed": N_("not made"), "phone_elsewhere_at_planned_time": N_("phone elsewhere at the planned time"),
    "done_without_checkin": N_("done without a check-in"), "cancelled_not_rescheduled": N_("cancelled, not rescheduled"),
    "late": N_("late check-in"), "offsite": N_("check-in off site"), "impossible_travel": N_("impossible travel"),
    "pings_elsewhere": N_("phone elsewhere during the visit"),
}


def _planned(planned_at: str) -> str:
    """The planned 'YYYY-MM-DD HH:MM' as it is in English; in the other languages its date as the report shows
    dates and its time in the language's digits."""
    if i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        return planned_at
    return f"{day(planned_at[:10])} {localised(planned_at[11:16])}"


def _trace_words(evidence, facts) -> list[str]:
    traces, said = evidence["traces"], []
    planned_words = _planned(evidence["planned_at"]) if evidence["planned_at"] is not None else day(
        facts["planned_date"])
    if "missed" in traces:
        said.append(t("the visit planned for %(planned)s was not made (status %(status)s, no check-in)",
                      planned=planned_words, status=evidence["status"] or t("not recorded")))
    if "phone_elsewhere_at_planned_time" in traces:
        seen = evidence["pings_at_planned_time"]
        said.append(t("at the planned time the phone was %(km)s km from the customer (%(pings)s position(s))",
                      km=figure(seen["median_distance_m"] / 1000, ".1f"), pings=figure(seen["pings"])))
    if "done_without_checkin" in traces:
        said.append(t("the visit planned for %(planned)s is reported done but has no check-in", planned=planned_words))
    if "cancelled_not_rescheduled" in traces:
        said.append(t("the visit planned for %(planned)s was cancelled and no new visit to the customer was planned "
                      "within %(days)s days", planned=planned_words, days=figure(facts["reschedule_days"])))
    if "late" in traces:
        checkin_time = evidence["checkin_at"][11:16]  # HH:MM of 'YYYY-MM-DD HH:MM:SS'
        said.append(t("checked in at %(time)s, %(minutes)s minutes after the planned %(planned)s (%(allowed)s allowed)",
                      time=localised(checkin_time), minutes=figure(evidence["minutes_late"], ".0f"), planned=planned_words,
                      allowed=figure(evidence["late_minutes_allowed"], "g")))
    if "offsite" in traces:
        said.append(t("the check-in was %(km)s km from the customer's location (%(metres)s m allowed)",
                      km=figure(evidence["checkin_distance_m"] / 1000, ".2f"),
                      metres=figure(evidence["geofence_m"], "g")))
    leg = evidence["travel"]
    if "impossible_travel" in traces and leg:
        said.append(t("between check-ins of visits %(from_visit)s and %(to_visit)s the salesperson would have covered "
                      "%(km)s km in %(minutes)s minutes (%(speed)s km/h, %(possible)s possible)",
                      from_visit=leg["from_visit"], to_visit=leg["to_visit"], km=figure(leg["distance_m"] / 1000, ".1f"),
                      minutes=figure(leg["hours"] * 60, ".0f"), speed=figure(leg["speed_kmh"], ".0f"),
                      possible=figure(facts["max_speed_kmh"], "g")))
    if "pings_elsewhere" in traces:
        seen = evidence["pings_during_visit"]
        said.append(t("the visit is reported done, but %(away)s of the phone's %(pings)s position(s) during it were "
                      "away from the customer (median %(km)s km)", away=figure(int(seen["away"])),
                      pings=figure(int(seen["pings"])), km=figure(seen["median_distance_m"] / 1000, ".1f")))
    return said


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    explanation = sentences(
        t("Visit %(visit)s of salesperson %(salesperson)s to customer %(customer)s: %(traces)s.",
          visit=finding["entity_id"], salesperson=finding["salesperson_id"], customer=finding["customer_id"],
          traces=clauses(_trace_words(evidence, facts))),
        t("Visits missed, late or reported from elsewhere leave the customer unserved and unwatched, and a false report "
          "hides it; the customer bought %(sales)s that month over %(visits)s planned visit(s), and %(share)s of one "
          "visit's share (%(amount)s) is counted at risk.", sales=money(evidence["month_sales"]),
          visits=figure(evidence["visits_planned_in_month"]), share=figure(evidence["sales_share_at_risk"], ".0%"),
          amount=money(finding["risk_amount"])),
        "" if facts["customer_located"] else
        t("Confidence is lower: the customer has no recorded location, so the check-in could not be placed."))
    title_bits = [t(TRACE_WORDS[name]) if name in TRACE_WORDS else name.replace("_", " ")
                  for name in evidence["traces"]]
    check_next = t("Pull the visit GPS log of %(date)s for salesperson %(salesperson)s, and ask customer %(customer)s "
                   "whether the salesperson came that day; ask the salesperson's manager about the report.",
                   date=day(facts["planned_date"]), salesperson=finding["salesperson_id"],
                   customer=finding["customer_id"])
    return ending_with(t("Visit %(visit)s on %(date)s: %(traces)s", visit=finding["entity_id"],
                         date=day(facts["planned_date"]), traces=items(title_bits)), explanation, check_next)
