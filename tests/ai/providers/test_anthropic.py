"""AnthropicProvider through the real `anthropic` SDK against the in-process twin (and
`httpx.MockTransport` for what the twin does not produce: dropped connections, mid-stream errors)."""

import json
import secrets
import time
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import anthropic
import httpx
import httpx2
import pytest
from pydantic import BaseModel, Field

from flashfusion.ai.providers.anthropic import AnthropicProvider
from flashfusion.ai.types import (
    AIRequest,
    AIResponse,
    ContentRefused,
    ContextTooLong,
    Message,
    Provider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamEvent,
    TaskType,
    Unsupported,
)
from flashfusion.sandbox.ai_common import AISandboxState, answer_text, count_tokens
from flashfusion.sandbox.anthropic_api import create_app

BASE = "http://anthropic.sandbox"
DEFAULTS = {
    TaskType.listing_copy: "claude-sonnet-5-5",
    TaskType.translation: "claude-haiku-5-5",
    TaskType.script: "claude-sonnet-5-5",
    TaskType.research: "claude-opus-5-5",
}
SYSTEM = "You write product listings."
USER = "Write a title for a ceramic cat mug."
INPUT_TOKENS = count_tokens(SYSTEM) + count_tokens(USER)
ANSWER = answer_text(USER)


class Listing(BaseModel):
    title: str = Field(max_length=60)
    tags: list[str] = Field(min_length=2, max_length=5)
    tone: Literal["playful", "formal"]


def request(task: TaskType = TaskType.listing_copy, **fields: Any) -> AIRequest:
    messages = [Message(role="system", content=SYSTEM), Message(role="user", content=USER)]
    return AIRequest(task=task, messages=messages, **fields)


class Twin:
    """The twin app, an httpx client on it (recording what it sends) and a provider using it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.app = create_app(api_keys={key})
        self.sent: list[httpx.Request] = []
        self.http = httpx.AsyncClient(
            transport=Recording(httpx.ASGITransport(app=self.app), self.sent)
        )
        self.provider = self.make(key)

    def make(self, key: str | None) -> AnthropicProvider:
        return AnthropicProvider(
            api_key=key, base_url=BASE, http_client=self.http, default_models=DEFAULTS
        )

    @property
    def state(self) -> AISandboxState:
        sandbox: AISandboxState = self.app.state.sandbox
        return sandbox


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, sent: list[httpx.Request]) -> None:
        self.inner = inner
        self.sent = sent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture(scope="session")
def migrated_database() -> None:
    """Overrides the suite's migration fixture: these tests reach only the twin, no database."""


@pytest.fixture
def key() -> str:
    return "sk-test-" + secrets.token_hex(16)


@pytest.fixture
async def twin(key: str) -> AsyncIterator[Twin]:
    twin = Twin(key)
    yield twin
    await twin.provider.aclose()
    await twin.http.aclose()


async def collect(provider: AnthropicProvider, req: AIRequest) -> list[StreamEvent]:
    return [event async for event in provider.stream(req)]


async def failure(call: Callable[[], Any]) -> ProviderError:
    """The ProviderError a provider call raises (a coroutine, or a stream drained to the end)."""
    try:
        result = call()
        if hasattr(result, "__aiter__"):
            async for _ in result:
                pass
        else:
            await result
    except ProviderError as error:
        return error
    pytest.fail("the call succeeded; a ProviderError was expected")


async def test_complete_returns_the_answer_with_exact_usage(twin: Twin) -> None:
    assert isinstance(twin.provider, Provider)

    response = await twin.provider.complete(request())

    assert response == AIResponse(
        text=ANSWER,
        provider="anthropic",
        model="claude-sonnet-5-5",
        usage={"input_tokens": INPUT_TOKENS, "output_tokens": count_tokens(ANSWER)},
        finish_reason="stop",
    )
    assert twin.state.bodies[-1] == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 1200,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": USER}],
    }
    sent = twin.sent[-1]
    assert sent.headers["authorization"] == f"Bearer {twin.key}"
    assert sent.headers["x-stainless-retry-count"] == "0"


async def test_request_model_and_history_are_sent_as_given(twin: Twin) -> None:
    messages = [
        Message(role="user", content="Hello"),
        Message(role="assistant", content="Hi, what do you sell?"),
        Message(role="user", content=USER),
    ]
    req = AIRequest(
        task=TaskType.translation, messages=messages, model="claude-haiku-4-5", max_output_tokens=64
    )

    response = await twin.provider.complete(req)

    assert response.model == "claude-haiku-4-5"
    assert response.text == ANSWER
    assert twin.state.bodies[-1] == {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi, what do you sell?"},
            {"role": "user", "content": USER},
        ],
    }


