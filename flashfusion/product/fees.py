"""Channel fee schedules: versioned data files, loaded, validated and evaluated exactly.

Each sales channel (Etsy, Shopify, Amazon, TikTok Shop, and `direct` for the creator's own store)
has one JSON file per version in `flashfusion/product/fees/`, named `<channel>-<YYYY-MM>.json`.
A file lists its fee *components* (a listing fee, a percentage of the order, a per-order fixed
charge, a referral fee with a per-item minimum, tiers by price…) and the *sources* every figure
was taken from. A component that no source gives is kept with `verified: false` and no figures,
so a price computed without it says so instead of silently leaving a cost out. `SOURCES.md`
beside the data explains every figure and its date.

Money is integer minor units (cents) and rates are integer basis points (650 = 6.5%). Each
component is rounded half-up to the minor unit on its own, as the platforms charge it.

The module `fees.py` and the data directory `fees/` share a name on purpose (the brief fixes the
directory name); the directory has no `__init__.py`, so `flashfusion.product.fees` is this module.
"""

import datetime as dt
import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Base = Literal["item", "item_plus_shipping"]
Charge = Literal["per_order", "per_listing", "per_item"]
TierMode = Literal["whole", "marginal"]

# Every rate is a percentage of what the buyer pays, so 100% or more cannot be a real fee.
BPS = 10_000
_FILE_NAME = re.compile(r"^(?P<channel>[a-z][a-z_]*)-(?P<version>\d{4}-\d{2})\.json$")


