"""Default models per provider and task, and the default fallback chain per task.

Every model named here has a sourced price in data/prices.json (tests/ai/test_pricing.py checks
it), so a default can never run at an unknown cost. Text tasks default to each vendor's cheap,
fast model; the larger one is there for workspaces that pick it in AI settings. "offline" closes
every chain, so a workspace without any key still gets an answer.
"""

from flashfusion.ai.types import TaskType

_TEXT_TASKS = (TaskType.listing_copy, TaskType.translation, TaskType.script, TaskType.research)

DEFAULT_MODELS: dict[str, dict[TaskType, str]] = {
    "openai": {
        **dict.fromkeys(_TEXT_TASKS, "gpt-5.4-nano"),
        TaskType.moderation: "omni-moderation-latest",
        TaskType.image: "gpt-image-1-mini",
    },
    "anthropic": dict.fromkeys(_TEXT_TASKS, "claude-haiku-4-5"),
    "gemini": dict.fromkeys(_TEXT_TASKS, "gemini-3.5-flash-lite"),
    "xai": dict.fromkeys(_TEXT_TASKS, "grok-4.20-non-reasoning"),
    # Sonar answers from a live web search with citations: research only.
    "perplexity": {TaskType.research: "sonar"},
}

# Larger models a workspace may choose instead of the default (each priced in prices.json).
ALTERNATIVE_MODELS: dict[str, list[str]] = {
    "openai": ["gpt-5.4-mini"],
    "anthropic": ["claude-sonnet-5-5"],
    "gemini": ["gemini-3.5-flash"],
    "xai": ["grok-4.20"],
}

DEFAULT_CHAINS: dict[TaskType, list[str]] = {
    TaskType.listing_copy: ["openai", "anthropic", "gemini", "offline"],
    TaskType.translation: ["openai", "anthropic", "gemini", "offline"],
    TaskType.script: ["openai", "anthropic", "gemini", "offline"],
    TaskType.research: ["perplexity", "openai", "offline"],
    TaskType.moderation: ["openai", "offline"],
    TaskType.image: ["openai", "offline"],
}


def default_model(provider: str, task: TaskType) -> str | None:
    """The default model of `provider` for `task`; None when the provider decides itself
    (offline, local) or does not do the task."""
    return DEFAULT_MODELS.get(provider, {}).get(task)
