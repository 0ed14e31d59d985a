"""The ledger as dated events (invoices, payments, cheques, visits, shipments, credit notes) and the
per-salesperson / per-customer timeline drawn from them.

Events whose record a finding rests on (the finding's entity or its ``related`` list) are ``flagged`` and
drawn outlined in red, so the timeline shows where in the history the findings sit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from audit import i18n
from audit.i18n import N_, t
from audit.result import RunResult
from reports.chart_text import chart_text, chart_texts

# kind -> (the entity type findings use in `related`, lane label, colour, marker symbol)
KINDS = {
    "invoice": ("invoice", N_("Invoices"), "#33658a", "circle"),
    "payment": ("receipt", N_("Payments"), "#2f9c5a", "diamond"),
    "cheque": ("cheque", N_("Cheques"), "#f6ae2d", "square"),
    "visit": ("visit", N_("Visits"), "#86bbd8", "triangle-up"),
    "shipment": ("shipment", N_("Shipments"), "#758e4f", "star"),
    "credit_note": ("credit_note", N_("Credit notes"), "#9b5de5", "x"),
}
# one record of each kind, in words (hover texts)
KIND_NAMES = {"invoice": N_("invoice"), "payment": N_("payment"), "cheque": N_("cheque"), "visit": N_("visit"),
              "shipment": N_("shipment"), "credit_note": N_("credit note")}
EVENT_COLUMNS = ["date", "kind", "record_id", "amount", "detail", "salesperson_id", "customer_id", "flagged"]
# Beyond this many events an entity's timeline shows weekly totals (plus every flagged record), so a busy
# salesperson's chart stays readable and the report stays small.
MAX_POINTS = 400
FLAG_COLOUR = "#d1495b"


def flagged_records(exceptions: pd.DataFrame) -> set[str]:
    """Every ``entity_type:entity_id`` a finding names, as its entity or in its ``related`` list."""
    found = set((exceptions["entity_type"].astype(str) + ":" + exceptions["entity_id"].astype(str)).tolist())
    for items in exceptions["related"]:
        if isinstance(items, list):
            found.update(str(item) for item in items)
    return found


def _col(frame: pd.DataFrame, name: str, default=None) -> pd.Series:
    if name in frame:
        return frame[name]
    return pd.Series(default, index=frame.index, dtype="object")


def _text(values: pd.Series) -> pd.Series:
    return values.astype("object").where(values.notna(), "").astype(str)


def _invoice_amounts(frames: dict) -> pd.Series:
    lines = frames.get("invoice_lines")
    if lines is None or lines.empty:
        return pd.Series(dtype=float)
    discount = _col(lines, "discount_pct", 0.0).astype(float).fillna(0.0)
    net = lines["quantity"].astype(float) * lines["unit_price"].astype(float) * (1 - discount / 100)
    return net.groupby(lines["invoice_id"]).sum()


def events(result: RunResult) -> pd.DataFrame:
    """One row per dated ledger record: date, kind, record_id, amount, detail, salesperson_id, customer_id,
    flagged. Tables the ledger lacks contribute nothing; rows without a date are left out."""
    frames = getattr(result.tables, "frames", None) or {}
    parts = []
    customers = frames.get("customers")
    assigned = (customers.drop_duplicates("customer_id").set_index("customer_id")["assigned_salesperson_id"]
                if customers is not None and "assigned_salesperson_id" in customers else pd.Series(dtype=str))
    invoices = frames.get("invoices")
    if invoices is not None and len(invoices):
        amounts = _invoice_amounts(frames)
        status = _text(_col(invoices, "status"))
        parts.append(pd.DataFrame({
            "date": invoices["invoice_date"], "kind": "invoice", "record_id": invoices["invoice_id"],
            "amount": invoices["invoice_id"].map(amounts).astype(float),
            "detail": "no " + _text(invoices["invoice_no"]) + np.where(status != "", " · " + status, ""),
            "salesperson_id": invoices["salesperson_id"], "customer_id": invoices["customer_id"]}))
    receipts = frames.get("receipts")
    if receipts is not None and len(receipts):
        parts.append(pd.DataFrame({
            "date": receipts["receipt_date"], "kind": "payment", "record_id": receipts["receipt_id"],
            "amount": receipts["amount"].astype(float),
            "detail": _text(receipts["method"]) + " · posted " + _text(receipts["posted_date"].dt.date),
            "salesperson_id": _col(receipts, "collected_by"), "customer_id": receipts["customer_id"]}))
    cheques = frames.get("cheques")
    if cheques is not None and len(cheques):
        parts.append(pd.DataFrame({
            "date": cheques["received_date"], "kind": "cheque", "record_id": cheques["cheque_id"],
            "amount": cheques["amount"].astype(float),
            "detail": "no " + _text(cheques["cheque_no"]) + " · due " + _text(cheques["due_date"].dt.date)
                      + " · " + _text(_col(cheques, "status")),
            "salesperson_id": _col(cheques, "collected_by"), "customer_id": cheques["customer_id"]}))
    visits = frames.get("visits")
    if visits is not None and len(visits):
        when = visits["planned_date"]
        if "checkin_at" in visits:
            when = pd.to_datetime(visits["checkin_at"]).fillna(pd.to_datetime(when))
        parts.append(pd.DataFrame({
            "date": when, "kind": "visit", "record_id": visits["visit_id"], "amount": np.nan,
            "detail": _text(_col(visits, "status")) + " " + _text(_col(visits, "outcome")),
            "salesperson_id": visits["salesperson_id"], "customer_id": visits["customer_id"]}))
    shipments = frames.get("shipments")
    if shipments is not None and len(shipments):
        # A shipment has no salesperson of its own: its invoice's, else the customer's assigned one.
        by_invoice = (invoices.drop_duplicates("invoice_id").set_index("invoice_id")["salesperson_id"]
                      if invoices is not None else pd.Series(dtype=str))
        invoice_id = _col(shipments, "invoice_id")
        seller = invoice_id.map(by_invoice).fillna(shipments["customer_id"].map(assigned))
        parts.append(pd.DataFrame({
            "date": shipments["ship_date"], "kind": "shipment", "record_id": shipments["shipment_id"],
            "amount": np.nan, "detail": "invoice " + _text(invoice_id).replace("", "none"),
            "salesperson_id": seller, "customer_id": shipments["customer_id"]}))
    credits = frames.get("credit_notes")
    if credits is not None and len(credits):
        parts.append(pd.DataFrame({
            "date": credits["credit_date"], "kind": "credit_note", "record_id": credits["credit_note_id"],
            "amount": credits["amount"].astype(float), "detail": _text(_col(credits, "reason")),
            "salesperson_id": credits["customer_id"].map(assigned), "customer_id": credits["customer_id"]}))
    if not parts:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    combined = pd.concat([p.astype({"record_id": "object", "salesperson_id": "object", "customer_id": "object"})
                          for p in parts], ignore_index=True)
    combined["date"] = pd.to_datetime(combined["date"])
    combined = combined[combined["date"].notna()]
    flagged = flagged_records(result.exceptions)
    keys = combined["kind"].map(lambda k: KINDS[k][0]) + ":" + combined["record_id"].astype(str)
    combined["flagged"] = keys.isin(flagged)
    return combined.sort_values(["date", "kind", "record_id"], ignore_index=True)[EVENT_COLUMNS]


def _sizes(amounts, top: float) -> list[float]:
    # Area-true marker sizes: the square root of the amount; blank amounts drawn small.
    return [8.0 if not math.isfinite(a) or top <= 0 else round(6 + 22 * math.sqrt(max(a, 0.0) / top), 1)
            for a in amounts]


def _money(value: float) -> str:
    return i18n.format_money(value) if math.isfinite(value) else ""


def _day(iso) -> str:
    """An ISO day of a hover text in the reader's calendar, with the ISO day beside a Jalali one."""
    if not isinstance(iso, str) or not iso:
        return ""
    shown = i18n.format_date(iso)
    return shown if shown == iso else f"{shown} ({iso})"


