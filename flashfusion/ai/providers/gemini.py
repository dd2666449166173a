"""Gemini through the official `google-genai` SDK (Gemini Developer API, API-key auth).

The HTTP client is injected with `HttpOptions(httpx_async_client=...)`: google-genai 3.6.1 takes an
`httpx.AsyncClient` or an `httpx2.AsyncClient` there (google/genai/types.py `HttpxAsyncClient`)
and then sends every async request through it (google/genai/_api_client.py) — so tests hand it a
client on `httpx.ASGITransport` and reach the sandbox twin in-process. The SDK's retries are off
(`HttpRetryOptions(attempts=1)`): the router owns retries and fallbacks.

Structured output is `response_mime_type="application/json"` with `response_json_schema` (JSON
Schema as Pydantic emits it; the SDK sends it unchanged as `responseJsonSchema`). Blocks — a
`promptFeedback.blockReason` or a candidate finished for SAFETY and its kin — are `ContentRefused`.
Google answers a 429 without Retry-After; the wait is the `google.rpc.RetryInfo.retryDelay` in the
error details (github.com/dcdpr/jp/pull/1061), read here, with the header as a fallback.
`request.timeout_seconds` is both the SDK's per-call timeout and a deadline for the whole answer.
SDK exceptions are not chained onto ours: Google's error details echo the API key (DebugInfo
"Invalid API key: …", github.com/google/timesketch/pull/3703), and a chained traceback would log it.
"""

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from flashfusion.ai.types import (
    AIRequest,
    AIResponse,
    ContentRefused,
    ContextTooLong,
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

TEXT_TASKS = frozenset(
    {TaskType.listing_copy, TaskType.translation, TaskType.script, TaskType.research}
)
# FinishReason values (google/genai/types.py) that mean the output was withheld.
_BLOCKED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
    }
)
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_SDK_ERRORS = (
    genai_errors.APIError,
    genai_errors.UnknownApiResponseError,
    httpx.TransportError,
    httpx2.TransportError,
)


