"""visit_noncompliance: visits missed, late, off-site, impossible, or reported while the phone was elsewhere."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.common import combine_traces, haversine_m, month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import data_end_date, invoice_amounts
from audit.membership import among, isin
from audit.memory import one_object_per_text
from audit.policy import DEFAULTS
from detectors.wording import visit_noncompliance

# What each trace says on its own (combined as 1 − ∏(1 − c)); the size-dependent ones grow to the
# second figure (full at ``full_late_minutes`` / ``full_offsite_m``).
MISSED = 0.8                 # a planned visit not made (status missed, or never checked in)
PHONE_ELSEWHERE_MISSED = 0.5  # ... and the phone was elsewhere at the planned time
CANCELLED_NOT_MOVED = 0.5    # cancelled with no new visit planned for that customer
LATE = (0.5, 0.3)            # checked in late
OFFSITE = (0.6, 0.3)         # checked in outside the geofence
IMPOSSIBLE = 0.85            # no vehicle covers the distance from the previous check-in in the time
PINGS_ELSEWHERE = 0.75       # 'done', but the phone's positions during the visit were elsewhere
DONE_NO_CHECKIN = 0.6        # reported done with no check-in at all


def _planned_at(visits: pd.DataFrame) -> pd.Series:
    """planned_date + planned_time ('HH:MM' or 'HH:MM:SS'); NaT when the time is missing or unreadable."""
    if "planned_time" not in visits:
        return pd.Series(pd.NaT, index=visits.index, dtype="datetime64[ns]")
    # A few distinct times over many visits: each is read once (code -1, a missing time, takes the NaT);
    # factorized as they are, not as a Python object per visit.
    codes, distinct = pd.factorize(visits["planned_time"])
    text = pd.Series(distinct, dtype="object").map(
        lambda t: (t.strip() + ":00" if t.strip().count(":") == 1 else t.strip()) if isinstance(t, str) else None)
    offsets = pd.to_timedelta(text, errors="coerce").to_numpy()
    offsets = np.concatenate([offsets, np.array(["NaT"], dtype=offsets.dtype)])
    return pd.to_datetime(visits["planned_date"]) + pd.Series(offsets[codes], index=visits.index)


def _status_objects(status: pd.Series) -> pd.Series:
    """``status.astype(object)``, blanks as they are, with one object per distinct status (a few statuses
    over millions of visits; a string per row held 0.2 GB at 10M lines)."""
    values = np.array(one_object_per_text(status).to_numpy(), dtype="object")
    missing = status.isna().to_numpy()
    if missing.any():
        values[missing] = status[missing].astype("object").to_numpy()
    return pd.Series(values, index=status.index, dtype="object", name=status.name)


def _months(dates: pd.Series) -> pd.Series:
    """'YYYY-MM' of each date (missing: NaN), formatting each distinct date once."""
    codes, distinct = pd.factorize(dates)
    text = np.append(pd.DatetimeIndex(distinct).strftime("%Y-%m").to_numpy(dtype=object), np.nan)
    return pd.Series(text[codes], index=dates.index, dtype=object)


def _arrow_text(ids: pd.Series) -> pa.Array:
    """Text ids as one Arrow string type, taken from Arrow-backed text as it is (a Python string per id, made
    and dropped again, took a third of a second for the pings and visits at a million lines)."""
    values = ids.array if isinstance(ids.dtype, pd.StringDtype) else ids.astype(object).to_numpy()
    text = pa.array(values, type=pa.large_string())
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def _saturating_each(excess: np.ndarray, full_at: float) -> list[float]:
    """:func:`audit.common.saturating` of each value (the same arithmetic, without its per-call checks)."""
    return [1.0 - math.exp(-3.0 * e / full_at) if e > 0 else 0.0 for e in excess.tolist()]


class VisitNoncompliance(Detector):
    """Planned visits missed or late, check-ins off-site or impossible, phones elsewhere during visits.

    What it finds
    -------------
    Per visit, the traces of ``patterns.md``:

    - missed: status 'missed', a past visit still 'planned' with no check-in, a 'done' visit with no
      check-in, or a 'cancelled' visit with no new visit for that customer within ``reschedule_days``
      (a visit rescheduled and recorded as such is the legitimate look-alike);
    - late: check-in more than ``[visits] late_minutes`` after planned_date + planned_time;
    - off-site: check-in farther than ``[visits] geofence_m`` from the customer (haversine to
      customers.lat/lon);
    - impossible travel: from the salesperson's previous check-in that day, a speed above
      ``max_speed_kmh`` (blamed on the visit checked in farther from its own customer);
    - GPS pings elsewhere: during a 'done' visit (check-in to check-out) more than
      ``pings_away_share`` of the salesperson's pings are farther than the geofence from the customer
      (a ping at another visit the salesperson had open at the same moment is explained by that visit
      and not counted; one stray ping among several does not condemn a visit); for a missed visit,
      pings within ``ping_window_minutes`` of the planned time away from the customer support the
      finding.

    Money at risk: a missed or false visit does not itself take money; what is at stake is the business
    the visit should have served and watched (orders, collections, stock). It is taken as a documented
    fixed share, ``sales_share_at_risk`` (default 5 %, about a distributor's margin), of the customer's
    posted sales in the visit's month divided by the number of visits planned to that customer that
    month (the business one visit serves). A skipped visit to a big account thus ranks above one to a
    small shop, and visit findings usually rank below findings where money was taken directly.

    Why it matters
    --------------
    A salesperson who skips visits or reports visits never made (false reports) leaves customers
    unserved and unwatched: orders are lost, collections slip and warning signs go unseen; a made-up
    visit is also the cover story for a made-up customer.

    Flagged
    -------
    A visit planned for 10:00 checked in at 11:08 (68 minutes late, 30 allowed); a check-in 4.0 km from
    the shop; a visit 'done' while both phone positions recorded during it were 13 km away; a check-in
    60 km from the previous one six minutes after leaving it.

    Not flagged
    -----------
    A visit cancelled at the customer's request and recorded with a new visit two days later (checked
    in on time, on site); a check-in 40 m from the shop 12 minutes after the planned time.

    Evidence
    --------
    Planned and check-in times and the minutes late; distance of the check-in from the customer; the
    previous check-in, distance and speed for impossible travel; pings during the visit (or around the
    planned time), how many were away and their median distance; the replacement visit of a cancelled one; the month's
    sales to the customer and the share at risk; each trace's contribution in ``traces``.
    """

    code = "VIS-01"
    pattern = "visit_noncompliance"
    wording = visit_noncompliance.words
    entity_type = "visit"
    family = "visits"
    requires = {"visits": ("visit_id", "salesperson_id", "customer_id", "planned_date")}
    uses = {
        "visits": ("planned_time", "checkin_at", "checkout_at", "checkin_lat", "checkin_lon", "status", "notes"),
        "customers": ("lat", "lon"),
        "gps_pings": ("salesperson_id", "recorded_at", "lat", "lon"),
        "invoices": ("invoice_date", "customer_id"),
    }

    def __init__(self, late_minutes: float = DEFAULTS.visits.late_minutes,
                 geofence_m: float = DEFAULTS.visits.geofence_m, max_speed_kmh: float = 80.0,
                 reschedule_days: int = 14, ping_window_minutes: float = 30.0, full_late_minutes: float = 60.0,
                 full_offsite_m: float = 2000.0, sales_share_at_risk: float = 0.05, pings_away_share: float = 0.5):
        self.late_minutes = late_minutes
        self.geofence_m = geofence_m
        self.max_speed_kmh = max_speed_kmh
        self.reschedule_days = reschedule_days
        self.ping_window_minutes = ping_window_minutes
        self.full_late_minutes = full_late_minutes
        self.full_offsite_m = full_offsite_m
        self.sales_share_at_risk = sales_share_at_risk
        self.pings_away_share = pings_away_share

    @classmethod
    def params_from_policy(cls, policy):
        return {"late_minutes": policy.visits.late_minutes, "geofence_m": policy.visits.geofence_m}

    # ------------------------------------------------------------ relational part
    def _pings_during_visits(self, data) -> pd.DataFrame:
        """Pings of the salesperson between each visit's check-in and check-out, with ``shared``: how many
        visit windows the same ping (salesperson, time, position) falls in."""
        columns = ["visit_id", "salesperson_id", "recorded_at", "lat", "lon", "shared"]
        if not (data.has("gps_pings", ("salesperson_id", "recorded_at", "lat", "lon"))
                and data.has("visits", ("checkin_at", "checkout_at"))):
            return pd.DataFrame(columns=columns)
        pings = data.table("gps_pings")
        pings = pings.select("salesperson_id", "recorded_at", "lat", "lon", day=pings.recorded_at.date())
        visits = data.table("visits")
        visits = visits.filter(visits.checkin_at.notnull() & visits.checkout_at.notnull())
        visits = visits.select("visit_id", "salesperson_id", "checkin_at", "checkout_at", day=visits.checkin_at.date(),
                               one_day=visits.checkin_at.date() == visits.checkout_at.date())

        def during(chosen, same_day: bool):
            keys = [pings.salesperson_id == chosen.salesperson_id, pings.recorded_at >= chosen.checkin_at,
                    pings.recorded_at <= chosen.checkout_at]
            # A visit within one day meets only that day's pings: an equi-join on the day, not a range join
            # over all of the salesperson's pings (1e9 comparisons at a million invoice lines).
            joined = pings.join(chosen, [*keys, pings.day == chosen.day] if same_day else keys)
            return joined.select(chosen.visit_id, pings.salesperson_id, pings.recorded_at, pings.lat, pings.lon)

        found = during(visits.filter(visits.one_day), True).union(during(visits.filter(~visits.one_day), False))
        # The same ping inside the windows of several visits is told apart in _ping_traces.
        shared = ibis.window(group_by=[found.salesperson_id, found.recorded_at, found.lat, found.lon])
        return data.execute(found.mutate(shared=found.recorded_at.count().over(shared)))

    def _month_sales(self, data, visits: pd.DataFrame) -> pd.Series:
        """Posted net sales per (customer, YYYY-MM) for the customers and months of the visits."""
        if visits.empty or not data.has("invoice_lines"):
            return pd.Series(dtype=float)
        amounts = invoice_amounts(data)
        amounts = amounts.filter(among(amounts.customer_id, sorted(set(visits["customer_id"].dropna()))))
        frame = data.execute(amounts.select("customer_id", "invoice_date", "amount"))
        if frame.empty:
            return pd.Series(dtype=float)
        frame["month"] = _months(pd.to_datetime(frame["invoice_date"]))
        return frame.groupby(["customer_id", "month"])["amount"].sum()

    @staticmethod
    def _visits_per_month(v: pd.DataFrame) -> pd.Series:
        month = _months(v["planned_date"])
        return v.groupby([v["customer_id"], month]).size()

    # ------------------------------------------------------------ per-visit part
    def find(self, data) -> pd.DataFrame:
        # the columns read, as a frame of this component's own (not the table held for the run): let go
        # once ``v`` holds what is used, before the pings and traces (1.3 GB at 10M lines)
        visits = data.frame_columns("visits", ["visit_id", "salesperson_id", "customer_id", "planned_date",
                                               "planned_time", "checkin_at", "checkout_at", "checkin_lat",
                                               "checkin_lon", "status"])
        if visits.empty:
            return empty_findings()
        v = pd.DataFrame({"visit_id": visits["visit_id"], "salesperson_id": visits["salesperson_id"],
                          "customer_id": visits["customer_id"],
                          "planned_date": pd.to_datetime(visits["planned_date"])})
        for column in ("checkin_at", "checkout_at"):
            v[column] = pd.to_datetime(visits[column]) if column in visits else pd.NaT
        for column in ("checkin_lat", "checkin_lon"):
            v[column] = visits[column].astype(float) if column in visits else np.nan
        v["status"] = _status_objects(visits["status"]) if "status" in visits else None
        v["planned_at"] = _planned_at(visits)
        del visits
        if data.has("customers", ("lat", "lon")):
            places = data.frame_columns("customers", ["customer_id", "lat", "lon"]).set_index("customer_id")
            v = v.join(places.rename(columns={"lat": "customer_lat", "lon": "customer_lon"}), on="customer_id")
        else:
            v["customer_lat"], v["customer_lon"] = np.nan, np.nan
        v["offsite_m"] = haversine_m(v["checkin_lat"], v["checkin_lon"], v["customer_lat"], v["customer_lon"])
        v["late_min"] = (v["checkin_at"] - v["planned_at"]).dt.total_seconds() / 60.0
        # The audit's 'today': the period's end, else the latest date in the ledger or the visit plan.
        end = data.period_end if data.period_end is not None else max(
            d for d in (data_end_date(data), v["planned_date"].max(), v["checkin_at"].max().normalize()
                        if v["checkin_at"].notna().any() else pd.NaT) if pd.notna(d))
        traces = self._status_traces(v, end)
        traces = traces.join(self._travel_traces(v), how="outer")
        pings = self._pings_during_visits(data)
        traces = traces.join(self._ping_traces(v, pings), how="outer")
        missed_pings = self._pings_around_missed(data, v, traces)
        traces = traces.join(missed_pings, how="outer")
        late = v["late_min"] > self.late_minutes
        offsite = v["offsite_m"] > self.geofence_m
        extra = pd.DataFrame(index=v.index)
        extra.loc[late[late].index, "late"] = [LATE[0] + LATE[1] * s for s in _saturating_each(
            v.loc[late, "late_min"].to_numpy(dtype=float) - self.late_minutes, self.full_late_minutes)]
        extra.loc[offsite[offsite].index, "offsite"] = [OFFSITE[0] + OFFSITE[1] * s for s in _saturating_each(
            v.loc[offsite, "offsite_m"].to_numpy(dtype=float) - self.geofence_m, self.full_offsite_m)]
        traces = traces.join(extra, how="outer") if len(extra.columns) else traces
        traces = traces.dropna(how="all")
        self.n_visits_with_traces_ = len(traces)
        if traces.empty:
            return empty_findings()
        flagged = v.loc[traces.index]
        # looked up once per finding: as dicts, not through a MultiIndex each time
        sales = self._month_sales(data, flagged).to_dict()
        self._visit_counts_ = self._visits_per_month(v[isin(v["customer_id"], set(flagged["customer_id"]))]).to_dict()
        findings = [self._finding(v.loc[i], traces.loc[i].dropna().to_dict(), sales)
                    for i in flagged.sort_values("visit_id").index]
        return pd.DataFrame(findings)

    def _status_traces(self, v: pd.DataFrame, end) -> pd.DataFrame:
        status = v["status"].fillna("").astype(str).str.lower()
        no_checkin = v["checkin_at"].isna()
        out = pd.DataFrame(index=v.index)
        missed = (status == "missed") | ((status.isin(["planned", ""])) & no_checkin & (v["planned_date"] < end))
        out.loc[missed, "missed"] = MISSED
        out.loc[(status == "done") & no_checkin, "done_without_checkin"] = DONE_NO_CHECKIN
        cancelled = v[status == "cancelled"]
        if len(cancelled):
            later = v[status != "cancelled"][["salesperson_id", "customer_id", "planned_date", "visit_id"]]
            pairs = cancelled[["customer_id", "planned_date"]].reset_index().merge(
                later, on="customer_id", suffixes=("", "_new"))
            gap = (pairs["planned_date_new"] - pairs["planned_date"]).dt.days
            moved = pairs[(gap >= 0) & (gap <= self.reschedule_days)]
            self._replacements_ = moved.sort_values(["index", "planned_date_new", "visit_id"]).drop_duplicates(
                "index").set_index("index")["visit_id"]
            not_moved = cancelled.index.difference(self._replacements_.index)
            not_moved = not_moved[cancelled.loc[not_moved, "planned_date"] + pd.Timedelta(
                days=self.reschedule_days) < end]
            out.loc[not_moved, "cancelled_not_rescheduled"] = CANCELLED_NOT_MOVED
        else:
            self._replacements_ = pd.Series(dtype=object)
        return out

    def _travel_traces(self, v: pd.DataFrame) -> pd.DataFrame:
        """Impossible travel between consecutive check-ins of a salesperson on one day."""
        done = v.loc[v["checkin_at"].notna() & v["checkin_lat"].notna() & v["checkin_lon"].notna(),
                     ["visit_id", "salesperson_id", "checkin_at", "checkout_at", "checkin_lat", "checkin_lon"]]
        out = pd.DataFrame(index=v.index)
        self._legs_ = {}
        if len(done) < 2:
            return out
        # by salesperson, check-in and visit (visit ids are unique, so the order is fully determined)
        checkin = done["checkin_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        if all(isinstance(done[c].dtype, pd.StringDtype) and done[c].notna().all()
               for c in ("salesperson_id", "visit_id")):
            # Arrow sorts the text ids as they are (sorting them to factorize took a quarter of a second at
            # 1M lines)
            keys = pa.table({"salesperson": _arrow_text(done["salesperson_id"]), "checkin": checkin,
                             "visit": _arrow_text(done["visit_id"])})
            order = pc.sort_indices(keys, sort_keys=[(c, "ascending") for c in keys.column_names]).to_numpy()
        else:  # missing ids (first, as their code -1) or ids of other types: one lexsort of their sorted codes
            salesperson_code = pd.factorize(done["salesperson_id"], sort=True)[0]
            visit_code = pd.factorize(done["visit_id"], sort=True)[0]
            order = np.lexsort((visit_code, checkin, salesperson_code))
        done = done.iloc[order]
        previous = done.groupby("salesperson_id", sort=False)[
            ["checkin_at", "checkout_at", "checkin_lat", "checkin_lon"]].shift(1)
        same_day = previous["checkin_at"].notna() & (
            previous["checkin_at"].dt.normalize() == done["checkin_at"].dt.normalize())
        left = previous["checkout_at"].where(previous["checkout_at"].notna()
                                             & (previous["checkout_at"] <= done["checkin_at"]),
                                             previous["checkin_at"])
        metres = pd.Series(haversine_m(previous["checkin_lat"], previous["checkin_lon"], done["checkin_lat"],
                                       done["checkin_lon"]), index=done.index)
        hours = ((done["checkin_at"] - left).dt.total_seconds() / 3600.0).clip(lower=1 / 60)
        speed = metres / 1000.0 / hours
        impossible = same_day & (metres > self.geofence_m) & (speed > self.max_speed_kmh)
        for index in impossible[impossible].index:
            # The leg is impossible; blame the end of it checked in farther from its own customer.
            prev_index = done.index[done.index.get_loc(index) - 1]
            here = v.at[index, "offsite_m"]
            there = v.at[prev_index, "offsite_m"]
            # (the later one unless only the earlier was checked in away from its customer).
            earlier_off = pd.notna(there) and there > self.geofence_m and (pd.isna(here) or there > here)
            blamed = prev_index if earlier_off else index
            out.loc[blamed, "impossible_travel"] = IMPOSSIBLE
            self._legs_[blamed] = {"from_visit": v.at[prev_index, "visit_id"], "to_visit": v.at[index, "visit_id"],
                                   "distance_m": float(metres[index]), "hours": float(hours[index]),
                                   "speed_kmh": float(speed[index])}
        return out

    def _ping_traces(self, v: pd.DataFrame, pings: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=v.index)
        self._ping_distance_ = pd.DataFrame(columns=["pings", "away", "median_distance_m"])
        if pings.empty:
            return out
        # Each ping's visit as a row of ``v``, looked up by Arrow's hash kernel (mapping 400,000 ids
        # through pandas took a second); the summaries are grouped by that row number.
        row = pc.index_in(_arrow_text(pings["visit_id"]), value_set=_arrow_text(v["visit_id"]))
        row = row.to_numpy(zero_copy_only=False)
        found = ~pd.isna(row)
        row = np.where(found, row, 0).astype(np.int64)
        customer_lat, customer_lon = (v[c].to_numpy(dtype=float) for c in ("customer_lat", "customer_lon"))
        checkin_lat, checkin_lon = (v[c].to_numpy(dtype=float) for c in ("checkin_lat", "checkin_lon"))
        ref_lat = np.where(found, np.where(np.isnan(customer_lat), checkin_lat, customer_lat)[row], np.nan)
        ref_lon = np.where(found, np.where(np.isnan(customer_lon), checkin_lon, customer_lon)[row], np.nan)
        metres = pd.Series(haversine_m(pings["lat"], pings["lon"], ref_lat, ref_lon), index=pings.index)
        # A ping inside the windows of two visits of the salesperson at once is explained by the visit it
        # is at; it does not count against the other (the overlap itself is judged as travel).
        # (only pings in more than one window need grouping: the engine counted the windows)
        shared = pings["shared"].to_numpy() > 1
        at_some_visit = np.zeros(len(pings), dtype=bool)
        if shared.any():
            several = pings[shared]
            ping_key = several.groupby(["salesperson_id", "recorded_at", "lat", "lon"], sort=False,
                                       dropna=False).ngroup()
            at_some_visit[shared] = (metres[shared] <= self.geofence_m).groupby(ping_key).transform("any").to_numpy()
        counted = found & ~(shared & at_some_visit & (metres > self.geofence_m).to_numpy())
        kept = row[counted]
        distance = pd.Series(metres.to_numpy()[counted])
        away = (distance > self.geofence_m).groupby(kept)
        summary = pd.DataFrame({"pings": away.size(), "away": away.sum(),
                                "median_distance_m": distance.groupby(kept).median()})
        rows = summary.index.to_numpy()
        summary.index = pd.Index(v["visit_id"].to_numpy()[rows], name="visit_id")
        self._ping_distance_ = summary
        done = (v["status"].fillna("done").astype(str).str.lower() == "done").to_numpy()
        elsewhere = (summary["away"] > self.pings_away_share * summary["pings"]).to_numpy() & done[rows]
        out.loc[v.index[rows[elsewhere]], "pings_elsewhere"] = PINGS_ELSEWHERE
        return out

    def _pings_around_missed(self, data, v: pd.DataFrame, traces: pd.DataFrame) -> pd.DataFrame:
        """For missed visits: the phone's pings near the planned time, away from the customer."""
        out = pd.DataFrame(index=v.index)
        self._missed_pings_ = {}
        if "missed" not in traces or not data.has("gps_pings", ("salesperson_id", "recorded_at", "lat", "lon")):
            return out
        missed = v.loc[traces.index[traces["missed"].notna()]]
        missed = missed[missed["planned_at"].notna() & missed["customer_lat"].notna()]
        if missed.empty:
            return out
        # Only the missed visits' salespeople's pings are read, each salesperson's sorted by time once: a
        # visit's pings are a slice found by binary search (a scan of all of them per missed visit grew with
        # the square of the ledger).
        pings = data.frame_among("gps_pings", "salesperson_id", set(missed["salesperson_id"].dropna()))
        pings = pings[pings["recorded_at"].notna()].sort_values("recorded_at", kind="mergesort")
        by_salesperson = {salesperson: group for salesperson, group in pings.groupby("salesperson_id", sort=False)}
        window = pd.Timedelta(minutes=self.ping_window_minutes)
        for index, visit in missed.iterrows():
            own = by_salesperson.get(visit["salesperson_id"])
            if own is None:
                continue
            times = own["recorded_at"]
            near = own.iloc[times.searchsorted(visit["planned_at"] - window, "left"):
                            times.searchsorted(visit["planned_at"] + window, "right")]
            if near.empty:
                continue
            metres = float(np.median(haversine_m(near["lat"], near["lon"], visit["customer_lat"],
                                                 visit["customer_lon"])))
            self._missed_pings_[index] = {"pings": len(near), "median_distance_m": metres}
            if metres > self.geofence_m:
                out.loc[index, "phone_elsewhere_at_planned_time"] = PHONE_ELSEWHERE_MISSED
        return out

    def _finding(self, visit, traces: dict, sales: dict) -> dict:
        index = visit.name
        leg = self._legs_.get(index)
        score = combine_traces(traces.values())
        month = month_of(visit["planned_date"])
        month_sales = float(sales.get((visit["customer_id"], month), 0.0)) if len(sales) else 0.0
        planned_visits = max(int(self._visit_counts_.get((visit["customer_id"], month), 1)), 1)
        risk = month_sales / planned_visits * self.sales_share_at_risk
        replacement = self._replacements_.get(index) if len(self._replacements_) else None
        evidence = {
            "status": visit["status"], "planned_at": None if pd.isna(visit["planned_at"]) else
            f"{visit['planned_at']:%Y-%m-%d %H:%M}",
            "checkin_at": None if pd.isna(visit["checkin_at"]) else f"{visit['checkin_at']:%Y-%m-%d %H:%M:%S}",
            "checkout_at": None if pd.isna(visit["checkout_at"]) else f"{visit['checkout_at']:%Y-%m-%d %H:%M:%S}",
            "minutes_late": visit["late_min"], "late_minutes_allowed": self.late_minutes,
            "checkin_distance_m": visit["offsite_m"], "geofence_m": self.geofence_m, "travel": leg,
            "pings_during_visit": self._ping_distance_.loc[visit["visit_id"]].to_dict()
            if visit["visit_id"] in self._ping_distance_.index else None,
            "pings_at_planned_time": self._missed_pings_.get(index), "replacement_visit": replacement,
            "month_sales": month_sales, "visits_planned_in_month": planned_visits,
            "sales_share_at_risk": self.sales_share_at_risk,
            "traces": {k: round(float(c), 4) for k, c in traces.items()},
        }
        related_visits = [leg["from_visit"], leg["to_visit"]] if leg else []
        return {
            "entity_id": visit["visit_id"], "salesperson_id": visit["salesperson_id"],
            "customer_id": visit["customer_id"], "period": month, "score": score, "risk_amount": risk,
            "evidence": evidence,
            "facts": {"planned_date": visit["planned_date"], "reschedule_days": self.reschedule_days,
                      "max_speed_kmh": self.max_speed_kmh, "customer_located": pd.notna(visit["customer_lat"])},
            "related": related_ids(("visit", [visit["visit_id"]]), ("customer", [visit["customer_id"]]),
                                   ("salesperson", [visit["salesperson_id"]]), ("visit", related_visits)),
        }
