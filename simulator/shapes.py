"""World shapes the simulator can build: who the company sells to, how many salespeople, under which policy.

``distributor`` (the default) is the FMCG distributor of the package docstring: many small shops (about
fifty invoice lines a customer a year), ~60 accounts a salesperson, the contract's policy with an Iranian
calendar. Its output for a seed never changes.

``key_accounts`` is a harder company: few large customers (about 300 invoice lines a customer a year, the
largest tenth buying most of the volume, a quarter of them wholesalers) looked after by many salespeople
(about seven accounts each, three in ten of them dishonest), under a policy away from every default: a Thursday-Friday weekend, company
closure days around Nowruz besides the public holidays, three working days to hand money in, cheques up to
120 days, a 3 % salesperson / 8 % manager discount authority, three volume tiers, a 15-day 1.5 % cash
discount, a 1 % price tolerance, a 500 m geofence, 20 minutes' lateness, a shorter collections ladder and
a 2 billion rial approval limit. In it each fraud instance leaves a random subset of its traces
(``fraud.TRACE_KEEP``) and honest records that look like another pattern's traces are planted
(``crosslooks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .workdays import IRAN_HOLIDAYS_2025, SimulatedPolicy


@dataclass(frozen=True)
class WorldShape:
    name: str
    lines_per_customer: int  # invoice lines a customer buys in the year, on average
    customers_per_salesperson: int
    min_customers: int
    min_salespeople: int
    size_sigma: float  # spread of the lognormal customer sizes (larger: more concentrated sales)
    wholesale_share: float
    chain_share: float  # share of customers that are branches of declared chains
    dishonest_share: float = 0.2  # of the active salespeople, how many commit fraud
    policy: SimulatedPolicy = field(default_factory=SimulatedPolicy)
    trace_subsets: bool = False  # each fraud instance keeps a random subset of its traces
    cross_lookalikes: bool = False  # honest records that look like another pattern's trace


def _key_accounts_holidays() -> tuple[str, ...]:
    """The public holidays that fall on the company's working days, plus its own Nowruz closure days."""
    import numpy as np

    closure = ("2025-03-19", "2025-03-25", "2025-03-26", "2025-03-29", "2025-03-30")
    days = sorted(set(IRAN_HOLIDAYS_2025) | set(closure))
    weekday = [(int(np.datetime64(d, "D").astype(np.int64)) + 3) % 7 for d in days]  # 0 = Monday
    return tuple(d for d, w in zip(days, weekday, strict=True) if w not in (3, 4))  # Thu, Fri are weekend


KEY_ACCOUNTS_POLICY = SimulatedPolicy(
    weekend=("Thu", "Fri"),
    holidays=_key_accounts_holidays(),
    max_maturity_days=120,
    hand_in_days=3,
    manual_authority_salesperson_pct=3.0,
    manual_authority_manager_pct=8.0,
    cash_discount_within_days=15,
    cash_discount_pct=1.5,
    volume_tiers=((50.0, 2.0), (250.0, 4.0), (1000.0, 7.0)),
    price_tolerance_pct=1.0,
    geofence_m=500.0,
    late_minutes=20.0,
    ladder_days={"reminder": 0, "letter_1": 10, "letter_2_stop_supply": 20, "letter_3": 45, "letter_4": 75,
                 "agency": 100, "legal": 150},
    approval_amount=2_000_000_000.0,
)

WORLDS: dict[str, WorldShape] = {
    "distributor": WorldShape("distributor", lines_per_customer=50, customers_per_salesperson=60,
                              min_customers=80, min_salespeople=8, size_sigma=1.1, wholesale_share=0.06,
                              chain_share=0.06),
    "key_accounts": WorldShape("key_accounts", lines_per_customer=300, customers_per_salesperson=7,
                               min_customers=70, min_salespeople=10, size_sigma=1.6, wholesale_share=0.25,
                               chain_share=0.08, dishonest_share=0.3, policy=KEY_ACCOUNTS_POLICY, trace_subsets=True,
                               cross_lookalikes=True),
}
DEFAULT_WORLD = "distributor"


def world_shape(name: str) -> WorldShape:
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; choose one of {sorted(WORLDS)}")
    return WORLDS[name]
