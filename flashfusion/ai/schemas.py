import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from flashfusion.kit.schemas import ReadSchema, Schema, TimestampedSchema

# The limits the settings service enforces (and names in its errors); repeated in the field
# descriptions so that the API documentation states them.
MAX_CHAIN_LENGTH = 7
MAX_CACHE_TTL_SECONDS = 30 * 86400


class AISettings(ReadSchema):
    organization_id: uuid.UUID = Field(description="Workspace the settings belong to.")
    chains: dict[str, list[str]] = Field(
        description="The workspace's own provider chain per task type, tried in order; a task "
        "left out uses the default chain (see `effective_chains`)."
    )
    effective_chains: dict[str, list[str]] = Field(
        description="The chain each task type actually uses: the workspace's or the default. "
        "Providers without a key are skipped when generating."
    )
    models: dict[str, dict[str, str]] = Field(
        description="Model overrides: provider → task type → model name (missing: the "
        "provider's default model for the task)."
    )
    plan_tier: str = Field(
        description="Plan tier whose monthly cap applies when no own cap is set."
    )
    monthly_cap_microusd: int | None = Field(
        description="The workspace's own monthly AI budget in micro-USD (1 USD = 1,000,000); "
        "null: the plan tier's cap."
    )
    cap_microusd: int = Field(description="The monthly cap in force, micro-USD.")
    soft_warning_percent: int = Field(
        description="Warn once this share of the monthly cap is spent (1–100)."
    )
    hard_stop: bool = Field(
        description="Stop paid generations when the cap is reached (false: warn only)."
    )
    offline_fallback: bool = Field(
        description="Once the cap is reached, keep writing with the built-in offline provider "
        "instead of refusing (with `hard_stop`)."
    )
    cache_ttl_seconds: int = Field(
        description="How long identical requests are answered from the cache, seconds (0: off)."
    )
    modified_at: datetime | None = Field(
        description="When the settings were last changed (UTC); null while still the defaults."
    )


class AISettingsUpdate(Schema):
    chains: dict[str, list[str]] | None = Field(
        default=None,
        description="Replaces the workspace's chains: task type (listing_copy, translation, "
        "script, research, moderation, image) → provider names (openai, anthropic, gemini, "
        f"xai, perplexity, local, offline), 1–{MAX_CHAIN_LENGTH} distinct, tried in order. "
        "`{}` returns every task to the default chain.",
    )
    models: dict[str, dict[str, str]] | None = Field(
        default=None,
        description="Replaces the model overrides: provider → task type → model name.",
    )
    plan_tier: str | None = Field(
        default=None, description="Plan tier: free, creator, pro or business."
    )
    monthly_cap_microusd: int | None = Field(
        default=None,
        description="Own monthly cap in micro-USD, 0 or more; send null to use the plan "
        "tier's cap again.",
    )
    soft_warning_percent: int | None = Field(
        default=None, description="Warning threshold, percent of the cap (1–100)."
    )
    hard_stop: bool | None = Field(
        default=None, description="Stop paid generations at the cap (false: warn only)."
    )
    offline_fallback: bool | None = Field(
        default=None, description="At the cap, fall back to the offline provider."
    )
    cache_ttl_seconds: int | None = Field(
        default=None,
        description=f"Cache lifetime in seconds, 0 (off) to {MAX_CACHE_TTL_SECONDS} (30 days).",
    )


class AICredentialStatus(ReadSchema):
    provider: str = Field(description="Provider name.")
    label: str = Field(description="Provider name as shown to people.")
    source: Literal["workspace", "instance", "none", "built-in"] = Field(
        description="Where its key comes from: this workspace's own key, the instance's key "
        "(set by the operator), none (the provider is skipped), or built-in (offline)."
    )
    key_hint: str | None = Field(
        description="Last four characters of the workspace's key; the key itself is never shown."
    )
    base_url: str | None = Field(description="API base URL in use; null: the provider's default.")