async def test_timeout_seconds_is_the_sdk_per_call_timeout(twin: Twin) -> None:
    await twin.provider.complete(request(timeout_seconds=7.5))

    sent = twin.sent[-1]
    assert sent.extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    assert sent.headers["x-stainless-timeout"] == "7.5"


async def test_structured_output_uses_output_config_and_parses(twin: Twin) -> None:
    schema = Listing.model_json_schema()

    response = await twin.provider.complete(request(json_schema=schema, schema_name="Listing"))

    listing = Listing.model_validate_json(response.text)
    assert listing.tone == "playful"
    assert twin.state.bodies[-1]["output_config"] == {
        "format": {"type": "json_schema", "schema": anthropic.transform_schema(schema)}
    }
    assert response.usage.output_tokens == count_tokens(response.text)


async def test_invalid_json_from_the_model_is_returned_for_the_router_to_repair(
    twin: Twin,
) -> None:
    twin.state.faults.invalid_json = 1

    response = await twin.provider.complete(request(json_schema=Listing.model_json_schema()))

    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


async def test_stream_deltas_join_to_the_full_text_with_usage(twin: Twin) -> None:
    events = await collect(twin.provider, request())

    deltas = [e.text for e in events if e.type == "delta"]
    assert len(deltas) >= 2
    assert [e.type for e in events] == ["delta"] * len(deltas) + ["done"]
    done = events[-1].response
    assert done is not None
    assert "".join(deltas) == done.text == ANSWER
    assert (done.usage.input_tokens, done.usage.output_tokens) == (
        INPUT_TOKENS,
        count_tokens(ANSWER),
    )
    assert (done.provider, done.model, done.finish_reason) == (
        "anthropic",
        "claude-sonnet-5-5",
        "stop",
    )
    assert twin.state.bodies[-1]["stream"] is True


async def test_max_tokens_stop_is_finish_reason_length(twin: Twin) -> None:
    response = await twin.provider.complete(request(max_output_tokens=3))

    assert response.text == "Sandbox answer:"
    assert response.finish_reason == "length"
    assert response.usage.output_tokens == 3


@pytest.mark.parametrize("streaming", [False, True])
async def test_429_is_rate_limited_with_retry_after(twin: Twin, streaming: bool) -> None:
    twin.state.faults.rate_limit = 1
    twin.state.faults.retry_after = 2.5
    call = twin.provider.stream if streaming else twin.provider.complete

    error = await failure(lambda: call(request()))

    assert type(error) is ProviderRateLimited
    assert error.retry_after == 2.5
    assert "retry after 2.5 s" in error.message
    assert twin.state.requests["messages.create"] == 1  # the SDK did not retry


@pytest.mark.parametrize("status", [500, 529])
@pytest.mark.parametrize("streaming", [False, True])
async def test_server_errors_are_unavailable(twin: Twin, status: int, streaming: bool) -> None:
    twin.state.faults.server_error = 1
    twin.state.faults.server_error_status = status
    call = twin.provider.stream if streaming else twin.provider.complete

    error = await failure(lambda: call(request()))

    assert type(error) is ProviderUnavailable
    assert str(status) in error.message
    assert twin.state.requests["messages.create"] == 1


@pytest.mark.parametrize("streaming", [False, True])
async def test_hang_with_a_short_timeout_is_provider_timeout(twin: Twin, streaming: bool) -> None:
    twin.state.faults.hang = 1
    call = twin.provider.stream if streaming else twin.provider.complete

    started = time.monotonic()
    error = await failure(lambda: call(request(timeout_seconds=0.2)))

    assert type(error) is ProviderTimeout
    assert time.monotonic() - started < 2
    assert "0.2 s" in error.message


async def test_bad_key_is_auth_error(twin: Twin) -> None:
    wrong = "sk-test-" + secrets.token_hex(16)
    provider = twin.make(wrong)

    error = await failure(lambda: provider.complete(request()))

    assert type(error) is ProviderAuthError
    assert "AI settings" in error.message
    assert wrong not in str(error)


async def test_no_key_is_auth_error_without_a_request(twin: Twin) -> None:
    provider = twin.make(None)

    error = await failure(lambda: provider.complete(request()))

    assert type(error) is ProviderAuthError
    assert twin.state.requests["messages.create"] == 0


async def test_unknown_model_is_bad_request_not_context(twin: Twin) -> None:
    error = await failure(lambda: twin.provider.complete(request(model="claude-nope-9")))

    assert type(error) is ProviderBadRequest
    assert "'claude-nope-9'" in error.message


async def test_prompt_over_the_context_window_is_context_too_long(twin: Twin) -> None:
    long = AIRequest(
        task=TaskType.research,
        model="claude-haiku-4-5",
        messages=[Message(role="user", content="word " * 200_001)],
    )

    error = await failure(lambda: twin.provider.complete(long))

    assert type(error) is ContextTooLong
    assert "200001 tokens > 200000 maximum" in error.message
    assert "shorten the input" in error.message


