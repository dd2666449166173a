"""Variant pricing: the lowest price that makes the creator's target after channel fees.

A `PricingRule` (per organization) says what "making money" means: a target margin (profit ÷
price) or markup (profit ÷ cost), a minimum profit per sale, psychological rounding, and whether
the listing offers free shipping. `price_variant` solves for the price; `evaluate_price` shows
what a price the creator typed in earns; `price_table` lays several variants out with the same
fee columns.

Definitions, per unit sold (one unit per order):

- `cost`: the provider's base cost; `shipping`: what the provider charges the seller to ship it.
- With `include_shipping` the listing shows free shipping: the buyer pays `price` only and the
  price absorbs the shipping. Without it the buyer pays `price + shipping` (shipping passed
  through at cost), and fees that are a percentage of the order include that shipping.
- `profit = price + shipping charged to the buyer − cost − shipping − fees(price)`.
- `margin = profit ÷ price` (the item price the buyer sees).
- `markup = profit ÷ (cost + the shipping the price absorbs)`: what the item price must recover.
- `margin_bps` and `markup_bps` are rounded down, so `margin_bps >= target_bps` exactly when the
  target is met; `meets_target` is decided on exact integers, never on floats.

The solver is exact: fees are piecewise linear in the price apart from per-component half-up
rounding (each ≤ ½ cent), so on each piece it scans only the few cents where the linear estimate
cannot decide, evaluating the real fees there. Tier cliffs (Amazon apparel moves from 10% to 17%
above $20) make profit fall as price rises, so "the lowest price that works" is found piece by
piece from the bottom, then rounded up to the next .99/.95/.00 that still works.
"""

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from flashfusion.product.fees import (
    BPS,
    FeeOptionError,
    FeeSchedule,
    Piece,
    UnknownChannel,
    UnknownFeeVersion,
    list_channels,
    list_fee_versions,
    load_fee_schedule,
    pieces,
)

# ISO 4217 codes Etsy pays out in (all with two minor digits); the rounding modes assume cents.
SUPPORTED_CURRENCIES = ("AUD", "CAD", "CHF", "DKK", "EUR", "GBP", "NOK", "NZD", "SEK", "USD")
DEFAULT_CHANNEL = "etsy"  # the channel a product prices for when no rule names one
MAX_AMOUNT = 100_000_000  # 1,000,000.00: no print-on-demand price or cost is near this
MAX_MARKUP_BPS = 100_000  # 1,000%
_ROUNDING_REACH = 1_000_000  # rounded prices tried above the solved one: 10,000 steps
_SCAN_BUDGET = 200_000  # exact evaluations per solve (about a second); real solves use a few

Mode = Literal["margin", "markup"]
Rounding = Literal["none", "99", "95", "00"]


class PricingError(ValueError):
    """Bad input to the pricing functions, or a target no price can meet; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def format_money(amount: int, currency: str) -> str:
    """`1295, "USD"` → `"12.95 USD"`; minor units with two digits, sign in front."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d} {currency}"


def format_bps(bps: int) -> str:
    """`3000` → `"30.00%"`."""
    sign = "-" if bps < 0 else ""
    whole, part = divmod(abs(bps), 100)
    return f"{sign}{whole}.{part:02d}%"


