import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from flashfusion.ai import pricing
from flashfusion.ai.defaults import ALTERNATIVE_MODELS, DEFAULT_CHAINS, DEFAULT_MODELS
from flashfusion.ai.pricing import DEFAULT_PATH, PriceTable, PriceTableError
from flashfusion.ai.types import TaskType, Usage

RAW: dict[str, Any] = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
PRICE_FIELDS = ("input_per_million", "output_per_million", "image", "request")


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_version_and_currency(table: PriceTable) -> None:
    assert table.version == "2026.12.1"
    assert table.currency == "USD"
    assert table.providers() == [
        "anthropic",
        "gemini",
        "local",
        "offline",
        "openai",
        "perplexity",
        "xai",
    ]


def test_every_entry_has_a_source_and_date_or_is_null_and_unverified() -> None:
    entries = [
        (provider, model, spec)
        for provider, block in RAW["providers"].items()
        for model, spec in block["models"].items()
    ]
    assert len(entries) >= 12
    for provider, model, spec in entries:
        where = f"{provider}/{model}"
        if spec["source"] == "unverified":
            assert all(spec.get(name) is None for name in PRICE_FIELDS), where
            continue
        assert spec["source"].strip(), where
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", spec["date"]), where
        assert spec["date_basis"] in ("source", "read"), where
        assert spec["input_per_million"] is not None, where
        for name in PRICE_FIELDS:
            value = spec.get(name)
            assert value is None or (isinstance(value, str) and Decimal(value) >= 0), where
        if provider not in ("local", "offline"):
            assert spec["source"].startswith("https://"), where
    for provider in ("local", "offline"):
        assert RAW["providers"][provider]["models"]["*"]["source"] == "runs on your machine"


def test_cost_is_exact_micro_usd(table: PriceTable) -> None:
    price = table.price_for("openai", "gpt-5.4-nano")
    assert price is not None
    assert (price.input_per_million, price.output_per_million) == (
        Decimal("0.20"),
        Decimal("1.25"),
    )
    # 1234 × 0.20 + 567 × 1.25 = 246.8 + 708.75 = 955.55 micro-USD → 956 (half-up)
    usage = Usage(input_tokens=1234, output_tokens=567)
    assert table.cost_microusd("openai", "gpt-5.4-nano", usage) == 956
    # 1234 × 1 + 567 × 5 = 4069 exactly
    assert table.cost_microusd("anthropic", "claude-haiku-4-5", usage) == 4069
    assert table.cost_microusd("openai", "gpt-5.4-nano", Usage()) == 0


def test_rounding_is_half_up_not_bankers(table: PriceTable) -> None:
    # 15 × 0.30 = 4.5 → 5 (banker's rounding would give 4); 5 × 0.30 = 1.5 → 2
    assert table.cost_microusd("gemini", "gemini-3.5-flash-lite", Usage(input_tokens=15)) == 5
    assert table.cost_microusd("gemini", "gemini-3.5-flash-lite", Usage(input_tokens=5)) == 2
    # 1 × 0.20 = 0.2 → 0
    assert table.cost_microusd("openai", "gpt-5.4-nano", Usage(input_tokens=1)) == 0


def test_unknown_price_is_none_never_zero(table: PriceTable) -> None:
    usage = Usage(input_tokens=10, output_tokens=10)
    assert table.cost_microusd("openai", "gpt-nonexistent", usage) is None
    assert table.cost_microusd("mistral", "anything", usage) is None
    assert table.price_for("openai", "gpt-nonexistent") is None
    # A priced model asked for something it has no rate for (sonar does not make images).
    assert table.cost_microusd("perplexity", "sonar", Usage(images=1)) is None


def test_unverified_entries_cost_none_even_for_zero_usage() -> None:
    table = PriceTable.from_dict(
        {
            "version": "t",
            "currency": "USD",
            "providers": {
                "xai": {
                    "models": {
                        "grok-x": {
                            "input_per_million": None,
                            "output_per_million": None,
                            "image": None,
                            "source": "unverified",
                            "date": None,
                        }
                    }
                }
            },
        }
    )
    price = table.price_for("xai", "grok-x")
    assert price is not None
    assert price.verified is False
    assert table.cost_microusd("xai", "grok-x", Usage()) is None
    assert table.cost_microusd("xai", "grok-x", Usage(input_tokens=5)) is None


def test_dated_snapshots_and_prefixed_names_use_the_alias_price(table: PriceTable) -> None:
    assert table.price_for("anthropic", "claude-haiku-4-5-20251001") == table.price_for(
        "anthropic", "claude-haiku-4-5"
    )
    assert table.price_for("openai", "gpt-5.4-nano-2026-03-17") == table.price_for(
        "openai", "gpt-5.4-nano"
    )
    assert table.price_for("gemini", "models/gemini-3.5-flash-lite") == table.price_for(
        "gemini", "gemini-3.5-flash-lite"
    )


def test_local_and_offline_runs_cost_zero(table: PriceTable) -> None:
    usage = Usage(input_tokens=100_000, output_tokens=50_000, images=2)
    assert table.cost_microusd("local", "llama3.2:3b", usage) == 0
    assert table.cost_microusd("offline", "offline-composer", usage) == 0
    assert table.models("local") == []