class GeminiProvider:
    """One configured Gemini API key: base URL, HTTP client and per-task default models."""

    name = "gemini"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        default_models: Mapping[TaskType, str],
    ) -> None:
        self._api_key = api_key or None
        self._default_models = dict(default_models)
        options = genai_types.HttpOptions(
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        )
        if base_url:
            options.base_url = base_url
        # Without a client of ours the SDK would pick aiohttp when it is installed, whose errors
        # are not httpx's; with one, every transport error is an httpx(2) one (mapped below).
        self._own_http = httpx2.AsyncClient(timeout=None) if http_client is None else None
        options.httpx_async_client = http_client if http_client is not None else self._own_http
        # Without a key the SDK would read GOOGLE_API_KEY / GEMINI_API_KEY from the environment;
        # a provider is configured explicitly or not at all.
        self._client = (
            genai.Client(enterprise=False, api_key=self._api_key, http_options=options)
            if self._api_key
            else None
        )

    def supports(self, task: TaskType) -> bool:
        return task in TEXT_TASKS

    def default_model(self, task: TaskType) -> str:
        if not self.supports(task):
            raise Unsupported(
                self.name, f"Gemini does not do {task.value} here; pick another provider"
            )
        model = self._default_models.get(task)
        if model is None:
            raise Unsupported(
                self.name,
                f"no default Gemini model is set for {task.value}; set one in AI settings",
            )
        return model

    async def complete(self, request: AIRequest) -> AIResponse:
        client, model, contents, config = self._prepare(request)
        try:
            async with asyncio.timeout(request.timeout_seconds):
                response = await client.aio.models.generate_content(
                    model=model, contents=contents, config=config
                )
        except TimeoutError:
            raise self._timed_out(request) from None
        except _SDK_ERRORS as exc:
            raise self._translate(exc, model, request) from None
        text, finish = self._read(response)
        return AIResponse(
            text=text,
            provider=self.name,
            model=response.model_version or model,
            usage=_usage(response.usage_metadata),
            finish_reason=_FINISH.get(finish or "", (finish or "stop").lower()),
        )

    async def stream(self, request: AIRequest) -> AsyncIterator[StreamEvent]:
        client, model, contents, config = self._prepare(request)
        deadline = asyncio.get_running_loop().time() + request.timeout_seconds
        parts: list[str] = []
        finish: str | None = None
        served_model = model
        usage = Usage()
        try:
            async with asyncio.timeout_at(deadline):
                chunks = await client.aio.models.generate_content_stream(
                    model=model, contents=contents, config=config
                )
            iterator = aiter(chunks)
            try:
                while True:
                    async with asyncio.timeout_at(deadline):
                        try:
                            chunk = await anext(iterator)
                        except StopAsyncIteration:
                            break
                    text, chunk_finish = self._read(chunk)
                    finish = chunk_finish or finish
                    served_model = chunk.model_version or served_model
                    # Every chunk's usageMetadata is a running total; the last one is final.
                    if chunk.usage_metadata is not None:
                        usage = _usage(chunk.usage_metadata)
                    if text:
                        parts.append(text)
                        yield StreamEvent(type="delta", text=text)
            finally:
                close = getattr(iterator, "aclose", None)
                if close is not None:
                    await close()
        except TimeoutError:
            raise self._timed_out(request) from None
        except _SDK_ERRORS as exc:
            raise self._translate(exc, model, request) from None
        response = AIResponse(
            text="".join(parts),
            provider=self.name,
            model=served_model,
            usage=usage,
            finish_reason=_FINISH.get(finish or "", (finish or "stop").lower()),
        )
        yield StreamEvent(type="done", response=response)

    async def aclose(self) -> None:
        if self._client is not None:
            # Closes only the clients the SDK made itself, never an injected one.
            await self._client.aio.aclose()
            self._client.close()
        if self._own_http is not None:
            await self._own_http.aclose()

    # --- internals ---------------------------------------------------------------------------

    def _prepare(
        self, request: AIRequest
    ) -> tuple[genai.Client, str, list[genai_types.Content], genai_types.GenerateContentConfig]:
        if not self.supports(request.task):
            raise Unsupported(
                self.name, f"Gemini does not do {request.task.value} here; pick another provider"
            )
        if self._client is None:
            raise ProviderAuthError(
                self.name, "no Gemini API key is configured; add one in AI settings"
            )
        model = request.model or self.default_model(request.task)
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        contents = [
            genai_types.Content(
                role="user" if m.role == "user" else "model",
                parts=[genai_types.Part(text=m.content)],
            )
            for m in request.messages
            if m.role != "system"
        ]
        if not contents:
            raise ProviderBadRequest(
                self.name, "the request has no user message; put the prompt in a user message"
            )
        config = genai_types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=request.temperature,
            max_output_tokens=request.max_output_tokens,
            # HttpOptions.timeout is in milliseconds.
            http_options=genai_types.HttpOptions(
                timeout=max(1, math.ceil(request.timeout_seconds * 1000))
            ),
        )
        if request.json_schema is not None:
            config.response_mime_type = "application/json"
            config.response_json_schema = request.json_schema
        return self._client, model, contents, config

    def _read(self, response: genai_types.GenerateContentResponse) -> tuple[str, str | None]:
        """The answer text and finish reason; a blocked prompt or answer is `ContentRefused`."""
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            raise ContentRefused(
                self.name,
                f"Gemini blocked the prompt ({_value(feedback.block_reason)}); rephrase the "
                "request or use another provider",
            )
        if not response.candidates:
            return "", None
        candidate = response.candidates[0]
        finish = _value(candidate.finish_reason) if candidate.finish_reason is not None else None
        if finish in _BLOCKED:
            raise ContentRefused(
                self.name,
                f"Gemini withheld the answer ({finish}); rephrase the request or use another "
                "provider",
            )
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        return "".join(p.text for p in parts if p.text and not p.thought), finish

    def _timed_out(self, request: AIRequest) -> ProviderTimeout:
        return ProviderTimeout(
            self.name,
            f"no complete answer within {request.timeout_seconds:g} s; retry, raise the timeout, "
            "or ask for a shorter answer",
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def _translate(self, exc: Exception, model: str, request: AIRequest) -> ProviderError:
        """The one `ProviderError` for an SDK exception; its message never carries the key."""
        if isinstance(exc, httpx.TimeoutException | httpx2.TimeoutException):
            return self._timed_out(request)
        if isinstance(exc, httpx.TransportError | httpx2.TransportError):
            return ProviderUnavailable(
                self.name, "could not reach the Gemini API; check the network or base URL, retry"
            )
        if not isinstance(exc, genai_errors.APIError):
            return ProviderUnavailable(
                self.name, "the Gemini API sent an unreadable answer; retry or use another provider"
            )
        code, status = exc.code, exc.status or ""
        detail = self._redact(str(exc.message or "")).rstrip(". ")
        said = f": {detail}" if detail else ""
        details = _details(exc)
        if code == 429 or status == "RESOURCE_EXHAUSTED":
            retry_after = _retry_delay(details)
            if retry_after is None and exc.response is not None:
                retry_after = _seconds(exc.response.headers.get("retry-after"))
            wait = f"retry after {retry_after:g} s" if retry_after is not None else "retry later"
            return ProviderRateLimited(
                self.name,
                f"quota or rate limit reached ({code} {status}); {wait}, or raise the quota in "
                "Google AI Studio",
                retry_after=retry_after,
            )
        key_invalid = any(d.get("reason") == "API_KEY_INVALID" for d in details)
        if key_invalid or code in (401, 403) or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return ProviderAuthError(
                self.name,
                f"the API key was refused ({code} {status}); check or replace the Gemini key in "
                "AI settings",
            )
        if code == 504 or status == "DEADLINE_EXCEEDED":
            return self._timed_out(request)
        if code >= 500:
            return ProviderUnavailable(
                self.name,
                f"Gemini is unavailable ({code} {status}){said}; retry shortly or use another "
                "provider",
            )
        if "input token count" in detail and "exceeds the maximum" in detail:
            return ContextTooLong(
                self.name,
                f"the prompt does not fit {model}{said}; shorten the input or pick a model with a "
                "larger context window",
            )
        if code == 404 or status == "NOT_FOUND":
            return ProviderBadRequest(
                self.name,
                f"model {model!r} is not available ({code} {status}); pick another model in AI "
                "settings",
            )
        return ProviderBadRequest(
            self.name, f"Gemini rejected the request ({code} {status}){said}; fix the request"
        )


def _value(enum_or_str: Any) -> str:
    return str(getattr(enum_or_str, "value", enum_or_str))


def _usage(metadata: genai_types.GenerateContentResponseUsageMetadata | None) -> Usage:
    if metadata is None:
        return Usage()
    # Thinking tokens are billed as output tokens.
    output = (metadata.candidates_token_count or 0) + (metadata.thoughts_token_count or 0)
    return Usage(input_tokens=metadata.prompt_token_count or 0, output_tokens=output)


def _details(exc: genai_errors.APIError) -> list[dict[str, Any]]:
    """The `error.details` list of Google's error body (ErrorInfo, RetryInfo, …)."""
    body = exc.details
    error = body.get("error", body) if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            # A protobuf Duration in JSON: decimal seconds with an "s", such as "45.8379s".
            if isinstance(delay, str) and delay.endswith("s"):
                return _seconds(delay[:-1])
    return None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