class PricingRule(BaseModel):
    """How an organization prices a variant: the target, the floor and the rounding."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    mode: Mode = Field(description="`margin`: profit ÷ price; `markup`: profit ÷ cost.")
    target_bps: int = Field(description="Target in basis points: 3000 = 30%.")
    rounding: Rounding = Field(
        default="none",
        description="Round the price up to the next x.99, x.95 or whole unit (`00`), keeping "
        "the target met; `none` keeps the exact price.",
    )
    min_profit: int = Field(default=0, description="Least profit per sale, minor units.")
    currency: str = Field(description="ISO 4217 code; must be the fee schedule's currency.")
    include_shipping: bool = Field(
        default=False,
        description="The price absorbs the provider's shipping (a free-shipping listing).",
    )
    max_price: int | None = Field(
        default=None, description="Never price above this (minor units); optional."
    )

    @field_validator("target_bps")
    @classmethod
    def _target(cls, value: int, info: ValidationInfo) -> int:
        mode = info.data.get("mode")
        if value < 0:
            raise ValueError(
                f"target_bps: {value} is negative; give the target in basis points, 0 or more "
                "(3000 = 30%)"
            )
        if mode == "margin" and value >= BPS:
            raise ValueError(
                f"target_bps: a margin of {format_bps(value)} is impossible (profit cannot "
                f"reach the whole price); use less than {BPS} (e.g. 3000 = 30%)"
            )
        if mode == "markup" and value > MAX_MARKUP_BPS:
            raise ValueError(
                f"target_bps: a markup of {format_bps(value)} is above the "
                f"{format_bps(MAX_MARKUP_BPS)} limit; use {MAX_MARKUP_BPS} or less (10000 = 100%)"
            )
        return value

    @field_validator("min_profit")
    @classmethod
    def _min_profit(cls, value: int) -> int:
        if value < 0:
            raise ValueError(
                f"min_profit: {value} is negative; give the least profit per sale in minor "
                "units, 0 or more (e.g. 500 = 5.00)"
            )
        if value > MAX_AMOUNT:
            raise ValueError(
                f"min_profit: {value} is above the {MAX_AMOUNT} (1,000,000.00) limit; give it "
                "in minor units (cents)"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in SUPPORTED_CURRENCIES:
            capitals = value.upper() in SUPPORTED_CURRENCIES
            hint = f" (write it in capitals: '{value.upper()}')" if capitals else ""
            raise ValueError(
                f"currency: '{value}' is not a supported ISO 4217 code{hint}; "
                f"use one of {', '.join(SUPPORTED_CURRENCIES)}"
            )
        return value

    @field_validator("max_price")
    @classmethod
    def _max_price(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return value
        if not 0 < value <= MAX_AMOUNT:
            raise ValueError(
                f"max_price: {value} must be between 1 and {MAX_AMOUNT} minor units "
                "(0.01 to 1,000,000.00), or left empty"
            )
        min_profit = info.data.get("min_profit")
        if min_profit is not None and min_profit >= value:
            raise ValueError(
                f"max_price: {value} leaves no room for min_profit {min_profit}; raise "
                "max_price above min_profit or lower min_profit"
            )
        return value


class PriceLine(BaseModel):
    """One variant's price and what it earns after the channel's fees (minor units)."""

    model_config = ConfigDict(frozen=True)

    channel: str = Field(description="Fee schedule channel.")
    fee_version: str = Field(description="Fee schedule version used.")
    currency: str = Field(description="ISO 4217 code of every amount.")
    cost: int = Field(description="Provider base cost.")
    shipping: int = Field(description="Provider shipping charged to the seller.")
    shipping_charged: int = Field(description="Shipping the buyer pays (0 with free shipping).")
    price: int = Field(description="The item price the buyer sees.")
    unrounded_price: int | None = Field(
        description="Lowest price meeting the target before rounding; None for a typed price."
    )
    fee_lines: tuple[tuple[str, int], ...] = Field(
        description="Each fee charged: (component name, amount), in the schedule's order."
    )
    fee_labels: dict[str, str] = Field(description="Component name → label to show.")
    fees_total: int = Field(description="Sum of the fee lines.")
    profit: int = Field(description="price + shipping_charged − cost − shipping − fees_total.")
    margin_bps: int = Field(description="profit ÷ price in bps, rounded down.")
    markup_bps: int | None = Field(
        description="profit ÷ (cost + absorbed shipping) in bps, rounded down; None if that is 0."
    )
    meets_target: bool = Field(description="Target and min_profit both met.")
    target_mode: Mode = Field(description="The rule's mode.")
    target_bps: int = Field(description="The rule's target.")
    min_profit: int = Field(description="The rule's minimum profit.")
    unverified_fees: tuple[str, ...] = Field(
        description="Fees that apply but that no source gives; left out of fees_total."
    )
    warnings: tuple[str, ...] = Field(description="What the creator should know about it.")


class _Evaluator:
    """Fees and profit of one variant at any price, exactly."""

    def __init__(self, *, cost: int, shipping: int, rule: PricingRule, fees: FeeSchedule) -> None:
        self.cost, self.shipping, self.rule, self.fees = cost, shipping, rule, fees
        self.shipping_charged = 0 if rule.include_shipping else shipping
        # What the item price itself must recover; pass-through shipping is not part of it.
        self.cost_basis = cost + (shipping if rule.include_shipping else 0)
        self.components = [c for c in fees.active_components() if c.verified]
        self.unverified = tuple(c.name for c in fees.active_components() if not c.verified)

    def fees_total(self, price: int) -> int:
        return sum(c.amount(price, self.shipping_charged) for c in self.components)

    def profit(self, price: int) -> int:
        return price + self.shipping_charged - self.cost - self.shipping - self.fees_total(price)

    def meets(self, price: int) -> bool:
        profit = self.profit(price)
        basis = price if self.rule.mode == "margin" else self.cost_basis
        return profit >= self.rule.min_profit and BPS * profit >= self.rule.target_bps * basis

    def line(self, price: int, unrounded: int | None, warnings: list[str]) -> PriceLine:
        lines, _ = self.fees.fee_lines(price, self.shipping_charged)
        fees_total = sum(line.amount for line in lines)
        profit = price + self.shipping_charged - self.cost - self.shipping - fees_total
        meets = self.meets(price)
        currency = self.rule.currency
        notes = list(warnings)
        if profit < 0:
            notes.append(
                f"Loss of {format_money(-profit, currency)} per sale: the price does not cover "
                "cost, shipping and fees."
            )
        elif profit < self.rule.min_profit:
            notes.append(
                f"Profit {format_money(profit, currency)} is below the minimum "
                f"{format_money(self.rule.min_profit, currency)}."
            )
        margin_bps = BPS * profit // price
        markup_bps = BPS * profit // self.cost_basis if self.cost_basis else None
        achieved = margin_bps if self.rule.mode == "margin" else markup_bps
        if achieved is not None and achieved < self.rule.target_bps:
            notes.append(
                f"{self.rule.mode.capitalize()} {format_bps(achieved)} is below the "
                f"{format_bps(self.rule.target_bps)} target."
            )
        if self.unverified:
            notes.append(
                "Not included because no source gives the figure: "
                f"{', '.join(self.unverified)}; the real profit is lower."
            )
        return PriceLine(
            channel=self.fees.channel,
            fee_version=self.fees.version,
            currency=currency,
            cost=self.cost,
            shipping=self.shipping,
            shipping_charged=self.shipping_charged,
            price=price,
            unrounded_price=unrounded,
            fee_lines=tuple((fee.name, fee.amount) for fee in lines),
            fee_labels={fee.name: fee.label for fee in lines},
            fees_total=fees_total,
            profit=profit,
            margin_bps=margin_bps,
            markup_bps=markup_bps,
            meets_target=meets,
            target_mode=self.rule.mode,
            target_bps=self.rule.target_bps,
            min_profit=self.rule.min_profit,
            unverified_fees=self.unverified,
            warnings=tuple(notes),
        )


def _check_inputs(
    *, cost: int, shipping: int, currency: str, rule: PricingRule, fees: FeeSchedule
) -> None:
    for name, value, what in (
        ("cost", cost, "the provider's base cost"),
        ("shipping", shipping, "the provider's shipping charge"),
    ):
        if type(value) is not int:
            raise PricingError(
                name,
                f"{value!r} is not a whole number of minor units; give {what} in cents "
                "(12.95 → 1295)",
            )
        if value < 0:
            raise PricingError(name, f"{value} is negative; give {what} in cents, 0 or more")
        if value > MAX_AMOUNT:
            raise PricingError(
                name, f"{value} is above the {MAX_AMOUNT} (1,000,000.00) limit; give it in cents"
            )
    if currency != rule.currency:
        raise PricingError(
            "currency",
            f"the variant is in {currency} but the pricing rule is in {rule.currency}; "
            "price it with a rule in the same currency",
        )
    if currency != fees.currency:
        raise PricingError(
            "currency",
            f"the {fees.channel} {fees.version} fee schedule only supports {fees.currency}; "
            f"price in {fees.currency} or choose a schedule in {currency}",
        )


def price_variant(
    *, cost: int, shipping: int, currency: str, rule: PricingRule, fees: FeeSchedule
) -> PriceLine:
    """The lowest price (then rounded per the rule) whose profit after fees meets the target.

    Raises `PricingError` for bad inputs, and when no price up to 1,000,000.00 can meet the
    target. With `rule.max_price`, a target that needs more returns a line at `max_price` with
    `meets_target` false and a warning instead, and when rounding up would pass `max_price`
    the exact price is kept, with a warning.
    """
    _check_inputs(cost=cost, shipping=shipping, currency=currency, rule=rule, fees=fees)
    ev = _Evaluator(cost=cost, shipping=shipping, rule=rule, fees=fees)
    limit = rule.max_price or MAX_AMOUNT
    solved = _lowest_price(ev, 1, MAX_AMOUNT)
    if solved is not None and solved <= limit:
        price = _round_up(ev, solved, rule.rounding, limit)
        if price is not None:
            return ev.line(price, solved, [])
        if rule.max_price is not None:
            return ev.line(
                solved,
                solved,
                [
                    f"No price ending in .{rule.rounding} from {format_money(solved, currency)} "
                    f"to max_price {format_money(rule.max_price, currency)} meets the target; "
                    "the exact price is kept."
                ],
            )
    if rule.max_price is not None:
        needed = (
            f"needs {format_money(solved, currency)}" if solved is not None else "cannot be met"
        )
        return ev.line(
            rule.max_price,
            solved,
            [
                f"The target {needed}; the price is capped at max_price "
                f"{format_money(rule.max_price, currency)}."
            ],
        )
    if solved is not None:
        raise PricingError(
            "rounding",
            f"no price ending in .{rule.rounding} within {_ROUNDING_REACH // 100} steps above "
            f"{format_money(solved, currency)} meets the target; use rounding 'none'",
        )
    raise PricingError(
        "target_bps",
        f"no price up to {format_money(MAX_AMOUNT, currency)} earns a {rule.mode} of "
        f"{format_bps(rule.target_bps)} and at least {format_money(rule.min_profit, currency)} "
        f"after {fees.channel} {fees.version} fees; lower target_bps or min_profit",
    )


def evaluate_price(
    *, price: int, cost: int, shipping: int, currency: str, rule: PricingRule, fees: FeeSchedule
) -> PriceLine:
    """What a price the creator typed in earns; warnings say when it misses the rule."""
    _check_inputs(cost=cost, shipping=shipping, currency=currency, rule=rule, fees=fees)
    if type(price) is not int or not 0 < price <= MAX_AMOUNT:
        raise PricingError(
            "price",
            f"{price!r} must be a whole number of minor units between 1 and {MAX_AMOUNT} "
            "(0.01 to 1,000,000.00); 12.99 → 1299",
        )
    ev = _Evaluator(cost=cost, shipping=shipping, rule=rule, fees=fees)
    warnings = []
    if rule.max_price is not None and price > rule.max_price:
        warnings.append(f"The price is above max_price {format_money(rule.max_price, currency)}.")
    return ev.line(price, None, warnings)


def _round_up(ev: _Evaluator, price: int, rounding: Rounding, limit: int) -> int | None:
    """The first price from `price` up that has the rounding's cents and meets the target."""
    if rounding == "none":
        return price
    cents = {"99": 99, "95": 95, "00": 0}[rounding]
    candidate = price + (cents - price) % 100
    # A tier cliff can make a rounded-up price miss again; the next one up is then tried. Past
    # the last cliff profit grows with the price, so a bounded reach is enough (Amazon's 17%
    # apparel cliff at $20 needs three steps).
    reach = min(limit, price + _ROUNDING_REACH)
    while candidate <= reach:
        if ev.meets(candidate):
            return candidate
        candidate += 100
    return None


