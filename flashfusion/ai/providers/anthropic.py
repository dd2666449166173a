"""Claude through the official `anthropic` SDK (Messages API).

Structured output uses the API's native JSON outputs, `output_config.format = {"type":
"json_schema", ...}` (https://platform.claude.com/docs/en/build-with-claude/structured-outputs),
with the schema passed through the SDK's own `transform_schema`; the answer is one text block of
JSON. Forced tool use is not an option: Claude Sonnet 5.5 rejects it ("forced tool use returns
an error", docs.oxen.ai/inference-api/reference/models/claude-sonnet-5-5). This SDK's
`messages.create` has no `temperature` parameter any more, and current models do not take
non-default sampling parameters (docs.oxen.ai/inference-api/reference/models/claude-sonnet-5),
so `AIRequest.temperature` is not sent.

This SDK only takes `httpx2` clients (anthropic/_base_client.py rejects httpx objects); an
injected `httpx.AsyncClient` is used through `HttpxBridge`, an httpx2 transport over it.

The SDK retries nothing (`max_retries=0`): the router owns retries and fallbacks. Every failure
becomes exactly one `ProviderError`, read from Anthropic's error type first (it survives in
errors sent mid-stream with HTTP 200) and the status second (https://docs.claude.com/en/api/errors).
`request.timeout_seconds` is both the SDK's per-call timeout and a deadline for the whole answer.
SDK exceptions are not chained onto ours, so no SDK text (which quotes response bodies) reaches a
log; the message says what happened and what to do.
"""

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, NoReturn

import anthropic
import httpx
import httpx2
from anthropic.types import (
    AssistantMessageParam,
    MessageParam,
    OutputConfigParam,
    UserMessageParam,
)

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
# Anthropic stop reasons (anthropic/types/stop_reason.py) in the provider-neutral spelling.
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


