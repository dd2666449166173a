"""The versioned price table (data/prices.json) and the cost of one call in micro-USD.

Every price in the table names its source and date. A model the table does not know, or knows
only as "unverified", has an unknown cost: `cost_microusd` returns None, never 0, so a missing
price can never make spending look free.

Arithmetic is exact: 1 USD per million tokens is 1 micro-USD per token, so a token count times the
per-million price (a Decimal) is already in micro-USD; the sum is rounded half-up once, at the end.
"""

import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from flashfusion.ai.types import Usage

DEFAULT_PATH = Path(__file__).parent / "data" / "prices.json"
UNVERIFIED = "unverified"
WILDCARD = "*"
_MICRO = Decimal(1_000_000)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Providers answer with dated snapshots ("claude-haiku-4-5-20251001", "gpt-5.4-nano-2026-03-17")
# of the aliases the table lists; Gemini prefixes "models/".
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


class PriceTableError(ValueError):
    """prices.json is malformed: a price is not a number, or a priced entry has no source."""


@dataclass(frozen=True)
class LongPromptPrice:
    """Rates that replace the base rates for every token once the prompt reaches the threshold."""

    threshold_tokens: int
    input_per_million: Decimal | None
    output_per_million: Decimal | None


@dataclass(frozen=True)
class ModelPrice:
    provider: str
    model: str
    input_per_million: Decimal | None
    output_per_million: Decimal | None
    image: Decimal | None
    request: Decimal | None
    source: str
    date: str | None
    long_prompt: LongPromptPrice | None = None
    note: str | None = None

    @property
    def verified(self) -> bool:
        return self.source != UNVERIFIED


def _decimal(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        # Prices are strings in the file so that no float ever touches them.
        raise PriceTableError(f'{where}: write prices as strings, e.g. "0.15"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise PriceTableError(f"{where}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise PriceTableError(f"{where}: {value!r} is not a non-negative price")
    return number


def _entry(provider: str, model: str, raw: dict[str, Any]) -> ModelPrice:
    where = f"{provider}/{model}"
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise PriceTableError(f'{where}: every entry needs a source (or "unverified")')
    prices = {
        name: _decimal(raw.get(name), f"{where}.{name}")
        for name in ("input_per_million", "output_per_million", "image", "request")
    }
    date = raw.get("date")
    long_prompt = None
    if source == UNVERIFIED:
        if any(value is not None for value in prices.values()) or raw.get("long_prompt"):
            raise PriceTableError(f"{where}: an unverified entry must leave every price null")
    else:
        if not isinstance(date, str) or not _DATE.match(date):
            raise PriceTableError(f"{where}: a sourced price needs the source's date (YYYY-MM-DD)")
        if prices["input_per_million"] is None and prices["output_per_million"] is None:
            raise PriceTableError(f"{where}: a sourced entry needs at least one token price")
        if raw.get("long_prompt"):
            tier = raw["long_prompt"]
            threshold = tier.get("threshold_tokens") if isinstance(tier, dict) else None
            if not isinstance(threshold, int) or threshold < 1:
                raise PriceTableError(f"{where}.long_prompt needs a threshold_tokens count")
            long_prompt = LongPromptPrice(
                threshold_tokens=threshold,
                input_per_million=_decimal(tier.get("input_per_million"), f"{where}.long_prompt"),
                output_per_million=_decimal(tier.get("output_per_million"), f"{where}.long_prompt"),
            )
    return ModelPrice(
        provider=provider,
        model=model,
        input_per_million=prices["input_per_million"],
        output_per_million=prices["output_per_million"],
        image=prices["image"],
        request=prices["request"],
        source=source,
        date=date if isinstance(date, str) else None,
        long_prompt=long_prompt,
        note=raw.get("note"),
    )


class PriceTable:
    def __init__(self, version: str, currency: str, entries: dict[str, dict[str, ModelPrice]]):
        self.version = version
        self.currency = currency
        self._entries = entries

    @classmethod
    def load(cls, path: Path | str | None = None) -> "PriceTable":
        """Read and check a price table (the bundled data/prices.json by default)."""
        raw = json.loads(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "PriceTable":
        version = raw.get("version")
        currency = raw.get("currency")
        if not isinstance(version, str) or not version:
            raise PriceTableError("the price table needs a version")
        if currency != "USD":
            raise PriceTableError(f"prices are kept in USD, not {currency!r}")
        entries: dict[str, dict[str, ModelPrice]] = {}
        for provider, block in raw.get("providers", {}).items():
            entries[provider] = {
                model: _entry(provider, model, spec)
                for model, spec in block.get("models", {}).items()
            }
        return cls(version, currency, entries)

    def providers(self) -> list[str]:
        return sorted(self._entries)

    def models(self, provider: str) -> list[str]:
        return sorted(m for m in self._entries.get(provider, {}) if m != WILDCARD)

    def price_for(self, provider: str, model: str) -> ModelPrice | None:
        """The table's entry for this model: exact name, then its alias without a date suffix,
        then the provider's "*" entry (local models); None when the table does not know it."""
        models = self._entries.get(provider)
        if models is None:
            return None
        name = model.removeprefix("models/")
        for candidate in (name, _SNAPSHOT.sub("", name)):
            if candidate in models:
                return models[candidate]
        return models.get(WILDCARD)

    def cost_microusd(
        self, provider: str, model: str, usage: Usage, *, calls: int = 1
    ) -> int | None:
        """What `calls` calls that used `usage` in total cost, in whole micro-USD (half-up).

        None when the price is unknown: the model is not in the table, its entry is unverified, or
        the usage needs a rate the entry leaves empty. Images are billed per image only when the
        call reported no output tokens; image APIs that report image tokens bill through them.
        """
        price = self.price_for(provider, model)
        if price is None or not price.verified:
            return None
        input_rate, output_rate = price.input_per_million, price.output_per_million
        tier = price.long_prompt
        if tier is not None and usage.input_tokens >= tier.threshold_tokens:
            input_rate, output_rate = tier.input_per_million, tier.output_per_million
        total = Decimal(0)
        terms: list[tuple[int, Decimal | None, Decimal]] = [
            (usage.input_tokens, input_rate, Decimal(1)),
            (usage.output_tokens, output_rate, Decimal(1)),
        ]
        if usage.output_tokens == 0:
            terms.append((usage.images, price.image, _MICRO))
        if price.request is not None:
            terms.append((calls, price.request, _MICRO))
        for count, rate, scale in terms:
            if count == 0:
                continue
            if rate is None:
                return None
            total += count * rate * scale
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@cache
def default_table() -> PriceTable:
    """The bundled table, read once per process."""
    return PriceTable.load()


def price_for(provider: str, model: str) -> ModelPrice | None:
    return default_table().price_for(provider, model)


def cost_microusd(provider: str, model: str, usage: Usage, *, calls: int = 1) -> int | None:
    return default_table().cost_microusd(provider, model, usage, calls=calls)