def _lowest_price(ev: _Evaluator, low: int, high: int) -> int | None:
    """The smallest price in low..high that meets the rule, or None.

    Fee pieces split the range; on each the profit is linear within a known rounding error, so
    every condition is certainly false below one point and certainly true above another. Only
    the prices between are evaluated exactly, bottom piece first.
    """
    component_pieces = [pieces(c, ev.shipping_charged, high) for c in ev.components]
    starts = sorted(
        {low} | {p.start for ps in component_pieces for p in ps if low < p.start <= high}
    )
    budget = _SCAN_BUDGET
    for index, start in enumerate(starts):
        end = starts[index + 1] - 1 if index + 1 < len(starts) else high
        active = [_piece_at(ps, start) for ps in component_pieces]
        window = _undecided_window(ev, active, start, end)
        if window is None:
            continue
        first, last = window
        for price in range(first, last + 1):
            budget -= 1
            if budget < 0:  # pragma: no cover - real windows are a few cents wide
                raise PricingError(
                    "target_bps",
                    "the price search did not settle (a target right at the edge of what the "
                    "fees allow); move target_bps by a few basis points",
                )
            if ev.meets(price):
                return price
    return None


def _piece_at(component_pieces: Sequence[Piece], price: int) -> Piece:
    return [p for p in component_pieces if p.start <= price][-1]


