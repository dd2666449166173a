"""The provider registry: build a configured provider by name.

SDK modules are imported on first use, so a process that never calls a real provider never pays
for importing them.
"""

from collections.abc import Mapping

import httpx

from flashfusion.ai.types import Provider, TaskType

PROVIDER_NAMES = ("openai", "anthropic", "gemini", "xai", "perplexity", "local", "offline")
PROVIDER_LABELS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Google Gemini",
    "xai": "xAI Grok",
    "perplexity": "Perplexity",
    "local": "Local model (OpenAI-compatible server)",
    "offline": "Offline (built in)",
}
# Providers that work without an API key.
KEYLESS = frozenset({"local", "offline"})


class UnknownProvider(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown AI provider {name!r}; choose from {', '.join(PROVIDER_NAMES)}")


def build_provider(
    name: str,
    *,
    api_key: str | None,
    base_url: str | None,
    http_client: httpx.AsyncClient | None,
    default_models: Mapping[TaskType, str],
) -> Provider:
    if name == "offline":
        from flashfusion.ai.providers.offline import OfflineProvider

        return OfflineProvider()
    if name == "anthropic":
        from flashfusion.ai.providers.anthropic import AnthropicProvider

        return AnthropicProvider(
            api_key=api_key,
            base_url=base_url,
            http_client=http_client,
            default_models=default_models,
        )
    if name == "gemini":
        from flashfusion.ai.providers.gemini import GeminiProvider

        return GeminiProvider(
            api_key=api_key,
            base_url=base_url,
            http_client=http_client,
            default_models=default_models,
        )
    if name in ("openai", "xai", "perplexity", "local"):
        from flashfusion.ai.providers.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider(
            name,
            api_key=api_key,
            base_url=base_url,
            http_client=http_client,
            default_models=default_models,
        )
    raise UnknownProvider(name)