async def test_refusal_is_content_refused(twin: Twin) -> None:
    twin.state.faults.refuse = 1

    error = await failure(lambda: twin.provider.complete(request()))

    assert type(error) is ContentRefused


async def test_stream_refusal_raises_after_the_partial_text(twin: Twin) -> None:
    twin.state.faults.refuse = 1
    deltas: list[str] = []

    async def drain() -> None:
        async for event in twin.provider.stream(request()):
            assert event.type == "delta"
            deltas.append(event.text)

    with pytest.raises(ContentRefused):
        await drain()

    assert count_tokens("".join(deltas)) == count_tokens(ANSWER) // 2


@pytest.mark.parametrize("task", [TaskType.image, TaskType.moderation])
async def test_image_and_moderation_are_unsupported(twin: Twin, task: TaskType) -> None:
    assert not twin.provider.supports(task)
    with pytest.raises(Unsupported):
        twin.provider.default_model(task)

    error = await failure(lambda: twin.provider.complete(request(task=task)))

    assert type(error) is Unsupported
    assert twin.state.requests["messages.create"] == 0


async def test_text_tasks_are_supported_with_their_defaults(twin: Twin) -> None:
    for task, model in DEFAULTS.items():
        assert twin.provider.supports(task)
        assert twin.provider.default_model(task) == model


async def test_request_without_user_message_is_bad_request(twin: Twin) -> None:
    req = AIRequest(task=TaskType.script, messages=[Message(role="system", content=SYSTEM)])

    error = await failure(lambda: twin.provider.complete(req))

    assert type(error) is ProviderBadRequest


async def test_the_key_never_appears_in_error_text(twin: Twin) -> None:
    faults = twin.state.faults
    wrong = "sk-test-" + secrets.token_hex(16)
    errors = [await failure(lambda: twin.make(wrong).complete(request()))]
    for arm in ("rate_limit", "server_error", "refuse", "hang"):
        setattr(faults, arm, 1)
        errors.append(await failure(lambda: twin.provider.complete(request(timeout_seconds=0.2))))
    errors.append(await failure(lambda: twin.provider.complete(request(model="claude-nope"))))

    assert len({type(e) for e in errors}) == 6
    for error in errors:
        logged = "".join(traceback.format_exception(error))
        assert twin.key not in logged
        assert wrong not in logged
        assert error.__cause__ is None


def mocked(handler: Callable[[httpx.Request], httpx.Response], key: str) -> AnthropicProvider:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AnthropicProvider(api_key=key, base_url=BASE, http_client=http, default_models=DEFAULTS)


async def test_dropped_connection_is_unavailable(key: str) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    error = await failure(lambda: mocked(refuse, key).complete(request()))

    assert type(error) is ProviderUnavailable
    assert "could not reach" in error.message


async def test_read_timeout_from_the_network_is_provider_timeout(key: str) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    error = await failure(lambda: mocked(slow, key).complete(request()))

    assert type(error) is ProviderTimeout


async def test_error_event_mid_stream_is_mapped_by_its_type(key: str) -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-5-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    }
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    stream = (
        f"event: message_start\ndata: {json.dumps(start)}\n\n"
        f"event: error\ndata: {json.dumps(overloaded)}\n\n"
    )

    def sse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=stream.encode(), headers={"content-type": "text/event-stream"}
        )

    error = await failure(lambda: mocked(sse, key).stream(request()))

    assert type(error) is ProviderUnavailable
    assert "overloaded_error" in error.message


async def test_retry_after_as_http_date_is_seconds_from_now(key: str) -> None:
    when = time.time() + 30
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(when))
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}

    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=body, headers={"retry-after": date})

    error = await failure(lambda: mocked(limited, key).complete(request()))

    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after is not None
    assert 25 <= error.retry_after <= 31


async def test_an_httpx2_client_is_used_directly(key: str) -> None:
    app = create_app(api_keys={key})
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)) as http_client:
        provider = AnthropicProvider(
            api_key=key, base_url=BASE, http_client=http_client, default_models=DEFAULTS
        )
        response = await provider.complete(request())
        await provider.aclose()

    assert response.text == ANSWER


async def test_aclose_leaves_the_injected_client_open(twin: Twin) -> None:
    await twin.provider.aclose()

    assert not twin.http.is_closed
    assert (await twin.make(twin.key).complete(request())).text == ANSWER


async def test_without_an_injected_client_a_refused_connection_is_unavailable(key: str) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    provider = AnthropicProvider(
        api_key=key, base_url="http://127.0.0.1:9", default_models=DEFAULTS
    )

    error = await failure(lambda: provider.complete(request(timeout_seconds=5)))
    await provider.aclose()

    assert type(error) is ProviderUnavailable
