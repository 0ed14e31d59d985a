"""The simulated company's policy and its working-day calendar.

Dates inside the simulator are ``int`` day numbers (days since 1970-01-01, the same integers as
``datetime64[D]`` and Arrow ``date32``); timestamps are ``int`` seconds since 1970-01-01.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SECONDS_PER_DAY = 86_400
NULL = -1  # null id / date / timestamp in the simulator's integer columns


def day_number(iso: str) -> int:
    return int(np.datetime64(iso, "D").astype(np.int64))


def iso_date(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


PERIOD_START_DAY = day_number("2025-01-01")
PERIOD_END_DAY = day_number("2025-12-31")
# Year-end and half-year external confirmations.
CONFIRMATION_DAYS = (day_number("2025-06-30"), day_number("2025-12-31"))

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Iranian public holidays of 2025 (Gregorian dates) that fall on working days of a Friday-weekend week.
IRAN_HOLIDAYS_2025 = (
    "2025-01-14", "2025-01-28", "2025-02-10", "2025-03-20", "2025-03-22", "2025-03-23",
    "2025-03-24", "2025-03-31", "2025-04-01", "2025-04-02", "2025-06-04", "2025-06-05",
    "2025-06-07", "2025-06-15", "2025-07-05", "2025-07-06", "2025-08-14", "2025-08-23",
    "2025-08-25", "2025-09-02", "2025-09-10", "2025-11-24", "2025-12-22",
)


@dataclass(frozen=True)
class SimulatedPolicy:
    """The policy the simulated company works to; written out as ``policy.toml``."""

    currency: str = "IRR"
    calendar: str = "gregorian"
    weekend: tuple[str, ...] = ("Fri",)
    holidays: tuple[str, ...] = IRAN_HOLIDAYS_2025
    max_maturity_days: int = 90
    hand_in_days: int = 2
    manual_authority_salesperson_pct: float = 5.0
    manual_authority_manager_pct: float = 10.0
    cash_discount_within_days: int = 10
    cash_discount_pct: float = 2.0
    # (min_quantity, pct) per invoice line, ascending.
    volume_tiers: tuple[tuple[float, float], ...] = ((100.0, 3.0), (500.0, 6.0))
    price_tolerance_pct: float = 0.5
    geofence_m: float = 300.0
    late_minutes: float = 30.0
    ladder_days: dict = field(default_factory=lambda: {
        "reminder": 0, "letter_1": 15, "letter_2_stop_supply": 30, "letter_3": 60, "letter_4": 90,
        "agency": 120, "legal": 180,
    })
    approval_amount: float = 10_000_000_000.0

    def to_toml(self) -> str:
        """The policy in the contract's ``policy.toml`` layout."""
        def strings(values) -> str:
            return "[" + ", ".join(f'"{v}"' for v in values) + "]"

        tiers = ", ".join(f"{{ min_quantity = {q:g}, pct = {p:.1f} }}" for q, p in self.volume_tiers)
        ladder = ", ".join(f"{k} = {v}" for k, v in self.ladder_days.items())
        return "\n".join([
            "# Policy of the simulated distributor (written by simulator).",
            f'currency = "{self.currency}"',
            f'calendar = "{self.calendar}"',
            f"weekend = {strings(self.weekend)}",
            f"holidays = {strings(self.holidays)}",
            "",
            "[cheques]",
            f"max_maturity_days = {self.max_maturity_days}",
            f"hand_in_days = {self.hand_in_days}",
            "",
            "[discounts]",
            f"manual_authority_pct = {{ salesperson = {self.manual_authority_salesperson_pct:.1f}, "
            f"manager = {self.manual_authority_manager_pct:.1f} }}",
            f"cash_discount = {{ within_days = {self.cash_discount_within_days}, "
            f"pct = {self.cash_discount_pct:.1f} }}",
            f"volume_tiers = [ {tiers} ]",
            "",
            "[pricing]",
            f"tolerance_pct = {self.price_tolerance_pct}",
            "",
            "[visits]",
            f"geofence_m = {self.geofence_m:g}",
            f"late_minutes = {self.late_minutes:g}",
            "",
            "[collections]",
            f"ladder_days = {{ {ladder} }}",
            "",
            "[thresholds]",
            f"approval_amount = {self.approval_amount:.0f}",
            "",
        ])

    def tier_pct(self, quantity: np.ndarray) -> np.ndarray:
        """Volume-tier discount pct earned by each line quantity (0 below the first tier)."""
        pct = np.zeros(len(quantity))
        for min_quantity, tier in self.volume_tiers:
            pct = np.where(quantity >= min_quantity, tier, pct)
        return pct