def test_long_prompt_rate_applies_to_every_token_from_the_threshold(table: PriceTable) -> None:
    below = Usage(input_tokens=199_999, output_tokens=100)
    at = Usage(input_tokens=200_000, output_tokens=100)
    # 199999 × 1.25 + 100 × 2.50 = 249998.75 + 250 = 250248.75 → 250249
    assert table.cost_microusd("xai", "grok-4.20", below) == 250_249
    # 200000 × 2.50 + 100 × 5.00 = 500000 + 500
    assert table.cost_microusd("xai", "grok-4.20", at) == 500_500


def test_request_fee_is_added_per_call(table: PriceTable) -> None:
    usage = Usage(input_tokens=1000, output_tokens=500)
    # 1000 × 1 + 500 × 1 + 1 call × $0.005 (5000 micro-USD)
    assert table.cost_microusd("perplexity", "sonar", usage) == 6_500
    assert table.cost_microusd("perplexity", "sonar", usage, calls=2) == 11_500


def test_images_are_billed_per_image_unless_image_tokens_are_reported(table: PriceTable) -> None:
    # 50 × 2.00 + 1 image × $0.011
    assert table.cost_microusd("openai", "gpt-image-1-mini", Usage(input_tokens=50, images=1)) == (
        11_100
    )
    tokens = Usage(input_tokens=50, output_tokens=4000, images=1)
    # 50 × 2.00 + 4000 × 8.00; the per-image price stands for the image tokens, not on top
    assert table.cost_microusd("openai", "gpt-image-1-mini", tokens) == 32_100


def test_module_helpers_use_the_bundled_table() -> None:
    assert pricing.default_table() is pricing.default_table()
    assert pricing.cost_microusd("openai", "gpt-5.4-nano", Usage(input_tokens=1234)) == 247
    assert pricing.price_for("openai", "omni-moderation-latest") is not None


def test_defaults_name_only_sourced_models() -> None:
    table = PriceTable.load()
    for provider, tasks in DEFAULT_MODELS.items():
        for task, model in tasks.items():
            price = table.price_for(provider, model)
            assert price is not None, f"{provider}/{model} ({task})"
            assert price.verified, f"{provider}/{model} ({task})"
            assert price.model == model
    for provider, models in ALTERNATIVE_MODELS.items():
        for model in models:
            price = table.price_for(provider, model)
            assert price is not None
            assert price.verified
            assert price.model == model


def test_every_text_chain_ends_offline() -> None:
    assert set(DEFAULT_CHAINS) == set(TaskType)
    for task, chain in DEFAULT_CHAINS.items():
        assert chain[-1] == "offline", task
        assert len(chain) == len(set(chain)), task
    assert DEFAULT_CHAINS[TaskType.listing_copy] == ["openai", "anthropic", "gemini", "offline"]
    assert DEFAULT_CHAINS[TaskType.research] == ["perplexity", "openai", "offline"]
    assert DEFAULT_CHAINS[TaskType.moderation] == ["openai", "offline"]
    assert DEFAULT_CHAINS[TaskType.image] == ["openai", "offline"]
    for task, chain in DEFAULT_CHAINS.items():
        for provider in chain[:-1]:
            assert task in DEFAULT_MODELS[provider], f"{provider} has no default for {task}"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"input_per_million": 0.15, "source": "https://x", "date": "2026-01-01"}, "strings"),
        ({"input_per_million": "abc", "source": "https://x", "date": "2026-01-01"}, "number"),
        ({"input_per_million": "-1", "source": "https://x", "date": "2026-01-01"}, "non-negative"),
        ({"input_per_million": "0.15", "date": "2026-01-01"}, "source"),
        ({"input_per_million": "0.15", "source": "https://x"}, "date"),
        ({"input_per_million": "0.15", "source": "unverified"}, "unverified"),
        ({"source": "https://x", "date": "2026-01-01"}, "token price"),
        (
            {
                "input_per_million": "1",
                "source": "https://x",
                "date": "2026-01-01",
                "long_prompt": {"input_per_million": "2"},
            },
            "threshold_tokens",
        ),
    ],
)
def test_malformed_tables_are_rejected(spec: dict[str, Any], message: str) -> None:
    raw = {"version": "t", "currency": "USD", "providers": {"openai": {"models": {"m": spec}}}}
    with pytest.raises(PriceTableError, match=message):
        PriceTable.from_dict(raw)


def test_load_reads_another_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "version": "2027.1.1",
                "currency": "USD",
                "providers": {
                    "openai": {
                        "models": {
                            "m": {
                                "input_per_million": "3",
                                "output_per_million": "7",
                                "source": "https://example.com/pricing",
                                "date": "2027-01-01",
                            }
                        }
                    }
                },
            }
        )
    )
    table = PriceTable.load(path)
    assert table.version == "2027.1.1"
    assert table.cost_microusd("openai", "m", Usage(input_tokens=2, output_tokens=3)) == 27
    with pytest.raises(PriceTableError, match="USD"):
        PriceTable.from_dict({"version": "x", "currency": "EUR", "providers": {}})