class AICredentialSet(Schema):
    api_key: str | None = Field(
        default=None,
        description="The provider's API key (8–500 characters). Stored encrypted and never "
        "shown again; optional only for `local`.",
    )
    base_url: str | None = Field(
        default=None,
        description="An http(s) base URL (a proxy, a regional endpoint, a local server); "
        "null: the provider's default.",
    )


class AIGeneration(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace that paid for the generation.")
    user_id: uuid.UUID | None = Field(description="Member who asked (or whose key asked).")
    task: str = Field(description="Task type, e.g. `listing_copy`.")
    provider: str = Field(description="Provider that answered (the last one tried on failure).")
    model: str = Field(description="Model that answered.")
    status: str = Field(description="`succeeded` or `failed`.")
    input_tokens: int = Field(description="Prompt tokens, all attempts.")
    output_tokens: int = Field(description="Output tokens, all attempts.")
    images: int = Field(description="Images generated.")
    cost_microusd: int | None = Field(
        description="Cost of every attempt in micro-USD; null when a price was unknown."
    )
    price_version: str = Field(description="Version of the price table the cost came from.")
    latency_ms: int = Field(description="Time to the answer, milliseconds.")
    cache_hit: bool = Field(description="Answered from the cache (no provider called).")
    fallback_path: list[dict[str, Any]] = Field(
        description="Every attempt in order: provider, model, outcome, error, latency, retries."
    )
    repaired: bool = Field(description="The output needed one repair round to match the schema.")
    prompt_name: str | None = Field(description="Prompt template name.")
    prompt_version: str | None = Field(description="Prompt template version.")
    prompt_sha256: str | None = Field(description="Hash of the prompt template text.")
    product_id: uuid.UUID | None = Field(description="Product the generation was for.")
    listing_copy_id: uuid.UUID | None = Field(description="Listing copy the generation wrote.")
    error: str | None = Field(description="Why it failed (each provider's reason).")


class CostGroup(ReadSchema):
    key: str | None = Field(
        description="The provider, task type, product id or listing copy id (null: none)."
    )
    generations: int = Field(description="Generations in the group.")
    cost_microusd: int = Field(description="Their known cost, micro-USD.")
    input_tokens: int = Field(description="Prompt tokens.")
    output_tokens: int = Field(description="Output tokens.")
    cache_hits: int = Field(description="Generations answered from the cache.")
    unpriced: int = Field(description="Generations whose cost is unknown (not in the total).")


class BudgetStatus(ReadSchema):
    plan_tier: str = Field(description="Plan tier.")
    cap_microusd: int = Field(description="Monthly cap in force, micro-USD.")
    spent_microusd: int = Field(description="Spent this calendar month (UTC), micro-USD.")
    remaining_microusd: int = Field(description="Left this month, micro-USD (never below 0).")
    soft_warning_percent: int = Field(description="Warning threshold, percent of the cap.")
    hard_stop: bool = Field(description="Paid generations stop at the cap.")
    offline_fallback: bool = Field(description="At the cap, the offline provider writes.")
    allowed: bool = Field(description="Paid providers may be called now.")
    offline_only: bool = Field(description="Only the offline provider writes until next month.")
    warning: str | None = Field(description="What the creator is told about the budget now.")


class AICosts(ReadSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    since: datetime = Field(description="Start of the period (UTC).")
    generations: int = Field(description="Generations in the period.")
    cost_microusd: int = Field(description="Known cost of the period, micro-USD.")
    unpriced: int = Field(description="Generations whose cost is unknown.")
    cache_hits: int = Field(description="Generations answered from the cache.")
    cache_hit_rate: float | None = Field(
        description="Cache hits ÷ generations (0–1); null without generations."
    )
    by_provider: list[CostGroup] = Field(description="Per provider, costliest first.")
    by_task: list[CostGroup] = Field(description="Per task type, costliest first.")
    by_product: list[CostGroup] = Field(description="Per product, costliest first.")
    by_listing_copy: list[CostGroup] = Field(description="Per listing copy, costliest first.")
    month_to_date_microusd: int = Field(description="Spent this calendar month (UTC), micro-USD.")
    budget: BudgetStatus = Field(description="The monthly budget and what it allows now.")