def _undecided_window(
    ev: _Evaluator, active: Sequence[Piece], start: int, end: int
) -> tuple[int, int] | None:
    """Prices in start..end to evaluate exactly: from the first that is not certainly failing
    to the first that certainly passes (or the end); None if all certainly fail."""
    slope = sum(p.slope_bps for p in active)
    intercept = sum((p.intercept for p in active), Fraction(0))
    error = sum((p.error for p in active), Fraction(0))
    # profit(P) = (1 − slope/BPS)·P + fixed_part, within ±error
    profit_slope = Fraction(BPS - slope, BPS)
    profit_const = ev.shipping_charged - ev.cost - ev.shipping - intercept
    rule = ev.rule
    conditions = [(profit_slope, profit_const - rule.min_profit, error)]
    if rule.mode == "margin":
        conditions.append((BPS * profit_slope - rule.target_bps, BPS * profit_const, BPS * error))
    else:
        conditions.append(
            (BPS * profit_slope, BPS * profit_const - rule.target_bps * ev.cost_basis, BPS * error)
        )
    first, last = start, end
    sure_from, sure_to = start, end
    for alpha, beta, err in conditions:
        # possibly true: alpha·P + beta + err ≥ 0; certainly true: alpha·P + beta − err ≥ 0
        first, last = _intersect(first, last, alpha, beta + err)
        sure_from, sure_to = _intersect(sure_from, sure_to, alpha, beta - err)
    if first > last:
        return None
    if sure_from <= sure_to and sure_from >= first:
        last = min(last, sure_from)
    return first, last


