"""The provider-neutral request, response and error types every AI provider speaks.

A provider turns an `AIRequest` into an `AIResponse` (or a stream of `StreamEvent`s) and raises
exactly one of the `ProviderError` subclasses below on failure; the router decides from the class
alone whether to retry, fall back or stop, so a provider never leaks its SDK's exceptions.
"""

from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class TaskType(StrEnum):
    listing_copy = "listing_copy"
    translation = "translation"
    script = "script"
    research = "research"
    moderation = "moderation"
    image = "image"


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class AIRequest(BaseModel):
    task: TaskType
    messages: list[Message] = Field(default_factory=list)
    model: str | None = Field(
        default=None, description="None: the provider's default for the task."
    )
    max_output_tokens: int = Field(default=1200, ge=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    # JSON Schema of the structured output wanted (from a Pydantic model), or None for text.
    json_schema: dict[str, Any] | None = None
    schema_name: str | None = None
    timeout_seconds: float = Field(default=60.0, gt=0)
    # The structured inputs behind the prompt (brief, rules, language, brand voice …). Real
    # providers ignore it (the prompt already carries it); the offline provider composes from it.
    context: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0


class AIResponse(BaseModel):
    text: str
    provider: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str = "stop"
    citations: list[str] = Field(default_factory=list)
    # Set when the model declined (a refusal, a safety block): the router falls back.
    refused: bool = False
    offline: bool = False


class StreamEvent(BaseModel):
    """`delta` events carry text as it arrives; the last event is `done` with the full response."""

    type: Literal["delta", "done"]
    text: str = ""
    response: AIResponse | None = None


class ModerationResult(BaseModel):
    flagged: bool
    categories: dict[str, bool] = Field(default_factory=dict)
    scores: dict[str, float] = Field(default_factory=dict)
    provider: str
    model: str


class ImageResult(BaseModel):
    data: bytes
    media_type: str = "image/png"
    provider: str
    model: str
    revised_prompt: str | None = None


# --- Errors --------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every provider failure. `message` says what happened and what to do."""

    retryable = False
    fallback = True

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ProviderRateLimited(ProviderError):
    """429: retry after `retry_after` seconds (None when the provider did not say)."""

    retryable = True

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """5xx, connection refused or reset: the provider is down or overloaded."""

    retryable = True


class ProviderTimeout(ProviderError):
    """No complete answer within the request's timeout."""

    retryable = True


class ProviderAuthError(ProviderError):
    """Missing, invalid or revoked API key (401/403): fix the key in AI settings."""


class ProviderBadRequest(ProviderError):
    """The provider rejected the request itself (400/404/422): unknown model, bad parameter."""


class ContextTooLong(ProviderBadRequest):
    """The prompt does not fit the model's context window."""


class ContentRefused(ProviderError):
    """The model refused or a safety filter blocked the output."""


class InvalidOutput(ProviderError):
    """The output is not valid JSON for the requested schema (after the repair attempt)."""


class Unsupported(ProviderError):
    """This provider does not do this task (e.g. images on Anthropic)."""


@runtime_checkable
class Provider(Protocol):
    """One configured provider (its SDK client, key and base URL are bound at construction)."""

    name: str  # openai, anthropic, gemini, xai, perplexity, local, offline

    def supports(self, task: TaskType) -> bool: ...

    def default_model(self, task: TaskType) -> str: ...

    async def complete(self, request: AIRequest) -> AIResponse: ...

    def stream(self, request: AIRequest) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...