def _iso_text(dates: pd.Series, unit: str) -> np.ndarray:
    """``YYYY-MM-DD`` (unit "D") or ``YYYY-MM-DD HH:MM`` (unit "m") of each date, NaN where there is none:
    what ``dt.strftime`` gives, many times faster on the hundreds of thousands of ledger events."""
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)  # the wall-clock time, as strftime prints it
    values = dates.to_numpy(dtype="datetime64[ns]")
    text = np.datetime_as_string(values, unit=unit)
    if unit == "m" and len(text):  # np.char.replace fails on an empty array
        text = np.char.replace(text, "T", " ")
    text = text.astype(object)
    text[np.isnat(values)] = np.nan
    return text


class EventTable:
    """The events as column arrays, so that hundreds of timelines are cut from one table quickly (a
    DataFrame filter per entity and kind costs far more than the drawing)."""

    def __init__(self, frame: pd.DataFrame):
        dates = pd.to_datetime(frame["date"])
        self.kind = frame["kind"].to_numpy(dtype=object)
        self.record = frame["record_id"].astype(str).to_numpy(dtype=object)
        self.amount = pd.to_numeric(frame["amount"], errors="coerce").astype(float).to_numpy()
        self.detail = frame["detail"].fillna("").astype(str).to_numpy(dtype=object)
        self.flagged = frame["flagged"].fillna(False).astype(bool).to_numpy()
        self.stamp = _iso_text(dates, "m")
        self.day = _iso_text(dates, "D")
        # Monday of each event's week
        self.week = _iso_text(dates.dt.normalize() - pd.to_timedelta(dates.dt.day_of_week, unit="D"), "D")

    def figure(self, positions=None, title: str = "", max_points: int = MAX_POINTS) -> dict:
        """The timeline of the events at ``positions`` (all when None); see :func:`timeline_figure`."""
        index = np.arange(len(self.kind)) if positions is None else np.asarray(positions, dtype=int)
        aggregated = len(index) > max_points
        amounts = self.amount[index]
        top = float(np.nanmax(amounts)) if len(index) and np.isfinite(amounts).any() else 0.0
        traces, lanes = [], []
        kinds = self.kind[index]
        in_finding = " · " + t("IN A FINDING")
        for kind, (_, label, colour, symbol) in KINDS.items():
            part = index[kinds == kind]
            if not len(part):
                continue
            label = t(label)  # the lane's name in the report's language
            lanes.append(label)
            if aggregated:
                counts: dict[str, int] = {}
                sums: dict[str, float] = {}
                for week, amount in zip(self.week[part], self.amount[part], strict=True):
                    counts[week] = counts.get(week, 0) + 1
                    sums[week] = sums.get(week, 0.0) + (amount if math.isfinite(amount) else 0.0)
                weeks = sorted(counts)
                totals = [sums[w] for w in weeks]
                text = [chart_text(t("week of %(week)s: %(count)s %(kind)s", week=_day(w), count=counts[w],
                                     kind=label.lower())
                                   + (", " + t("total %(amount)s", amount=_money(total)) if total else ""))
                        for w, total in zip(weeks, totals, strict=True)]
                traces.append({"type": "scatter", "mode": "markers",
                               "name": chart_text(t("%(kind)s (weekly)", kind=label)),
                               "x": weeks, "y": [chart_text(label)] * len(weeks), "text": text, "hoverinfo": "text",
                               "marker": {"color": colour, "symbol": symbol, "opacity": 0.7,
                                          "size": _sizes(totals, max(totals))}})
                continue
            flags = self.flagged[part]
            text = [chart_text(f"{t(KIND_NAMES[kind])} {r} · {_day(d)}" + (f" · {_money(a)}" if math.isfinite(a) else "")
                               + (f" · {detail}" if detail.strip() else "") + (in_finding if f else ""))
                    for r, d, a, detail, f in zip(self.record[part], self.day[part], self.amount[part],
                                             self.detail[part], flags, strict=True)]
            traces.append({"type": "scatter", "mode": "markers", "name": chart_text(label),
                           "x": self.stamp[part].tolist(), "y": [chart_text(label)] * len(part), "text": text, "hoverinfo": "text",
                           "marker": {"color": colour, "symbol": symbol, "opacity": 0.85,
                                      "size": _sizes(self.amount[part], top),
                                      "line": {"color": [FLAG_COLOUR if f else "rgba(0,0,0,0)" for f in flags],
                                               "width": [3 if f else 0 for f in flags]}}})
        flagged = index[self.flagged[index]]
        if aggregated and len(flagged):
            traces.append({"type": "scatter", "mode": "markers", "name": t("in a finding"),
                           "x": self.stamp[flagged].tolist(),
                           "y": [chart_text(t(KINDS[k][1])) for k in self.kind[flagged]],
                           "text": [chart_text(f"{t(KIND_NAMES[k])} {r} · {_day(d)}"
                                               + (f" · {_money(a)}" if math.isfinite(a) else "") + in_finding)
                                    for k, r, d, a in zip(self.kind[flagged], self.record[flagged],
                                                          self.day[flagged], self.amount[flagged], strict=True)],
                           "hoverinfo": "text",
                           "marker": {"color": "rgba(0,0,0,0)", "size": 14,
                                      "line": {"color": FLAG_COLOUR, "width": 3}}})
        layout = {
            "height": 90 + 48 * max(len(lanes), 1),
            "margin": {"l": 100, "r": 20, "t": 40 if title else 20, "b": 40},
            "xaxis": {"type": "date"},
            "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": chart_texts(lanes[::-1]),
                      "automargin": True},
            "showlegend": True, "legend": {"orientation": "h", "y": -0.25}, "hovermode": "closest",
            "plot_bgcolor": "#fafafa"}
        if title:
            layout["title"] = {"text": chart_text(title), "font": {"size": 14}}
        return {"data": traces, "layout": layout}


def timeline_figure(frame: pd.DataFrame, title: str = "", max_points: int = MAX_POINTS) -> dict:
    """A plotly figure (as a dict) of ``frame`` (rows of :func:`events`) with one lane per kind: a marker
    per record, sized by amount, records in a finding outlined in red.

    With more than ``max_points`` events the markers are weekly totals per kind; flagged records are
    then drawn one by one on top.
    """
    return EventTable(frame).figure(None, title, max_points)