def _intersect(lo: int, hi: int, alpha: Fraction, beta: Fraction) -> tuple[int, int]:
    """Narrow lo..hi to the integers P with alpha·P + beta ≥ 0 (may come back empty)."""
    if alpha > 0:
        return max(lo, math.ceil(-beta / alpha)), hi
    if alpha < 0:
        return lo, min(hi, math.floor(beta / -alpha))
    return (lo, hi) if beta >= 0 else (hi + 1, hi)


# --- Tabulation ----------------------------------------------------------------------------------


class PriceTableRow(BaseModel):
    """One variant in a price table; `fees` follows the table's `fee_columns` order."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The caller's key for the variant (e.g. `white-m`).")
    cost: int
    shipping: int
    fees: tuple[int, ...] = Field(description="Amount per fee column; 0 where not charged.")
    fees_total: int
    price: int
    profit: int
    margin_bps: int
    meets_target: bool
    warnings: tuple[str, ...]


class PriceTable(BaseModel):
    """Variants side by side with one column per fee charged on any of them."""

    model_config = ConfigDict(frozen=True)

    currency: str
    fee_columns: tuple[tuple[str, str], ...] = Field(description="(name, label) per fee column.")
    rows: tuple[PriceTableRow, ...]


def price_table(lines: Mapping[str, PriceLine]) -> PriceTable:
    """Tabulate priced variants (key → line) with shared fee columns, in the mapping's order.

    All lines must be in one currency. Formatting (money, %) is left to the caller:
    `format_money` and `format_bps` are here for it.
    """
    currencies = {line.currency for line in lines.values()}
    if len(currencies) > 1:
        raise PricingError(
            "lines", f"a table holds one currency; got {', '.join(sorted(currencies))}"
        )
    columns: dict[str, str] = {}
    for line in lines.values():
        for name, _ in line.fee_lines:
            columns.setdefault(name, line.fee_labels[name])
    rows = []
    for key, line in lines.items():
        amounts = dict(line.fee_lines)
        rows.append(
            PriceTableRow(
                key=key,
                cost=line.cost,
                shipping=line.shipping,
                fees=tuple(amounts.get(name, 0) for name in columns),
                fees_total=line.fees_total,
                price=line.price,
                profit=line.profit,
                margin_bps=line.margin_bps,
                meets_target=line.meets_target,
                warnings=line.warnings,
            )
        )
    return PriceTable(
        currency=currencies.pop() if currencies else "",
        fee_columns=tuple(columns.items()),
        rows=tuple(rows),
    )


__all__ = [
    "DEFAULT_CHANNEL",
    "MAX_AMOUNT",
    "SUPPORTED_CURRENCIES",
    "PriceLine",
    "PriceTable",
    "PriceTableRow",
    "PricingError",
    "PricingRule",
    "FeeOptionError",
    "FeeSchedule",
    "UnknownChannel",
    "UnknownFeeVersion",
    "evaluate_price",
    "format_bps",
    "format_money",
    "list_channels",
    "list_fee_versions",
    "load_fee_schedule",
    "price_table",
    "price_variant",
]