class WorkCalendar:
    """Working days of the policy (weekend and holidays excluded) with seasonal sales weights."""

    # Relative sales by month: the pre-Nowruz rush in Feb-Mar, the Nowruz lull in April, a school-season
    # peak in September-October.
    MONTH_WEIGHTS = np.array([0.95, 1.15, 1.25, 0.75, 0.95, 0.95, 0.85, 0.9, 1.1, 1.1, 1.0, 1.05])
    # Saturday is the busiest day of the Iranian week; Thursday is a half day.
    WEEKDAY_WEIGHTS = {"Mon": 1.0, "Tue": 1.0, "Wed": 0.95, "Thu": 0.55, "Fri": 1.0, "Sat": 1.2,
                       "Sun": 1.1}

    def __init__(self, policy: SimulatedPolicy):
        self.weekmask = "".join("0" if d in policy.weekend else "1" for d in WEEKDAY_NAMES)
        self.holidays = np.array(sorted(policy.holidays), dtype="datetime64[D]")
        self.busdaycal = np.busdaycalendar(weekmask=self.weekmask, holidays=self.holidays)
        first, last = day_number("2024-07-01"), day_number("2026-06-30")
        all_days = np.arange(first, last + 1)
        self.is_working = np.is_busday(all_days.astype("datetime64[D]"), busdaycal=self.busdaycal)
        self._first = first
        self.working_days = all_days[self.is_working]
        in_period = (self.working_days >= PERIOD_START_DAY) & (self.working_days <= PERIOD_END_DAY)
        self.period_days = self.working_days[in_period]
        months = self.period_days.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12
        weekday = (self.period_days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        weekday_weight = np.array([self.WEEKDAY_WEIGHTS[d] for d in WEEKDAY_NAMES])[weekday]
        weight = self.MONTH_WEIGHTS[months] * weekday_weight
        # Cumulative sales weight over the period's working days, for inverse-CDF date sampling.
        self.period_cdf = np.cumsum(weight) / weight.sum()
        self.last_working_day = int(self.period_days[-1])

    def is_working_day(self, days) -> np.ndarray:
        return self.is_working[np.asarray(days) - self._first]

    def offset(self, days, n_working, roll: str = "forward") -> np.ndarray:
        """The working day ``n_working`` working days after ``days`` (rolled onto a working day first)."""
        out = np.busday_offset(np.asarray(days).astype("datetime64[D]"), n_working, roll=roll,
                               busdaycal=self.busdaycal)
        return out.astype(np.int64)

    def roll_forward(self, days) -> np.ndarray:
        return self.offset(days, 0, "forward")

    def roll_backward(self, days) -> np.ndarray:
        return self.offset(days, 0, "backward")

    def count(self, start_days, end_days) -> np.ndarray:
        """Working days in [start, end)."""
        return np.busday_count(np.asarray(start_days).astype("datetime64[D]"),
                               np.asarray(end_days).astype("datetime64[D]"), busdaycal=self.busdaycal)

    def sample_period_days(self, rng: np.random.Generator, lo_days, hi_days, ramp=None) -> np.ndarray:
        """Seasonal working days in [lo, hi] (inclusive, per row); ``ramp`` rows get rising intensity."""
        lo_days, hi_days = np.asarray(lo_days), np.asarray(hi_days)
        lo_idx = np.searchsorted(self.period_days, lo_days, side="left")
        hi_idx = np.searchsorted(self.period_days, hi_days, side="right") - 1
        hi_idx = np.maximum(hi_idx, lo_idx)
        cdf = self.period_cdf
        cdf_lo = np.where(lo_idx > 0, cdf[np.maximum(lo_idx - 1, 0)], 0.0)
        cdf_hi = cdf[np.minimum(hi_idx, len(cdf) - 1)]
        u = rng.random(len(lo_days))
        if ramp is not None:
            # max of two uniforms has density 2u: purchases grow through the window.
            u = np.where(ramp, np.maximum(u, rng.random(len(lo_days))), u)
        idx = np.searchsorted(cdf, cdf_lo + u * (cdf_hi - cdf_lo), side="left")
        idx = np.clip(idx, lo_idx, np.minimum(hi_idx, len(cdf) - 1))
        return self.period_days[idx].astype(np.int64)

    def holiday_eves(self) -> np.ndarray:
        """Period working days followed by at least three calendar days without work."""
        days = self.period_days
        gap = np.diff(days)
        return days[:-1][gap >= 4].astype(np.int64)
