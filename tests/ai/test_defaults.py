"""The default chains and models fit together: each default model is one its sandbox twin serves
and the price table prices, so a fresh workspace's generations are costed, and tests and the
benchmark exercise the models production uses."""

import pytest

from flashfusion.ai.defaults import DEFAULT_CHAINS, DEFAULT_MODELS
from flashfusion.ai.pricing import PriceTable
from flashfusion.ai.providers import PROVIDER_NAMES
from flashfusion.ai.types import TaskType
from flashfusion.sandbox import anthropic_api, gemini_api, openai_api


def twin_models(provider: str) -> set[str]:
    if provider == "anthropic":
        return set(anthropic_api.MODELS)
    if provider == "gemini":
        return set(gemini_api.MODELS)
    known = set(openai_api.MODELS.get(provider, {}))
    if provider == "openai":
        known |= set(openai_api.OPENAI_MODERATION_MODELS) | set(openai_api.OPENAI_IMAGE_MODELS)
    return known


@pytest.mark.parametrize("provider", sorted(set(DEFAULT_MODELS) - {"offline", "local"}))
def test_every_default_model_is_served_by_its_twin_and_priced(provider: str) -> None:
    prices = PriceTable.load()
    for task, model in DEFAULT_MODELS[provider].items():
        assert model in twin_models(provider), (provider, task, model)
        assert prices.price_for(provider, model) is not None, (provider, model)


def test_every_chain_names_known_providers_and_text_chains_end_offline() -> None:
    for task, chain in DEFAULT_CHAINS.items():
        assert set(chain) <= set(PROVIDER_NAMES), task
        if task in (TaskType.listing_copy, TaskType.translation, TaskType.script):
            assert chain[-1] == "offline", task
