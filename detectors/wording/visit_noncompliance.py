"""Wording of visit_noncompliance (VIS-01): a visit missed, late, off site, impossible or reported from elsewhere."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with

TRACE_WORDS = {
    "missed": "not made", "phone_elsewhere_at_planned_time": "phone elsewhere at the planned time",
    "done_without_checkin": "done without a check-in", "cancelled_not_rescheduled": "cancelled, not rescheduled",
    "late": "late check-in", "offsite": "check-in off site", "impossible_travel": "impossible travel",
    "pings_elsewhere": "phone elsewhere during the visit",
}


def _trace_words(evidence, facts) -> list[str]:
    traces, said = evidence["traces"], []
    planned_words = evidence["planned_at"] if evidence["planned_at"] is not None else day(facts["planned_date"])
    if "missed" in traces:
        said.append(f"the visit planned for {planned_words} was not made (status "
                    f"{evidence['status'] or 'not recorded'}, no check-in)")
    if "phone_elsewhere_at_planned_time" in traces:
        seen = evidence["pings_at_planned_time"]
        said.append(f"at the planned time the phone was {seen['median_distance_m'] / 1000:.1f} km from the "
                    f"customer ({seen['pings']} position(s))")
    if "done_without_checkin" in traces:
        said.append(f"the visit planned for {planned_words} is reported done but has no check-in")
    if "cancelled_not_rescheduled" in traces:
        said.append(f"the visit planned for {planned_words} was cancelled and no new visit to the customer "
                    f"was planned within {facts['reschedule_days']} days")
    if "late" in traces:
        checkin_time = evidence["checkin_at"][11:16]  # HH:MM of 'YYYY-MM-DD HH:MM:SS'
        said.append(f"checked in at {checkin_time}, {evidence['minutes_late']:.0f} minutes after the "
                    f"planned {planned_words} ({evidence['late_minutes_allowed']:g} allowed)")
    if "offsite" in traces:
        said.append(f"the check-in was {evidence['checkin_distance_m'] / 1000:.2f} km from the customer's location "
                    f"({evidence['geofence_m']:g} m allowed)")
    leg = evidence["travel"]
    if "impossible_travel" in traces and leg:
        said.append(f"between check-ins of visits {leg['from_visit']} and {leg['to_visit']} the salesperson "
                    f"would have covered {leg['distance_m'] / 1000:.1f} km in {leg['hours'] * 60:.0f} minutes "
                    f"({leg['speed_kmh']:.0f} km/h, {facts['max_speed_kmh']:g} possible)")
    if "pings_elsewhere" in traces:
        seen = evidence["pings_during_visit"]
        said.append(f"the visit is reported done, but {int(seen['away'])} of the phone's {int(seen['pings'])} "
                    f"position(s) during it were away from the customer (median "
                    f"{seen['median_distance_m'] / 1000:.1f} km)")
    return said


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    explanation = (
        f"Visit {finding['entity_id']} of salesperson {finding['salesperson_id']} to customer "
        f"{finding['customer_id']}: " + "; ".join(_trace_words(evidence, facts))
        + ". Visits missed, late or reported from elsewhere leave the customer unserved and unwatched, and a false "
        f"report hides it; the customer bought {money(evidence['month_sales'])} that month over "
        f"{evidence['visits_planned_in_month']} planned visit(s), and {evidence['sales_share_at_risk']:.0%} of one "
        f"visit's share ({money(finding['risk_amount'])}) is counted at risk."
        + ("" if facts["customer_located"] else
           " Confidence is lower: the customer has no recorded location, so the check-in could not be placed."))
    title_bits = [TRACE_WORDS.get(name, name.replace("_", " ")) for name in evidence["traces"]]
    check_next = (f"Pull the visit GPS log of {day(facts['planned_date'])} for salesperson "
                  f"{finding['salesperson_id']}, and ask customer {finding['customer_id']} whether the salesperson "
                  f"came that day; ask the salesperson's manager about the report.")
    return ending_with(f"Visit {finding['entity_id']} on {day(facts['planned_date'])}: {', '.join(title_bits)}",
                       explanation, check_next)