class AnthropicProvider:
    """One configured Anthropic account: its key, base URL and per-task default models."""

    name = "anthropic"

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
        # The SDK only accepts httpx2 clients; an injected httpx client carries its requests.
        self._bridge: httpx2.AsyncClient | None = None
        if isinstance(http_client, httpx.AsyncClient):
            self._bridge = httpx2.AsyncClient(transport=HttpxBridge(http_client), timeout=None)
            http_client = self._bridge
        # Without a key the SDK would go looking for credentials on disk and in the
        # environment; a provider is configured explicitly or not at all.
        self._client = (
            anthropic.AsyncAnthropic(
                api_key=self._api_key, base_url=base_url, http_client=http_client, max_retries=0
            )
            if self._api_key
            else None
        )

    def supports(self, task: TaskType) -> bool:
        return task in TEXT_TASKS

    def default_model(self, task: TaskType) -> str:
        if not self.supports(task):
            raise Unsupported(
                self.name, f"Anthropic does not do {task.value}; pick another provider"
            )
        model = self._default_models.get(task)
        if model is None:
            raise Unsupported(
                self.name,
                f"no default Claude model is set for {task.value}; set one in AI settings",
            )
        return model

    async def complete(self, request: AIRequest) -> AIResponse:
        client, model, kwargs = self._prepare(request)
        try:
            async with asyncio.timeout(request.timeout_seconds):
                message = await client.messages.create(**kwargs)
        except TimeoutError:
            raise self._timed_out(request) from None
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, model, request) from None
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage
        input_tokens = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        return self._response(
            text,
            message.model or model,
            message.stop_reason,
            message.stop_details,
            Usage(input_tokens=input_tokens, output_tokens=usage.output_tokens),
        )

    async def stream(self, request: AIRequest) -> AsyncIterator[StreamEvent]:
        client, model, kwargs = self._prepare(request)
        deadline = asyncio.get_running_loop().time() + request.timeout_seconds
        parts: list[str] = []
        served_model = model
        input_tokens = output_tokens = 0
        stop_reason: str | None = None
        stop_details: Any = None
        try:
            async with asyncio.timeout_at(deadline):
                events = await client.messages.create(**kwargs, stream=True)
            try:
                iterator = aiter(events)
                while True:
                    async with asyncio.timeout_at(deadline):
                        try:
                            event = await anext(iterator)
                        except StopAsyncIteration:
                            break
                    if event.type == "message_start":
                        served_model = event.message.model or model
                        start = event.message.usage
                        input_tokens = (
                            start.input_tokens
                            + (start.cache_creation_input_tokens or 0)
                            + (start.cache_read_input_tokens or 0)
                        )
                        output_tokens = start.output_tokens
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        parts.append(event.delta.text)
                        yield StreamEvent(type="delta", text=event.delta.text)
                    elif event.type == "message_delta":
                        stop_reason = event.delta.stop_reason
                        stop_details = event.delta.stop_details
                        # message_delta usage is cumulative: it replaces the start's counts.
                        output_tokens = event.usage.output_tokens
                        if event.usage.input_tokens is not None:
                            input_tokens = event.usage.input_tokens
            finally:
                await events.close()
        except TimeoutError:
            raise self._timed_out(request) from None
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, model, request) from None
        response = self._response(
            "".join(parts),
            served_model,
            stop_reason,
            stop_details,
            Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        )
        yield StreamEvent(type="done", response=response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._bridge is not None:
            await self._bridge.aclose()

    # --- internals ---------------------------------------------------------------------------

    def _prepare(self, request: AIRequest) -> tuple[anthropic.AsyncAnthropic, str, dict[str, Any]]:
        if not self.supports(request.task):
            raise Unsupported(
                self.name, f"Anthropic does not do {request.task.value}; pick another provider"
            )
        if self._client is None:
            raise ProviderAuthError(
                self.name, "no Anthropic API key is configured; add one in AI settings"
            )
        model = request.model or self.default_model(request.task)
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        messages: list[MessageParam] = []
        for m in request.messages:
            if m.role == "user":
                messages.append(UserMessageParam(role="user", content=m.content))
            elif m.role == "assistant":
                messages.append(AssistantMessageParam(role="assistant", content=m.content))
        if not messages:
            raise ProviderBadRequest(
                self.name, "the request has no user message; put the prompt in a user message"
            )
        kwargs: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_output_tokens,
            "messages": messages,
            "timeout": request.timeout_seconds,
        }
        if system:
            kwargs["system"] = system
        if request.json_schema is not None:
            output_config: OutputConfigParam = {
                "format": {
                    "type": "json_schema",
                    "schema": anthropic.transform_schema(request.json_schema),
                }
            }
            kwargs["output_config"] = output_config
        return self._client, model, kwargs

    def _response(
        self, text: str, model: str, stop_reason: str | None, stop_details: Any, usage: Usage
    ) -> AIResponse:
        if stop_reason == "refusal":
            category = getattr(stop_details, "category", None)
            why = f" ({category})" if category else ""
            raise ContentRefused(
                self.name,
                f"Claude declined to answer{why}; rephrase the request or use another provider",
            )
        return AIResponse(
            text=text,
            provider=self.name,
            model=model,
            usage=usage,
            finish_reason=_FINISH.get(stop_reason or "", stop_reason or "stop"),
        )

    def _timed_out(self, request: AIRequest) -> ProviderTimeout:
        return ProviderTimeout(
            self.name,
            f"no complete answer within {request.timeout_seconds:g} s; retry, raise the timeout, "
            "or ask for a shorter answer",
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def _translate(
        self, exc: anthropic.AnthropicError, model: str, request: AIRequest
    ) -> ProviderError:
        """The one `ProviderError` for an SDK exception; its message never carries the key."""
        if isinstance(exc, anthropic.APITimeoutError):
            return self._timed_out(request)
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderUnavailable(
                self.name, "could not reach the Anthropic API; check the network or base URL, retry"
            )
        if not isinstance(exc, anthropic.APIStatusError):
            return ProviderUnavailable(
                self.name,
                f"unexpected answer from the Anthropic API ({type(exc).__name__}); "
                "retry or use another provider",
            )
        kind, status = exc.type or "", exc.status_code
        detail = self._redact(exc.api_message or "").rstrip(". ")
        said = f": {detail}" if detail else ""
        if kind == "rate_limit_error" or status == 429:
            retry_after = _retry_after(exc.response.headers)
            wait = f"retry after {retry_after:g} s" if retry_after is not None else "retry later"
            return ProviderRateLimited(
                self.name,
                f"rate limited ({status} {kind}){said}; {wait} or raise the limits in the "
                "Claude Console",
                retry_after=retry_after,
            )
        if kind in ("authentication_error", "permission_error") or status in (401, 403):
            return ProviderAuthError(
                self.name,
                f"the API key was refused ({status} {kind}); check or replace the Anthropic key "
                "in AI settings",
            )
        if kind == "billing_error" or status == 402:
            return ProviderAuthError(
                self.name, f"billing problem{said}; add credits in the Claude Console"
            )
        if kind == "timeout_error" or status == 504:
            return self._timed_out(request)
        if kind in ("overloaded_error", "api_error") or status >= 500:
            return ProviderUnavailable(
                self.name,
                f"Anthropic is unavailable ({status} {kind}){said}; retry shortly or use "
                "another provider",
            )
        if "prompt is too long" in detail or status == 413:
            return ContextTooLong(
                self.name,
                f"the prompt does not fit {model}{said}; shorten the input or pick a model with "
                "a larger context window",
            )
        if kind == "not_found_error" or status == 404:
            return ProviderBadRequest(
                self.name,
                f"model {model!r} is not available ({status} {kind}){said}; pick another model "
                "in AI settings",
            )
        return ProviderBadRequest(
            self.name, f"Anthropic rejected the request ({status} {kind}){said}; fix the request"
        )


def _retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class HttpxBridge(httpx2.AsyncBaseTransport):
    """An httpx2 transport that sends each request through an existing `httpx.AsyncClient`.

    The injected client keeps its transport (a real connection pool, or `httpx.ASGITransport`
    for a sandbox twin); its errors come back as the httpx2 error of the same name, which is
    what the SDK handles. The injected client belongs to the caller and is not closed here.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        # The httpx side decodes the body (see _BridgedStream), so it says what it can decode.
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"accept-encoding"]
        outgoing = self._client.build_request(
            request.method, str(request.url), headers=headers, content=await request.aread()
        )
        # Both libraries read the same {"connect", "read", "write", "pool"} timeout extension.
        if "timeout" in request.extensions:
            outgoing.extensions["timeout"] = request.extensions["timeout"]
        try:
            response = await self._client.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            _reraise(exc, request)
        # The body is handed over decoded, so the encoding headers no longer describe it.
        decoded = [
            (name, value)
            for name, value in response.headers.raw
            if name.lower() not in (b"content-encoding", b"content-length")
        ]
        return httpx2.Response(
            response.status_code,
            headers=decoded,
            stream=_BridgedStream(response, request),
            extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
        )


class _BridgedStream(httpx2.AsyncByteStream):
    def __init__(self, response: httpx.Response, request: httpx2.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            # aiter_bytes also serves a response the transport has already read into memory.
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.TransportError as exc:
            _reraise(exc, self._request)

    async def aclose(self) -> None:
        await self._response.aclose()


def _reraise(exc: httpx.TransportError, request: httpx2.Request) -> NoReturn:
    same = getattr(httpx2, type(exc).__name__, None)
    cls = same if isinstance(same, type) and issubclass(same, httpx2.TransportError) else None
    raise (cls or httpx2.TransportError)(str(exc), request=request) from exc
