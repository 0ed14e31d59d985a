"""Planned customer visits with their check-ins, and the salespeople's GPS pings.

Each account is visited on a fixed cadence (monthly to weekly by size) in 90-minute slots from 08:30;
honest check-ins are on time (within 20 minutes) and within ~60 m of the customer, and the phone's ping
during a visit is at the customer, with one ping on the road between visits. Visits added later (moved at
a customer's request, or made up) take a slot of their own in the salesperson's day (:class:`SlotBook`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .arrays import isin_ints, order_by, unique_ints
from .context import SimContext
from .workdays import NULL, SECONDS_PER_DAY
from .world import KIND_GENUINE, KM_PER_DEGREE, point_at_distance

VISIT_STATUSES = ("planned", "done", "missed", "cancelled")
VISIT_PLANNED, VISIT_DONE, VISIT_MISSED, VISIT_CANCELLED = range(4)
OUTCOMES = ("order taken", "no order", "payment collected", "stock checked", "complaint logged")
NOTES = ("routine visit", "shelf check done", "new price list shared", "promotion explained",
         "cheque collected", "asked for a better price")
FIRST_SLOT_MINUTES = 8 * 60 + 30
SLOT_MINUTES = 90
SLOTS_PER_DAY = 6
LAST_SLOT = 9  # slots after the planned round, for visits added to a day: 17:30, 19:00, 20:30, 22:00


def generate_visits(ctx: SimContext) -> None:
    rng = ctx.rng("visits")
    cal, world, pool = ctx.calendar, ctx.world, ctx.pool
    cust = world.customers
    genuine = cust["kind"] == KIND_GENUINE
    step = np.round(20 / np.maximum(cust["visits_4w"], 1)).astype(np.int64)
    days = cal.period_days
    lo = np.searchsorted(days, cust["window_start"])
    hi = np.searchsorted(days, cust["visit_end"], side="right") - 1
    first = (rng.random(len(cust)) * step).astype(np.int64)
    count = np.where(genuine & (hi >= lo + first), (hi - lo - first) // step + 1, 0)
    vc = np.repeat(np.arange(len(cust)), count)
    k = np.arange(len(vc)) - np.repeat(np.cumsum(count) - count, count)
    pos = lo[vc] + first[vc] + k * step[vc] + rng.integers(-1, 2, len(vc))
    pos = np.clip(pos, lo[vc], hi[vc])
    planned_day = days[pos].astype(np.int64)
    sp = cust["assigned_salesperson_id"][vc]
    # Slots: random order within each salesperson's day; a day holds six visits at most.
    order = order_by(sp, planned_day, rng.integers(0, 1 << 16, len(vc)))
    vc, planned_day, sp = vc[order], planned_day[order], sp[order]
    new_day = np.r_[True, (sp[1:] != sp[:-1]) | (planned_day[1:] != planned_day[:-1])]
    run_start = np.maximum.accumulate(np.where(new_day, np.arange(len(vc)), 0))
    slot = np.arange(len(vc)) - run_start
    keep = slot < SLOTS_PER_DAY
    vc, planned_day, sp, slot = vc[keep], planned_day[keep], sp[keep], slot[keep]
    n = len(vc)
    planned_minutes = FIRST_SLOT_MINUTES + slot * SLOT_MINUTES + rng.choice([0, 0, 15], n)
    checkin = (planned_day * SECONDS_PER_DAY + planned_minutes * 60
               + np.clip(rng.normal(2, 6, n), -15, 20) * 60).astype(np.int64)
    checkout = checkin + (rng.uniform(12, 40, n) * 60).astype(np.int64)
    lat, lon = cust["lat"][vc], cust["lon"][vc]
    spread = 20 / 1000 / KM_PER_DEGREE
    outcome_codes = pool.codes(list(OUTCOMES))
    note_codes = pool.codes(list(NOTES))
    ids = ctx.next_ids("visit", n)
    ctx.append("visits", {
        "visit_id": ids, "salesperson_id": sp, "customer_id": vc, "planned_date": planned_day,
        "planned_time": planned_minutes.astype(np.int64), "checkin_at": checkin, "checkout_at": checkout,
        "checkin_lat": lat + rng.normal(0, spread, n), "checkin_lon": lon + rng.normal(0, spread, n),
        "status": np.full(n, VISIT_DONE, dtype=np.int64),
        "outcome": outcome_codes[rng.choice(len(OUTCOMES), n, p=[0.5, 0.25, 0.15, 0.07, 0.03])],
        "notes": note_codes[rng.integers(0, len(NOTES), n)],
    })
    ctx.flush()
    # Per visit: how far (km) from the check-in the phone really was during the visit (0 = at it).
    ctx.ping_offset_km = np.zeros(len(ctx.tables["visits"]))


class SlotBook:
    """The visit slots taken in some salespeople's days, for placing visits added one at a time.

    Slot k starts at ``FIRST_SLOT_MINUTES + k * SLOT_MINUTES``: 0-5 are the day's planned round, 6 and 7
    come after it. A visit's check-in and check-out stay inside its slot, so visits in different slots of
    one day never overlap. Cancelled visits free their slot.
    """

    def __init__(self, ctx: SimContext, salespeople, days):
        visits = ctx.tables["visits"]
        wanted = unique_ints(self._day_key(np.asarray(salespeople, dtype=np.int64),
                                           np.asarray(days, dtype=np.int64)))
        sp = visits["salesperson_id"].to_numpy()
        day = visits["planned_date"].to_numpy()
        mine = isin_ints(self._day_key(sp, day), wanted) & (visits["status"].to_numpy() != VISIT_CANCELLED)
        slots = (visits["planned_time"].to_numpy()[mine] - FIRST_SLOT_MINUTES) // SLOT_MINUTES
        self.taken = set(self._slot_key(sp[mine], day[mine], slots).tolist())

    @staticmethod
    def _day_key(salesperson, day):
        return salesperson * 100_000 + day

    @classmethod
    def _slot_key(cls, salesperson, day, slot):
        return cls._day_key(salesperson, day) * 16 + slot

    def take(self, rng: np.random.Generator, salesperson: int, day: int, after_round: bool = False) -> int:
        """Book a free slot of the salesperson's day and return its start (minutes after midnight): a free
        slot of the planned round picked at random (``after_round``: none), else the first after the round."""
        key = self._day_key(int(salesperson), int(day)) * 16
        free = [k for k in range(SLOTS_PER_DAY) if key + k not in self.taken] if not after_round else []
        if free:
            slot = int(free[int(rng.integers(0, len(free)))])
        else:
            later = [k for k in range(SLOTS_PER_DAY, LAST_SLOT + 1) if key + k not in self.taken]
            if not later:
                raise RuntimeError(f"no free visit slot left on day {day} for salesperson {salesperson}")
            slot = later[0]
        self.taken.add(key + slot)
        return FIRST_SLOT_MINUTES + slot * SLOT_MINUTES


def add_visit(ctx: SimContext, salesperson: int, customer: int, day: int, minutes: int, *, status: int,
              checkin_delay_min: float = 0.0, duration_min: float = 25.0, lat=None, lon=None,
              outcome: str = "order taken", notes: str = "routine visit", ping_offset_km: float = 0.0) -> int:
    cust = ctx.world.customers
    rng = ctx.rng("visits")
    visit_id = int(ctx.next_ids("visit", 1)[0])
    done = status == VISIT_DONE
    checkin = int(day * SECONDS_PER_DAY + (minutes + checkin_delay_min) * 60) if done else NULL
    spread = 20 / 1000 / KM_PER_DEGREE
    ctx.add_rows("visits", visit_id=visit_id, salesperson_id=salesperson, customer_id=customer,
                 planned_date=int(day), planned_time=int(minutes), checkin_at=checkin,
                 checkout_at=checkin + int(duration_min * 60) if done else NULL,
                 checkin_lat=(float(cust["lat"][customer] + rng.normal(0, spread)) if lat is None
                              else float(lat)) if done else np.nan,
                 checkin_lon=(float(cust["lon"][customer] + rng.normal(0, spread)) if lon is None
                              else float(lon)) if done else np.nan,
                 status=status, outcome=ctx.pool.code(outcome) if done else NULL, notes=ctx.pool.code(notes))
    ctx.extra_ping_offsets.append((visit_id, ping_offset_km))
    return visit_id


def generate_pings(ctx: SimContext) -> None:
    """A ping during each done visit, one on the road between visits, and pings elsewhere during missed
    visits."""
    rng = ctx.rng("visits")
    visits = ctx.tables["visits"]
    n = len(visits)
    offset_km = np.zeros(n)
    offset_km[:len(ctx.ping_offset_km)] = ctx.ping_offset_km
    for visit_id, km in ctx.extra_ping_offsets:
        offset_km[visit_id] = km
    status = visits["status"].to_numpy()
    sp = visits["salesperson_id"].to_numpy()
    checkin = visits["checkin_at"].to_numpy()
    checkout = visits["checkout_at"].to_numpy()
    lat, lon = visits["checkin_lat"].to_numpy(), visits["checkin_lon"].to_numpy()
    done = np.flatnonzero(status == VISIT_DONE)
    spread = 15 / 1000 / KM_PER_DEGREE
    parts_sp, parts_t, parts_lat, parts_lon = [], [], [], []
    t = checkin[done] + ((checkout[done] - checkin[done]) * rng.uniform(0.15, 0.85, len(done))).astype(np.int64)
    p_lat, p_lon = lat[done] + rng.normal(0, spread, len(done)), lon[done] + rng.normal(0, spread, len(done))
    away = offset_km[done] > 0
    far_lat, far_lon = point_at_distance(rng, lat[done], lon[done], offset_km[done])
    parts_sp.append(sp[done])
    parts_t.append(t)
    parts_lat.append(np.where(away, far_lat, p_lat))
    parts_lon.append(np.where(away, far_lon, p_lon))
    # On the road: halfway (in time and space) between consecutive done visits of one salesperson's day.
    order = done[order_by(sp[done], checkin[done])]
    same_day = (sp[order][1:] == sp[order][:-1]) & (checkin[order][1:] // SECONDS_PER_DAY
                                                   == checkin[order][:-1] // SECONDS_PER_DAY)
    a, b = order[:-1][same_day], order[1:][same_day]
    parts_sp.append(sp[a])
    parts_t.append((checkout[a] + checkin[b]) // 2)
    parts_lat.append((lat[a] + lat[b]) / 2)
    parts_lon.append((lon[a] + lon[b]) / 2)
    # Missed visits: the phone was somewhere else at the planned time.
    missed = np.flatnonzero((status == VISIT_MISSED) & (offset_km > 0))
    if len(missed):
        cust = ctx.world.customers
        c = visits["customer_id"].to_numpy()[missed]
        m_lat, m_lon = point_at_distance(rng, cust["lat"][c], cust["lon"][c],
                                         offset_km[missed])
        planned = (visits["planned_date"].to_numpy()[missed] * SECONDS_PER_DAY
                   + visits["planned_time"].to_numpy()[missed] * 60 + 600)
        parts_sp.append(sp[missed])
        parts_t.append(planned)
        parts_lat.append(m_lat)
        parts_lon.append(m_lon)
    p_sp = np.concatenate(parts_sp)
    p_t = np.concatenate(parts_t)
    p_lat, p_lon = np.concatenate(parts_lat), np.concatenate(parts_lon)
    order = order_by(p_sp, p_t)
    ctx.tables["gps_pings"] = pd.DataFrame({"salesperson_id": p_sp[order], "recorded_at": p_t[order],
                                            "lat": np.round(p_lat[order], 6), "lon": np.round(p_lon[order], 6)})
