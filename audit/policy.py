"""The company's rules (``policy.toml``), exactly as the data contract's Policy section.

Every key is optional with the contract's default. An unknown key (anywhere, collection-ladder steps
included) is an error that names it and the closest valid key; a value of the wrong type (``true`` for
a number of days, ``"90"`` for a number) names the type expected; a percentage above 100 is refused.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from rapidfuzz import process

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Strict: TOML's `true` or "90" is not a number (pydantic would otherwise read them as 1 and 90).
NonNegative = Annotated[float, Field(ge=0, strict=True)]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
Percent = Annotated[float, Field(ge=0, le=100, strict=True)]
# Steps of the contract's collection ladder; a policy may leave steps out, never invent them.
LADDER_STEPS = ("reminder", "letter_1", "letter_2_stop_supply", "letter_3", "letter_4", "agency", "legal")
# Dates the tool can compute with (pandas' nanosecond range is 1677-2262; days are added to them).
SAFE_DATES = (dt.date(1900, 1, 1), dt.date(2199, 12, 31))


def _a_date(value):
    # A TOML date or an ISO string; pydantic would read a number as seconds since 1970.
    if isinstance(value, (bool, int, float)):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_a_date)]


class PolicyError(ValueError):
    """The policy file cannot be used; the message says which key and what is expected."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChequePolicy(_Section):
    max_maturity_days: NonNegativeInt = 90
    hand_in_days: NonNegativeInt = 2


class ManualAuthority(_Section):
    salesperson: Percent = 5.0
    manager: Percent = 10.0


class CashDiscount(_Section):
    within_days: NonNegativeInt = 10
    pct: Percent = 2.0


class VolumeTier(_Section):
    min_quantity: NonNegative
    pct: Percent


class DiscountPolicy(_Section):
    manual_authority_pct: ManualAuthority = ManualAuthority()
    cash_discount: CashDiscount = CashDiscount()
    volume_tiers: tuple[VolumeTier, ...] = (
        VolumeTier(min_quantity=100, pct=3.0), VolumeTier(min_quantity=500, pct=6.0),
    )

    @field_validator("volume_tiers")
    @classmethod
    def _tiers_sorted(cls, tiers):
        return tuple(sorted(tiers, key=lambda t: t.min_quantity))

    def volume_tier_pct(self, quantity: float) -> float:
        """The volume discount a line of ``quantity`` earns (0 below the first tier)."""
        earned = 0.0
        for tier in self.volume_tiers:
            if quantity >= tier.min_quantity:
                earned = tier.pct
        return earned


class PricingPolicy(_Section):
    tolerance_pct: Percent = 0.5


class VisitPolicy(_Section):
    geofence_m: NonNegative = 300
    late_minutes: NonNegative = 30


class CollectionsPolicy(_Section):
    ladder_days: dict[str, NonNegativeInt] = Field(default_factory=lambda: {
        "reminder": 0, "letter_1": 15, "letter_2_stop_supply": 30, "letter_3": 60, "letter_4": 90,
        "agency": 120, "legal": 180,
    })
    # Added to the contract's policy: the payment terms of a customer whose own are not recorded.
    default_terms_days: NonNegativeInt = 30

    @field_validator("ladder_days")
    @classmethod
    def _known_steps(cls, ladder):
        for step in ladder:
            if step not in LADDER_STEPS:
                closest = process.extractOne(step, LADDER_STEPS)
                raise ValueError(f"unknown collection-ladder step {step!r}; did you mean {closest[0]!r}? "
                                 f"The steps are {', '.join(LADDER_STEPS)}")
        return ladder


class ShipmentPolicy(_Section):
    # Added to the contract's policy: an invoice dated this many days after the shipment still bills it.
    invoice_within_days: NonNegativeInt = 7


class OffDayPolicy(_Section):
    # Added to the contract's policy: records dated on the weekend or a holiday are routine (the company
    # works those days, nothing is flagged) when at least routine_count of them make routine_pct of all.
    routine_pct: Percent = 2.0
    routine_count: NonNegativeInt = 10


class ThresholdPolicy(_Section):
    approval_amount: NonNegative = 0


class DataPolicy(_Section):
    """Added to the contract's policy: what input values are plausible, and how much may be set aside."""

    # A number beyond this (either sign) is set aside as absurd; rial financial statements stay under it.
    max_abs_number: Annotated[float, Field(gt=0, strict=True)] = 1e18
    # Dates outside [earliest_date, latest_date] are set aside; no latest_date = the run date plus a year.
    earliest_date: IsoDate = dt.date(1990, 1, 1)
    latest_date: IsoDate | None = None
    # A table that loses more than this share of its rows to set-aside stops the run before any detector.
    max_set_aside_pct: Percent = 5.0

    @model_validator(mode="after")
    def _window(self):
        low, high = SAFE_DATES
        for name in ("earliest_date", "latest_date"):
            day = getattr(self, name)
            if day is not None and not low <= day <= high:
                raise ValueError(f"data.{name} = {day.isoformat()} is outside the dates the tool can compute "
                                 f"with ({low.isoformat()} to {high.isoformat()})")
        if self.latest_date is not None and self.latest_date <= self.earliest_date:
            raise ValueError(f"data.latest_date ({self.latest_date.isoformat()}) must come after "
                             f"data.earliest_date ({self.earliest_date.isoformat()})")
        return self

    def date_window(self, run_date: dt.date | None = None) -> tuple[dt.date, dt.date]:
        """The plausible dates, both ends included."""
        if self.latest_date is not None:
            return self.earliest_date, self.latest_date
        run_date = run_date or dt.date.today()
        try:
            latest = run_date.replace(year=run_date.year + 1)
        except ValueError:  # 29 February
            latest = run_date.replace(year=run_date.year + 1, day=28)
        return self.earliest_date, min(latest, SAFE_DATES[1])


