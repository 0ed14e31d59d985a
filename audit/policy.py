"""The company's rules (``policy.toml``), exactly as the data contract's Policy section.

Every key is optional with the contract's default. An unknown key is an error that names it and
the closest valid key; a value of the wrong type names the type expected.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from rapidfuzz import process

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NonNegative = Annotated[float, Field(ge=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class PolicyError(ValueError):
    """The policy file cannot be used; the message says which key and what is expected."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChequePolicy(_Section):
    max_maturity_days: NonNegativeInt = 90
    hand_in_days: NonNegativeInt = 2


class ManualAuthority(_Section):
    salesperson: NonNegative = 5.0
    manager: NonNegative = 10.0


class CashDiscount(_Section):
    within_days: NonNegativeInt = 10
    pct: NonNegative = 2.0


class VolumeTier(_Section):
    min_quantity: NonNegative
    pct: NonNegative


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
    tolerance_pct: NonNegative = 0.5


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


class ShipmentPolicy(_Section):
    # Added to the contract's policy: an invoice dated this many days after the shipment still bills it.
    invoice_within_days: NonNegativeInt = 7


class ThresholdPolicy(_Section):
    approval_amount: NonNegative = 0


class Policy(_Section):
    currency: str = "IRR"
    calendar: Literal["gregorian", "jalali"] = "gregorian"
    weekend: tuple[str, ...] = ("Sat", "Sun")
    holidays: tuple[dt.date, ...] = ()
    cheques: ChequePolicy = ChequePolicy()
    discounts: DiscountPolicy = DiscountPolicy()
    pricing: PricingPolicy = PricingPolicy()
    visits: VisitPolicy = VisitPolicy()
    collections: CollectionsPolicy = CollectionsPolicy()
    shipments: ShipmentPolicy = ShipmentPolicy()
    thresholds: ThresholdPolicy = ThresholdPolicy()

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


def _explain(error: dict) -> str:
    location = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = location.rsplit(".", 1)[0] + "." if "." in location else ""
        candidates = [p for p in _key_paths(Policy) if p.startswith(parent)] or _key_paths(Policy)
        closest = process.extractOne(location, candidates)
        hint = f"; did you mean {closest[0]!r}?" if closest else ""
        return f"unknown key {location!r}{hint}"
    expected = error["msg"]
    return f"{location}: {expected} (got {error.get('input')!r})"


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
