"""One provider for every OpenAI-compatible API: OpenAI, xAI Grok, Perplexity and local servers
(Ollama, llama.cpp, vLLM), all through the official `openai` SDK with only the base URL changed.

Base URLs: OpenAI https://api.openai.com/v1 (the SDK default); xAI https://api.x.ai/v1
(docs.x.ai/api/integrations); Perplexity https://api.perplexity.ai
(docs.perplexity.ai/docs/sonar/openai-compatibility); Ollama http://localhost:11434/v1 with a key
that is "required but ignored" (ollama/ollama docs/api/openai-compatibility.mdx).

Structured output: OpenAI and xAI take `response_format: json_schema` with `strict`
(docs.x.ai/developers/model-capabilities/text/structured-outputs); Perplexity takes json_schema
with a 1–64 character alphanumeric name and no strict flag
(docs.perplexity.ai/docs/grounded-llm/output-control/structured-outputs; LangChain's
ChatPerplexity notes `strict` is ignored); Ollama documents JSON mode and `response_format`
(openai-compatibility.mdx) and answers json_schema (open-webui/open-webui#12125), but servers vary,
so local requests also carry the schema in a system message.

SDK retries are off (`max_retries=0`): the router retries. Every SDK exception becomes exactly one
`flashfusion.ai.types.ProviderError`; the API key never appears in a message.
"""

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar

import httpx
import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    ChatCompletionStreamOptionsParam,
)
from openai.types.chat.completion_create_params import ResponseFormat

from flashfusion.ai.types import (
    AIRequest,
    AIResponse,
    ContentRefused,
    ContextTooLong,
    ImageResult,
    InvalidOutput,
    ModerationResult,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamEvent,
    TaskType,
    Unsupported,
    Usage,
)

T = TypeVar("T")

_TEXT_TASKS = frozenset(
    {TaskType.listing_copy, TaskType.translation, TaskType.script, TaskType.research}
)


@dataclass(frozen=True)
class VendorInfo:
    """What differs between the OpenAI-compatible vendors."""

    label: str
    base_url: str
    tasks: frozenset[TaskType]
    needs_key: bool
    # OpenAI deprecated max_tokens for max_completion_tokens (the SDK marks max_tokens so);
    # Perplexity and Ollama document max_tokens.
    max_tokens_param: Literal["max_completion_tokens", "max_tokens"]
    # "strict": json_schema with strict (when the schema allows it); "schema": json_schema without
    # strict; "schema+prompt": json_schema and the schema restated in a system message.
    structured: Literal["strict", "schema", "schema+prompt"]
    # Models that take only the default temperature: GPT-5 (diffbot/code-gpt-docs#445,
    # johny-b/llmcomp#69 for gpt-5.4, BerriAI/litellm#34210 for gpt-5.5); the o-series reasoning
    # models are included unverified (leaving temperature out is harmless).
    default_temperature_only: tuple[str, ...] = ()


VENDORS: dict[str, VendorInfo] = {
    "openai": VendorInfo(
        label="OpenAI",
        base_url="https://api.openai.com/v1",
        tasks=_TEXT_TASKS | {TaskType.moderation, TaskType.image},
        needs_key=True,
        max_tokens_param="max_completion_tokens",
        structured="strict",
        default_temperature_only=("gpt-5", "o1", "o3", "o4"),
    ),
    "xai": VendorInfo(
        label="xAI",
        base_url="https://api.x.ai/v1",
        tasks=_TEXT_TASKS,
        needs_key=True,
        max_tokens_param="max_completion_tokens",
        structured="strict",
    ),
    "perplexity": VendorInfo(
        label="Perplexity",
        base_url="https://api.perplexity.ai",
        tasks=frozenset({TaskType.research}),
        needs_key=True,
        max_tokens_param="max_tokens",
        structured="schema",
    ),
    "local": VendorInfo(
        label="Local AI server",
        base_url="http://localhost:11434/v1",
        tasks=_TEXT_TASKS,
        needs_key=False,
        max_tokens_param="max_tokens",
        structured="schema+prompt",
    ),
}