class Policy(_Section):
    currency: str = "IRR"
    calendar: Literal["gregorian", "jalali"] = "gregorian"
    # Added to the contract's policy: the language of the report, the workbook and the console (en English,
    # fa Persian, zh Chinese); `audit run --lang` overrides it. Presentation only: data files stay as they are.
    language: Literal["en", "fa", "zh"] = "en"
    weekend: tuple[str, ...] = ("Sat", "Sun")
    holidays: tuple[IsoDate, ...] = ()
    cheques: ChequePolicy = ChequePolicy()
    discounts: DiscountPolicy = DiscountPolicy()
    pricing: PricingPolicy = PricingPolicy()
    visits: VisitPolicy = VisitPolicy()
    collections: CollectionsPolicy = CollectionsPolicy()
    shipments: ShipmentPolicy = ShipmentPolicy()
    off_days: OffDayPolicy = OffDayPolicy()
    thresholds: ThresholdPolicy = ThresholdPolicy()
    data: DataPolicy = DataPolicy()

    @field_validator("weekend")
    @classmethod
    def _known_weekdays(cls, days):
        for day in days:
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday; use three-letter English names {WEEKDAYS}")
        return tuple(days)

    @field_validator("holidays")
    @classmethod
    def _gregorian_holidays(cls, days):
        for day in days:
            if day.year < 1700:
                raise ValueError(f"{day.isoformat()} looks like a Jalali date; policy holidays are ISO "
                                 "(Gregorian) dates even when calendar = 'jalali'")
        return days

    @model_validator(mode="after")
    def _holidays_sorted(self):
        object.__setattr__(self, "holidays", tuple(sorted(set(self.holidays))))
        return self

    @property
    def weekmask(self) -> str:
        """numpy busday weekmask: Mon..Sun, 1 = working day."""
        return "".join("0" if d in self.weekend else "1" for d in WEEKDAYS)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(_key_paths(annotation, path + "."))
    return paths


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as TOML writes it
    return repr(value)


def _default_of(location: str):
    """The default value at a dotted key path (None when there is none, e.g. inside a list)."""
    value: Any = Policy()
    for part in location.split("."):
        if isinstance(value, BaseModel) and part in type(value).model_fields:
            value = getattr(value, part)
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value if isinstance(value, (int, float, str, dt.date)) else None


def _explain(error: dict) -> str:
    location = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = location.rsplit(".", 1)[0] + "." if "." in location else ""
        candidates = [p for p in _key_paths(Policy) if p.startswith(parent)] or _key_paths(Policy)
        closest = process.extractOne(location, candidates)
        hint = f"; did you mean {closest[0]!r}?" if closest else ""
        return f"unknown key {location!r}{hint}"
    got = _shown(error.get("input"))
    key = location.rsplit(".", 1)[-1]
    default = _default_of(location)
    example = f", e.g. {key} = {_shown(default) if not isinstance(default, dt.date) else default}" \
        if default is not None else ""
    kind = error["type"]
    if kind.startswith("int_"):
        return f"{location} must be a whole number (an integer, not quoted) (got {got}){example}"
    if kind.startswith("float_"):
        return f"{location} must be a number (not quoted, not true/false) (got {got}){example}"
    if kind == "less_than_equal" and error.get("ctx", {}).get("le") == 100:
        return f"{location} is a percentage: at most 100 (got {got}){example}"
    if kind.startswith("date_") or kind == "value_error" and "YYYY-MM-DD" in error["msg"]:
        return f"{location} must be a date written YYYY-MM-DD (got {got})"
    expected = error["msg"].removeprefix("Value error, ")
    said = expected if expected.startswith(location + ".") else f"{location}: {expected}"
    return said if isinstance(error.get("input"), (dict, list, tuple)) else f"{said} (got {got})"


# The contract's defaults: components take their policy-set parameters' defaults from here, so a default
# lives in one place (the policy), not again in each __init__.
DEFAULTS = Policy()


def policy_from_dict(values: dict[str, Any], source: str = "policy") -> Policy:
    try:
        return Policy.model_validate(values)
    except ValidationError as exc:
        problems = [_explain(e) for e in exc.errors()]
        raise PolicyError(f"{source}: " + "; ".join(problems)) from None


def load_policy(path: str | Path | None) -> Policy:
    """Read ``policy.toml``; ``None`` gives the contract's defaults."""
    if path is None:
        return Policy()
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file {path} does not exist")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path} is not valid TOML: {exc}") from None
    return policy_from_dict(values, source=str(path))


def policy_beside(data) -> Path | None:
    """The ``policy.toml`` inside a data folder, if ``data`` is a local folder that has one."""
    if not isinstance(data, (str, Path)) or "://" in str(data):
        return None
    candidate = Path(data) / "policy.toml"
    return candidate if candidate.is_file() else None