class UnknownChannel(LookupError):
    """No fee schedule exists for this channel; the message lists the known ones."""

    def __init__(self, channel: str, known: list[str]) -> None:
        close = difflib.get_close_matches(channel, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(
            f"channel: no fee schedule for '{channel}'.{hint} Known channels: {', '.join(known)}."
        )
        self.channel = channel


class UnknownFeeVersion(LookupError):
    """The channel exists but not in this version; the message lists the versions there are."""

    def __init__(self, channel: str, version: str, known: list[str]) -> None:
        super().__init__(
            f"version: the {channel} fee schedule has no version '{version}'; "
            f"available versions: {', '.join(known)}."
        )
        self.channel = channel
        self.version = version


class FeeScheduleError(ValueError):
    """A bundled fee file breaks its own rules (a data bug, caught by the tests)."""


class FeeOptionError(ValueError):
    """An option choice (Amazon category, Shopify plan…) is missing, unknown or not allowed."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Source(_Data):
    """Where figures come from: the platform page, its date, and how we read it."""

    id: str = Field(description="Key that components use to cite this source.")
    title: str = Field(description="The page's title and section.")
    url: str = Field(description="The platform's own page the figures are from.")
    date: dt.date | None = Field(description="The date the source states, if any (see date_kind).")
    date_kind: Literal["page_updated", "retrieved", "effective", "published"] = Field(
        description="What `date` is: the page's own 'last updated', the day it was read, "
        "the day the fee took effect, or the day an article was published."
    )
    read_via: str = Field(description="How the text was read (a copy, a transcription…).")
    quote: str | None = Field(default=None, description="The page's words the figures rest on.")


class Tier(_Data):
    """One price band of a tiered rate; `up_to` is inclusive, `None` means no upper bound."""

    up_to: int | None = Field(description="Upper bound of the base, minor units, inclusive.")
    rate_bps: int = Field(ge=0, lt=BPS, description="Rate in basis points for this band.")


class FeeOption(_Data):
    """A choice that selects components: Amazon category, Shopify plan, bank country…"""

    label: str = Field(description="Shown to the creator.")
    choices: tuple[str, ...] = Field(min_length=1, description="Allowed values.")
    default: str | None = Field(description="Used when no choice is made; `None`: must choose.")
    note: str | None = Field(default=None, description="What the choice means.")

    @model_validator(mode="after")
    def _default_is_a_choice(self) -> "FeeOption":
        if self.default is not None and self.default not in self.choices:
            raise ValueError(f"default '{self.default}' is not one of {list(self.choices)}")
        return self


class FeeComponent(_Data):
    """One fee a channel charges on a sale.

    Amount = max(minimum, min(maximum, round_half_up(rate × base) + fixed)), where the rate is
    `rate_bps`, or the tier the base falls in (`whole`: the whole base at that tier's rate), or
    each tier's rate on the portion of the base inside it (`marginal`).
    """

    name: str = Field(description="Stable key shown in fee lines, e.g. `transaction_fee`.")
    label: str = Field(description="Shown to the creator.")
    charge: Charge = Field(
        description="What the platform charges it per. A price line is one unit in one order, "
        "so each applies once; it is recorded for when orders hold several units."
    )
    base: Base | None = Field(
        default=None,
        description="What a percentage is of: the item price, or item price plus the shipping "
        "the buyer pays.",
    )
    rate_bps: int | None = Field(default=None, ge=0, lt=BPS, description="Flat rate, bps.")
    tiers: tuple[Tier, ...] | None = Field(default=None, description="Rate by price band.")
    tier_mode: TierMode | None = Field(default=None, description="How tiers apply.")
    fixed: int | None = Field(default=None, ge=0, description="Fixed part, minor units.")
    minimum: int | None = Field(default=None, ge=0, description="Per-item minimum, minor units.")
    maximum: int | None = Field(default=None, ge=0, description="Cap, minor units.")
    when: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Applies only when every option named has one of these."
    )
    verified: bool = Field(description="False: no source gives this figure; it is left empty.")
    sources: tuple[str, ...] = Field(description="Ids of the sources that give the figures.")
    note: str | None = Field(default=None, description="What the source says and what we assume.")

    @model_validator(mode="after")
    def _consistent(self) -> "FeeComponent":
        figures = (self.rate_bps, self.tiers, self.fixed, self.minimum, self.maximum)
        if not self.verified:
            if any(v is not None for v in figures):
                raise ValueError(f"{self.name}: an unverified component must have no figures")
            if not self.note:
                raise ValueError(f"{self.name}: an unverified component needs a note saying why")
            return self
        if self.rate_bps is None and self.tiers is None and self.fixed is None:
            raise ValueError(f"{self.name}: give rate_bps, tiers or fixed")
        if not self.sources:
            raise ValueError(f"{self.name}: a verified component must cite a source")
        if self.rate_bps is not None and self.tiers is not None:
            raise ValueError(f"{self.name}: give rate_bps or tiers, not both")
        if (self.rate_bps is not None or self.tiers is not None) and self.base is None:
            raise ValueError(f"{self.name}: a percentage needs a base")
        if self.tiers is not None:
            if self.tier_mode is None:
                raise ValueError(f"{self.name}: tiers need a tier_mode")
            bounds = [t.up_to for t in self.tiers]
            if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
                raise ValueError(f"{self.name}: only the last tier is unbounded (up_to: null)")
            inner = [b for b in bounds[:-1] if b is not None]
            if inner != sorted(set(inner)) or (inner and inner[0] <= 0):
                raise ValueError(f"{self.name}: tier bounds must rise and be positive")
        elif self.tier_mode is not None:
            raise ValueError(f"{self.name}: tier_mode without tiers")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"{self.name}: minimum is above maximum")
        return self

    def amount(self, price: int, shipping_charged: int) -> int:
        """The fee in minor units for one unit sold at `price` with `shipping_charged` shipping."""
        if not self.verified:
            raise FeeScheduleError(f"{self.name}: unverified components have no amount")
        return _clamp(self, _round_half_up(self._raw(self._base(price, shipping_charged))))

    def _base(self, price: int, shipping_charged: int) -> int:
        return price + (shipping_charged if self.base == "item_plus_shipping" else 0)

    def _raw(self, base: int) -> int:
        """The percentage part before rounding, in bps × minor units (exact)."""
        if self.rate_bps is not None:
            return self.rate_bps * base
        if self.tiers is None:
            return 0
        if self.tier_mode == "whole":
            for tier in self.tiers:
                if tier.up_to is None or base <= tier.up_to:
                    return tier.rate_bps * base
        raw, lower = 0, 0
        for tier in self.tiers:
            top = base if tier.up_to is None else min(base, tier.up_to)
            if top > lower:
                raw += tier.rate_bps * (top - lower)
            if tier.up_to is None or base <= tier.up_to:
                break
            lower = tier.up_to
        return raw


def _round_half_up(raw: int) -> int:
    """bps × minor units → minor units, halves rounded up (all bases are ≥ 0)."""
    return (2 * raw + BPS) // (2 * BPS)


def _clamp(component: FeeComponent, rounded: int) -> int:
    value = rounded + (component.fixed or 0)
    if component.maximum is not None:
        value = min(value, component.maximum)
    if component.minimum is not None:
        value = max(value, component.minimum)
    return value


class FeeLine(_Data):
    """One fee charged on a sale."""

    name: str = Field(description="Component key, e.g. `transaction_fee`.")
    label: str = Field(description="Shown to the creator.")
    amount: int = Field(description="Minor units.")


class FeeSchedule(_Data):
    """All the fees one channel charges, as of one version, with their sources."""

    channel: str = Field(description="`etsy`, `shopify`, `amazon`, `tiktok_shop` or `direct`.")
    version: str = Field(description="`YYYY-MM`; one file per version.")
    title: str = Field(description="Shown to the creator.")
    effective_from: dt.date = Field(description="From when this version applies (see the kind).")
    effective_from_kind: Literal["stated", "confirmed", "definition"] = Field(
        description="`stated`: the platform gives this date; `confirmed`: the platform states no "
        "start date, and this is the date by which the sources confirm every figure; "
        "`definition`: a schedule we define (no fees)."
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of every amount.")
    options: dict[str, FeeOption] = Field(default_factory=dict, description="Choices.")
    components: tuple[FeeComponent, ...] = Field(description="The fees.")
    sources: tuple[Source, ...] = Field(description="Where the figures come from.")
    notes: tuple[str, ...] = Field(default=(), description="What is not modelled, and why.")
    choices: dict[str, str] = Field(
        default_factory=dict,
        description="Option choices made with `with_options`; always empty in data files.",
    )

    @model_validator(mode="after")
    def _references(self) -> "FeeSchedule":
        ids = {s.id for s in self.sources}
        for component in self.components:
            for source in component.sources:
                if source not in ids:
                    raise ValueError(f"{component.name}: unknown source id '{source}'")
            for option, values in component.when.items():
                if option not in self.options:
                    raise ValueError(f"{component.name}: 'when' names unknown option '{option}'")
                bad = [v for v in values if v not in self.options[option].choices]
                if bad:
                    raise ValueError(f"{component.name}: {option} has no choice {bad}")
        for i, first in enumerate(self.components):
            for second in self.components[i + 1 :]:
                if first.name == second.name and not _exclusive(first, second):
                    raise ValueError(
                        f"{first.name}: components sharing a name must apply to different "
                        "choices of one option"
                    )
        return self

    def with_options(self, **choices: str) -> "FeeSchedule":
        """A copy with options chosen, e.g. `amazon.with_options(category="home_and_kitchen")`."""
        for name, value in choices.items():
            option = self.options.get(name)
            if option is None:
                known = ", ".join(sorted(self.options)) or "none"
                raise FeeOptionError(
                    f"fees.options.{name}: the {self.channel} fee schedule has no option "
                    f"'{name}'; its options are: {known}."
                )
            if value not in option.choices:
                raise FeeOptionError(
                    f"fees.options.{name}: '{value}' is not a choice for {option.label}; "
                    f"use one of: {', '.join(option.choices)}."
                )
        return self.model_copy(update={"choices": {**self.choices, **choices}})

    def choice(self, name: str) -> str:
        """The chosen (or default) value of an option; raises if it has neither."""
        option = self.options[name]
        value = self.choices.get(name, option.default)
        if value is None:
            raise FeeOptionError(
                f"fees.options.{name}: the {self.channel} fee schedule needs a choice of "
                f"{option.label}; call with_options({name}=...) with one of: "
                f"{', '.join(option.choices)}."
            )
        return value

    def active_components(self) -> list[FeeComponent]:
        """The components that apply under the current choices, verified or not."""
        return [
            c
            for c in self.components
            if all(self.choice(option) in values for option, values in c.when.items())
        ]

    def fee_lines(self, price: int, shipping_charged: int) -> tuple[list[FeeLine], list[str]]:
        """Fees on one unit: the lines charged, and the names of components with no figures."""
        lines: list[FeeLine] = []
        unverified: list[str] = []
        for component in self.active_components():
            if component.verified:
                amount = component.amount(price, shipping_charged)
                lines.append(FeeLine(name=component.name, label=component.label, amount=amount))
            else:
                unverified.append(component.name)
        return lines, unverified


def _exclusive(first: FeeComponent, second: FeeComponent) -> bool:
    shared = set(first.when) & set(second.when)
    return any(not set(first.when[o]) & set(second.when[o]) for o in shared)


# --- Piecewise-linear view, for the price solver -------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """On prices from `start` (to the next piece's start), a component's amount is within
    `error` of `slope_bps × price / 10000 + intercept`."""

    start: int
    slope_bps: int
    intercept: Fraction
    error: Fraction


def pieces(component: FeeComponent, shipping_charged: int, max_price: int) -> list[Piece]:
    """Split prices 0..max_price where the component's formula changes (tiers, minimum, cap).

    Within a piece the amount is linear in the price up to the half-up rounding (≤ ½ minor unit),
    or constant (the minimum or the cap). The solver uses this to scan only near the answer.
    """
    shift = shipping_charged if component.base == "item_plus_shipping" else 0
    out: list[Piece] = []
    for b_start, b_end, slope, intercept_raw in _raw_pieces(component, shift, shift + max_price):
        for start, end, const in _clamped(component, b_start, b_end):
            if start > end:
                continue
            p_start = start - shift
            if const is not None:
                out.append(Piece(p_start, 0, Fraction(const), Fraction(0)))
            elif slope == 0:
                value = _clamp(component, _round_half_up(intercept_raw))
                out.append(Piece(p_start, 0, Fraction(value), Fraction(0)))
            else:
                intercept = Fraction(slope * shift + intercept_raw, BPS) + (component.fixed or 0)
                out.append(Piece(p_start, slope, intercept, Fraction(1, 2)))
    return out


def _raw_pieces(
    component: FeeComponent, b_min: int, b_max: int
) -> Iterator[tuple[int, int, int, int]]:
    """(first base, last base, slope bps, intercept) where raw = slope × base + intercept."""
    if component.tiers is None:
        yield b_min, b_max, component.rate_bps or 0, 0
        return
    lower, carried = 0, 0
    for tier in component.tiers:
        first = 0 if lower == 0 else lower + 1
        last = b_max if tier.up_to is None else tier.up_to
        if component.tier_mode == "whole":
            intercept = 0
        else:
            intercept = carried - tier.rate_bps * lower
        lo, hi = max(first, b_min), min(last, b_max)
        if lo <= hi:
            yield lo, hi, tier.rate_bps, intercept
        if tier.up_to is None:
            return
        carried += tier.rate_bps * (tier.up_to - lower)
        lower = tier.up_to


def _clamped(
    component: FeeComponent, b_start: int, b_end: int
) -> list[tuple[int, int, int | None]]:
    """Split a raw piece where the minimum or the cap takes over (exact, by bisection: the
    rounded amount never falls as the base rises within one raw piece)."""

    def value(base: int) -> int:
        return _round_half_up(component._raw(base)) + (component.fixed or 0)

    minimum, maximum = component.minimum, component.maximum
    low_end = b_start - 1  # last base charged the minimum
    if minimum is not None:
        low_end = _last_where(lambda b: value(b) < minimum, b_start, b_end)
    high_start = b_end + 1  # first base charged the cap
    if maximum is not None:
        high_start = _last_where(lambda b: value(b) <= maximum, b_start, b_end) + 1
    return [
        (b_start, low_end, component.minimum),
        (max(low_end + 1, b_start), min(high_start - 1, b_end), None),
        (high_start, b_end, component.maximum),
    ]


def _last_where(predicate: Callable[[int], bool], lo: int, hi: int) -> int:
    """Largest b in lo..hi with predicate(b), given it holds on a prefix; lo - 1 if none."""
    if not predicate(lo):
        return lo - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if predicate(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- Loading -------------------------------------------------------------------------------------


@cache
def _index() -> dict[str, dict[str, str]]:
    """channel → version → file name, for every bundled file."""
    found: dict[str, dict[str, str]] = {}
    for entry in resources.files("flashfusion.product").joinpath("fees").iterdir():
        if not entry.name.endswith(".json"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise FeeScheduleError(f"{entry.name}: fee files are named <channel>-<YYYY-MM>.json")
        found.setdefault(match["channel"], {})[match["version"]] = entry.name
    return found


@cache
def _load(channel: str, version: str) -> FeeSchedule:
    file_name = _index()[channel][version]
    text = resources.files("flashfusion.product").joinpath("fees", file_name).read_text("utf-8")
    return parse_fee_schedule(text, file_name=file_name)


def parse_fee_schedule(text: str, *, file_name: str) -> FeeSchedule:
    """Validate one fee file; every problem names the file and the field."""
    try:
        schedule = FeeSchedule.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise FeeScheduleError(f"{file_name}: {problems}") from None
    match = _FILE_NAME.match(file_name)
    if match and (match["channel"], match["version"]) != (schedule.channel, schedule.version):
        raise FeeScheduleError(
            f"{file_name}: the file says channel '{schedule.channel}' version "
            f"'{schedule.version}'; rename the file or fix the fields"
        )
    if schedule.choices:
        raise FeeScheduleError(f"{file_name}: 'choices' is set at run time, not in data files")
    return schedule


def list_channels() -> list[str]:
    """Every channel with at least one fee schedule, sorted."""
    return sorted(_index())


def list_fee_versions(channel: str) -> list[str]:
    """A channel's versions, oldest first (by effective date, then version)."""
    versions = _index().get(channel)
    if versions is None:
        raise UnknownChannel(channel, list_channels())
    return sorted(versions, key=lambda v: (_load(channel, v).effective_from, v))


def load_fee_schedule(channel: str, *, version: str | None = None) -> FeeSchedule:
    """The channel's fee schedule: the latest version, or the one asked for.

    Raises `UnknownChannel` / `UnknownFeeVersion` (both `LookupError`) naming what exists.
    """
    versions = list_fee_versions(channel)
    if version is None:
        return _load(channel, versions[-1])
    if version not in versions:
        raise UnknownFeeVersion(channel, version, versions)
    return _load(channel, version)