# What the SDK sends as the key to a local server that has none ("required but ignored").
_LOCAL_PLACEHOLDER_KEY = "ollama"
_IMAGE_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# Error codes meaning a safety system blocked the request: gpt-image's moderation_blocked
# (ucx0204/CarrotMangaTranslator#122) and the older content_policy_violation.
_BLOCKED_CODES = frozenset({"moderation_blocked", "content_policy_violation", "content_filter"})
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```\s*$", re.DOTALL)


class OpenAICompatibleProvider:
    """A `Provider` for one OpenAI-compatible vendor (its key and base URL bound at construction).

    `http_client` is used as given and not closed by `aclose()` (its owner closes it).
    """

    def __init__(
        self,
        name: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        default_models: Mapping[TaskType, str],
    ) -> None:
        if name not in VENDORS:
            raise ValueError(
                f"unknown OpenAI-compatible vendor {name!r}; use one of {list(VENDORS)}"
            )
        self.name = name
        self.vendor = VENDORS[name]
        self.base_url = (base_url or self.vendor.base_url).rstrip("/")
        self._default_models = dict(default_models)
        self._api_key = api_key or None
        self._owns_http = http_client is None
        self._client: openai.AsyncOpenAI | None = None
        key = self._api_key or (None if self.vendor.needs_key else _LOCAL_PLACEHOLDER_KEY)
        if key is not None:
            self._client = openai.AsyncOpenAI(
                api_key=key,
                base_url=self.base_url,
                # The SDK types it as httpx2.AsyncClient but accepts httpx.AsyncClient too.
                http_client=http_client,  # type: ignore[arg-type]
                max_retries=0,
            )
            # Keys, organisations and projects come from AI settings, never from OPENAI_* variables
            # the SDK would otherwise read (and send to other vendors as headers).
            self._client.organization = None
            self._client.project = None
            self._client.admin_api_key = None

    def supports(self, task: TaskType) -> bool:
        return task in self.vendor.tasks

    def default_model(self, task: TaskType) -> str:
        if not self.supports(task):
            raise Unsupported(self.name, f"{self.vendor.label} does not do {task.value}.")
        model = self._default_models.get(task)
        if not model:
            raise Unsupported(
                self.name,
                f"No {self.vendor.label} model is set for {task.value}: choose one in AI settings.",
            )
        return model

    async def complete(self, request: AIRequest) -> AIResponse:
        client, model = self._prepare(request)
        completion: ChatCompletion = await self._run(
            client.chat.completions.create(
                model=model,
                messages=self._messages(request),
                stream=False,
                timeout=request.timeout_seconds,
                **self._options(request, model),
            ),
            request.timeout_seconds,
            model,
        )
        if not completion.choices:
            raise InvalidOutput(self.name, f"{self.vendor.label} returned no answer: try again.")
        choice = completion.choices[0]
        if choice.message.refusal or choice.finish_reason == "content_filter":
            raise self._refused(choice.message.refusal)
        usage = Usage()
        if completion.usage is not None:
            usage = Usage(
                input_tokens=completion.usage.prompt_tokens,
                output_tokens=completion.usage.completion_tokens,
            )
        return AIResponse(
            text=self._clean(choice.message.content or "", request),
            provider=self.name,
            model=completion.model or model,
            usage=usage,
            finish_reason=choice.finish_reason,
            citations=_citations(completion),
        )

    async def stream(self, request: AIRequest) -> AsyncIterator[StreamEvent]:
        """Text deltas as they arrive, then `done` with the full response and its usage."""
        client, model = self._prepare(request)
        deadline = asyncio.get_running_loop().time() + request.timeout_seconds
        include_usage: ChatCompletionStreamOptionsParam = {"include_usage": True}
        chunks = await self._run(
            client.chat.completions.create(
                model=model,
                messages=self._messages(request),
                stream=True,
                stream_options=include_usage,
                timeout=request.timeout_seconds,
                **self._options(request, model),
            ),
            request.timeout_seconds,
            model,
            deadline=deadline,
        )
        parts: list[str] = []
        refusal: list[str] = []
        usage = Usage()
        finish_reason = "stop"
        citations: list[str] = []
        reported_model = model
        try:
            iterator = chunks.__aiter__()
            while True:
                chunk = await self._run(
                    _next(iterator), request.timeout_seconds, model, deadline=deadline
                )
                if chunk is None:
                    break
                reported_model = chunk.model or reported_model
                citations = _citations(chunk) or citations
                if chunk.usage is not None:
                    usage = Usage(
                        input_tokens=chunk.usage.prompt_tokens,
                        output_tokens=chunk.usage.completion_tokens,
                    )
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                    if choice.delta.refusal:
                        refusal.append(choice.delta.refusal)
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                        yield StreamEvent(type="delta", text=choice.delta.content)
        finally:
            await chunks.close()
        if refusal or finish_reason == "content_filter":
            raise self._refused("".join(refusal) or None)
        response = AIResponse(
            text=self._clean("".join(parts), request),
            provider=self.name,
            model=reported_model,
            usage=usage,
            finish_reason=finish_reason,
            citations=citations,
        )
        yield StreamEvent(type="done", response=response)

    async def moderate(self, text: str, *, timeout_seconds: float = 30.0) -> ModerationResult:
        """Moderation verdict for `text` from the vendor's moderation model."""
        client = self._require_client()
        model = self.default_model(TaskType.moderation)
        result = await self._run(
            client.moderations.create(model=model, input=text, timeout=timeout_seconds),
            timeout_seconds,
            model,
        )
        if not result.results:
            raise InvalidOutput(self.name, f"{self.vendor.label} returned no moderation verdict.")
        verdict = result.results[0]
        categories = verdict.categories.model_dump(by_alias=True)
        scores = verdict.category_scores.model_dump(by_alias=True)
        return ModerationResult(
            flagged=verdict.flagged,
            categories={k: bool(v) for k, v in categories.items() if v is not None},
            scores={k: float(v) for k, v in scores.items() if v is not None},
            provider=self.name,
            model=result.model or model,
        )

    async def generate_image(
        self,
        prompt: str,
        *,
        size: str = "1024x1024",
        model: str | None = None,
        timeout_seconds: float = 120.0,
    ) -> ImageResult:
        """One image for `prompt` (GPT image models answer base64 PNG by default)."""
        client = self._require_client()
        chosen = model or self.default_model(TaskType.image)
        result = await self._run(
            client.images.generate(
                model=chosen, prompt=prompt, size=size, n=1, timeout=timeout_seconds
            ),
            timeout_seconds,
            chosen,
        )
        image = result.data[0] if result.data else None
        if image is None or not image.b64_json:
            raise InvalidOutput(
                self.name, f"{self.vendor.label} returned no image data: try again."
            )
        return ImageResult(
            data=base64.b64decode(image.b64_json),
            media_type=_IMAGE_MEDIA_TYPES.get(result.output_format or "png", "image/png"),
            provider=self.name,
            model=chosen,
            revised_prompt=image.revised_prompt,
        )

    async def aclose(self) -> None:
        if self._client is not None and self._owns_http:
            await self._client.close()

    # --- request building ----------------------------------------------------------------

    def _prepare(self, request: AIRequest) -> tuple[openai.AsyncOpenAI, str]:
        if not self.supports(request.task):
            raise Unsupported(self.name, f"{self.vendor.label} does not do {request.task.value}.")
        client = self._require_client()
        return client, request.model or self.default_model(request.task)

    def _require_client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            raise ProviderAuthError(
                self.name, f"No {self.vendor.label} API key is set: add one in AI settings."
            )
        return self._client

    def _messages(self, request: AIRequest) -> list[ChatCompletionMessageParam]:
        messages: list[ChatCompletionMessageParam] = []
        for message in request.messages:
            if message.role == "system":
                messages.append({"role": "system", "content": message.content})
            elif message.role == "user":
                messages.append({"role": "user", "content": message.content})
            else:
                messages.append({"role": "assistant", "content": message.content})
        if request.json_schema is not None and self.vendor.structured == "schema+prompt":
            schema = json.dumps(request.json_schema, ensure_ascii=False)
            messages.append(
                {
                    "role": "system",
                    "content": "Answer with one JSON object that matches this JSON Schema and "
                    f"nothing else:\n{schema}",
                }
            )
        return messages

    def _options(self, request: AIRequest, model: str) -> dict[str, Any]:
        options: dict[str, Any] = {self.vendor.max_tokens_param: request.max_output_tokens}
        fixed = self.vendor.default_temperature_only
        if not (fixed and model.startswith(fixed)):
            options["temperature"] = request.temperature
        if request.json_schema is not None:
            options["response_format"] = self._response_format(request)
        return options

    def _response_format(self, request: AIRequest) -> ResponseFormat:
        assert request.json_schema is not None
        name = re.sub(r"[^A-Za-z0-9]", "", request.schema_name or "")[:64] or "Output"
        strict = strict_json_schema(request.json_schema)
        if self.vendor.structured == "schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": strict or request.json_schema},
            }
        if self.vendor.structured == "strict" and strict is not None:
            return {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": strict, "strict": True},
            }
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": strict or request.json_schema, "strict": False},
        }

    def _clean(self, text: str, request: AIRequest) -> str:
        """Structured answers without the ```json fences some local models wrap them in."""
        if request.json_schema is None:
            return text
        match = _FENCE.match(text.strip())
        return match.group(1) if match else text

    # --- errors --------------------------------------------------------------------------

    async def _run(
        self,
        awaitable: Awaitable[T],
        timeout: float,
        model: str,
        *,
        deadline: float | None = None,
    ) -> T:
        """Await an SDK call within the request's timeout, mapping every failure to one
        `ProviderError` (the SDK's own timeout is per read, and ASGI transports have none)."""
        try:
            if deadline is None:
                async with asyncio.timeout(timeout):
                    return await awaitable
            async with asyncio.timeout_at(deadline):
                return await awaitable
        except TimeoutError:
            raise ProviderTimeout(
                self.name,
                f"{self.vendor.label} gave no complete answer within {timeout:g} s: try again, "
                "allow more time, or pick a faster model.",
            ) from None
        except openai.OpenAIError as exc:
            error = self._map_error(exc, model)
            # The SDK exception holds the request (its Authorization header) and the vendor's
            # text (a 401 echoes the masked key): keep it out of the chain and so out of logs.
            raise error from None

    def _map_error(self, exc: openai.OpenAIError, model: str) -> ProviderError:
        label = self.vendor.label
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout(
                self.name, f"{label} did not answer in time: try again or allow more time."
            )
        if isinstance(exc, openai.APIConnectionError):
            where = "is the local server running? " if self.name == "local" else ""
            return ProviderUnavailable(
                self.name,
                f"Could not reach {label} at {self.base_url}: {where}check the network and the "
                "base URL in AI settings.",
            )
        if not isinstance(exc, openai.APIStatusError):
            return ProviderUnavailable(
                self.name, f"{label} sent an answer that could not be read: try again."
            )
        status = exc.status_code
        code = exc.code or ""
        detail = self._vendor_message(exc)
        # The vendor's request id lets its support find the call; it is no secret.
        ref = f" [request {exc.request_id}]" if exc.request_id else ""
        if status == 429:
            if code == "insufficient_quota":
                return ProviderAuthError(
                    self.name,
                    f"{label} says this key has no quota left: add credit to the {label} account "
                    "or set another key in AI settings.",
                )
            retry_after = _retry_after(exc.response.headers)
            wait = f" (retry after {retry_after:g} s)" if retry_after is not None else ""
            return ProviderRateLimited(
                self.name,
                f"{label} is rate limiting this key{wait}: wait and retry, or lower the request "
                "rate in AI settings.",
                retry_after=retry_after,
            )
        if status >= 500 or status == 409:
            return ProviderUnavailable(
                self.name,
                f"{label} had a server error (HTTP {status}): try again shortly or let another "
                f"provider answer.{ref}",
            )
        if status == 408:
            return ProviderTimeout(self.name, f"{label} timed out the request: try again.")
        if status == 401:
            return ProviderAuthError(
                self.name,
                f"{label} rejected the API key (HTTP 401): set a valid {label} key in AI settings.",
            )
        if status == 403:
            return ProviderAuthError(
                self.name,
                f"{label} refused this key access (HTTP 403): check the key's permissions or set "
                "another key in AI settings.",
            )
        if code in _BLOCKED_CODES:
            return ContentRefused(
                self.name,
                f"{label}'s safety system blocked the request: rephrase it or let another "
                "provider try.",
            )
        if code == "context_length_exceeded" or "context length" in detail.lower():
            return ContextTooLong(
                self.name,
                f"The prompt does not fit the context window of {model}: shorten the input or "
                f"pick a model with a larger context. ({detail})",
            )
        if status == 404:
            if code == "model_not_found" or "model" in detail.lower():
                return ProviderBadRequest(
                    self.name,
                    f"unknown model '{model}' at {label}: choose another model in AI settings.",
                )
            return ProviderBadRequest(
                self.name,
                f"{label} has no such endpoint (HTTP 404) at {self.base_url}: check the base URL "
                "in AI settings.",
            )
        return ProviderBadRequest(
            self.name,
            f"{label} rejected the request (HTTP {status}): {detail} Check the model and its "
            f"settings in AI settings.{ref}",
        )

    def _vendor_message(self, exc: openai.APIStatusError) -> str:
        body = exc.body
        message = body.get("message") if isinstance(body, dict) else None
        text = str(message) if message else exc.response.reason_phrase or "no details"
        if self._api_key:
            text = text.replace(self._api_key, "[key]")
        return text[:400]

    def _refused(self, refusal: str | None) -> ContentRefused:
        said = f": {refusal.strip().rstrip('.')}" if refusal else " (content filter)"
        return ContentRefused(
            self.name,
            f"{self.vendor.label} declined to answer{said}. Rephrase the request or let another "
            "provider try.",
        )


def strict_json_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """`schema` in OpenAI's strict form (every object closed with `additionalProperties: false`
    and all its properties required, `$ref`s inlined), or None when it cannot be made strict
    (open objects such as dict fields, recursive references, `oneOf`, tuples)."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    try:
        return _strict(dict(schema), defs, ())
    except _NotStrict:
        return None


class _NotStrict(Exception):
    pass


def _strict(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _NotStrict
    node = {k: v for k, v in node.items() if k not in ("$defs", "definitions")}
    ref = node.pop("$ref", None)
    if ref is not None:
        name = str(ref).rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            raise _NotStrict  # recursive or external: cannot be inlined
        # Keywords beside the $ref (a description) win over the referenced schema's.
        return _strict({**defs[name], **node}, defs, (*seen, name))
    if "allOf" in node:
        parts = node.pop("allOf")
        if not isinstance(parts, list) or len(parts) != 1:
            raise _NotStrict
        return _strict({**parts[0], **node}, defs, seen)
    if "oneOf" in node or "prefixItems" in node or isinstance(node.get("items"), list):
        raise _NotStrict
    if "default" in node and node["default"] is None:
        del node["default"]  # as the SDK's to_strict_json_schema does
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties", False) is not False:
            raise _NotStrict
        properties = node.get("properties") or {}
        node["properties"] = {k: _strict(v, defs, seen) for k, v in properties.items()}
        node["required"] = list(properties)
        node["additionalProperties"] = False
    if "items" in node:
        node["items"] = _strict(node["items"], defs, seen)
    if "anyOf" in node:
        node["anyOf"] = [_strict(option, defs, seen) for option in node["anyOf"]]
    return node


def _citations(payload: ChatCompletion | ChatCompletionChunk) -> list[str]:
    """Perplexity's top-level `citations` URLs, else the URLs of its `search_results`."""
    citations = getattr(payload, "citations", None)
    if isinstance(citations, list) and citations:
        return [str(url) for url in citations]
    results = getattr(payload, "search_results", None)
    if isinstance(results, list):
        return [str(r["url"]) for r in results if isinstance(r, dict) and r.get("url")]
    return []


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms`, then `retry-after` (seconds or an HTTP date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def _next(iterator: AsyncIterator[T]) -> T | None:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return None
