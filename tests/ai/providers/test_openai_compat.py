"""OpenAICompatibleProvider through the real `openai` SDK against the in-process twin (and
`httpx.MockTransport` for edge cases the twin does not produce)."""

import io
import json
import secrets
import time
import traceback
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import BaseModel, Field

from flashfusion.ai.providers.openai_compat import (
    VENDORS,
    OpenAICompatibleProvider,
    strict_json_schema,
)
from flashfusion.ai.types import (
    AIRequest,
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
from flashfusion.sandbox.openai_api import create_app

DEFAULTS = {
    "openai": {
        TaskType.listing_copy: "gpt-5.4-mini",
        TaskType.translation: "gpt-5.4-mini",
        TaskType.script: "gpt-5.4-mini",
        TaskType.research: "gpt-5.5",
        TaskType.moderation: "omni-moderation-latest",
        TaskType.image: "gpt-image-2",
    },
    "xai": {TaskType.listing_copy: "grok-4.3", TaskType.research: "grok-4.3"},
    "perplexity": {TaskType.research: "sonar-pro"},
    "local": {TaskType.listing_copy: "gpt-oss:20b", TaskType.translation: "gpt-oss:20b"},
}
BASES = {
    "openai": "http://openai.test/v1",
    "xai": "http://xai.test/v1",
    "perplexity": "http://perplexity.test",
    "local": "http://localhost:11434/v1",
}
SYSTEM = "You write listings."
USER = "Write a title for a cat mug."
PROMPT = f"{SYSTEM}\n{USER}"


def fake_key() -> str:
    return "sk-test-" + secrets.token_hex(16)


def request(task: TaskType = TaskType.listing_copy, **fields: Any) -> AIRequest:
    messages = [Message(role="system", content=SYSTEM), Message(role="user", content=USER)]
    return AIRequest(task=task, messages=messages, **fields)


class Twin:
    """A twin app, an httpx client on it and a provider using that client."""

    def __init__(self, flavour: str, key: str | None, models: dict[str, int] | None) -> None:
        self.key = key
        self.app = create_app(api_keys={key} if key else set(), flavour=flavour, models=models)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=BASES[flavour]
        )
        self.flavour = flavour

    @property
    def state(self) -> AISandboxState:
        state: AISandboxState = self.app.state.sandbox
        return state

    def provider(self, api_key: str | None = None, **defaults: str) -> OpenAICompatibleProvider:
        return OpenAICompatibleProvider(
            self.flavour,
            api_key=api_key if api_key is not None else self.key,
            base_url=BASES[self.flavour],
            http_client=self.http,
            default_models={**DEFAULTS[self.flavour], **defaults},  # type: ignore[dict-item]
        )


@pytest.fixture
async def make_twin() -> AsyncIterator[Callable[..., Twin]]:
    twins: list[Twin] = []

    def make(
        flavour: str = "openai", *, key: str | None = "", models: dict[str, int] | None = None
    ) -> Twin:
        twin = Twin(flavour, fake_key() if key == "" else key, models)
        twins.append(twin)
        return twin

    yield make
    for twin in twins:
        await twin.http.aclose()


def no_key_anywhere(error: BaseException, key: str) -> None:
    rendered = "".join(traceback.format_exception(error))
    assert key not in rendered
    assert key not in str(error)
    assert isinstance(error, ProviderError)
    assert key not in error.message


async def test_is_a_provider(make_twin: Callable[..., Twin]) -> None:
    provider = make_twin().provider()

    assert isinstance(provider, Provider)
    assert provider.name == "openai"
    assert provider.default_model(TaskType.listing_copy) == "gpt-5.4-mini"
    assert all(provider.supports(task) for task in TaskType)


async def test_complete_returns_the_text_and_the_twins_exact_usage(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin()

    response = await twin.provider().complete(request())

    assert response.text == answer_text(PROMPT)
    assert response.provider == "openai"
    assert response.model == "gpt-5.4-mini"
    assert response.finish_reason == "stop"
    assert response.usage.input_tokens == 12 == count_tokens(SYSTEM) + count_tokens(USER)
    assert response.usage.output_tokens == 13 == count_tokens(answer_text(PROMPT))
    assert response.citations == []
    sent = twin.state.bodies[-1]
    assert sent["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER},
    ]
    assert sent["max_completion_tokens"] == 1200
    # GPT-5 models take only the default temperature: it is left out.
    assert "temperature" not in sent
    assert "max_tokens" not in sent


async def test_max_output_tokens_cuts_the_answer(make_twin: Callable[..., Twin]) -> None:
    response = await make_twin().provider().complete(request(max_output_tokens=4))

    assert response.finish_reason == "length"
    assert response.text == "Sandbox answer: You"
    assert response.usage.output_tokens == 4


async def test_xai_sends_temperature_and_max_completion_tokens(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin("xai")

    response = await twin.provider().complete(request(temperature=0.3))

    assert response.provider == "xai"
    assert response.model == "grok-4.3"
    assert twin.state.bodies[-1]["temperature"] == 0.3
    assert twin.state.bodies[-1]["max_completion_tokens"] == 1200


class Variant(BaseModel):
    color: str
    price_cents: int = Field(ge=0)


class Listing(BaseModel):
    title: str = Field(max_length=140)
    tags: list[str]
    variant: Variant
    subtitle: str | None = None


async def test_structured_output_is_sent_strict_and_parses(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin()

    response = await twin.provider().complete(
        request(json_schema=Listing.model_json_schema(), schema_name="listing_copy")
    )

    listing = Listing.model_validate_json(response.text)
    assert listing.tags
    assert listing.variant.color
    sent = twin.state.bodies[-1]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "listingcopy"
    assert sent["json_schema"]["strict"] is True
    schema = sent["json_schema"]["schema"]
    assert "$defs" not in schema
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["title", "tags", "variant", "subtitle"]
    assert schema["properties"]["variant"]["additionalProperties"] is False
    assert "default" not in schema["properties"]["subtitle"]
    assert response.usage.output_tokens == count_tokens(response.text)


class Inventory(BaseModel):
    counts: dict[str, int]


async def test_a_schema_that_cannot_be_strict_is_sent_with_strict_false(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin()

    response = await twin.provider().complete(
        request(json_schema=Inventory.model_json_schema(), schema_name="Inventory")
    )

    sent = twin.state.bodies[-1]["response_format"]["json_schema"]
    assert sent["strict"] is False
    assert sent["schema"] == Inventory.model_json_schema()
    assert Inventory.model_validate_json(response.text).counts == {}


class Node(BaseModel):
    name: str
    children: list["Node"] = []


def test_strict_json_schema_rules() -> None:
    strict = strict_json_schema(Listing.model_json_schema())

    assert strict is not None
    assert strict["properties"]["variant"] == {
        "properties": {
            "color": {"title": "Color", "type": "string"},
            "price_cents": {"minimum": 0, "title": "Price Cents", "type": "integer"},
        },
        "required": ["color", "price_cents"],
        "title": "Variant",
        "type": "object",
        "additionalProperties": False,
    }
    assert strict_json_schema(Node.model_json_schema()) is None  # recursive
    assert strict_json_schema(Inventory.model_json_schema()) is None  # open object
    assert strict_json_schema({"oneOf": [{"type": "string"}, {"type": "integer"}]}) is None


async def test_invalid_json_from_the_vendor_is_passed_on_for_the_router_to_repair(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin()
    twin.state.faults.invalid_json = 1

    response = await twin.provider().complete(
        request(json_schema=Listing.model_json_schema(), schema_name="Listing")
    )

    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


async def test_stream_deltas_join_to_the_full_text_and_done_has_usage(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin()

    events = [event async for event in twin.provider().stream(request())]

    deltas = [event.text for event in events if event.type == "delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == answer_text(PROMPT)
    done = events[-1]
    assert done.type == "done"
    assert done.response is not None
    assert [event.type for event in events].count("done") == 1
    assert done.response.text == answer_text(PROMPT)
    assert done.response.usage.input_tokens == 12
    assert done.response.usage.output_tokens == 13
    assert twin.state.bodies[-1]["stream_options"] == {"include_usage": True}


async def test_rate_limit_maps_to_provider_rate_limited_with_retry_after(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin()
    twin.state.faults.rate_limit = 1
    twin.state.faults.retry_after = 1.5

    with pytest.raises(ProviderRateLimited) as caught:
        await twin.provider().complete(request())

    assert caught.value.retry_after == 1.5
    assert caught.value.retryable is True
    assert "rate limiting" in caught.value.message
    assert twin.state.requests["chat.completions"] == 1  # the SDK did not retry


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_map_to_provider_unavailable(
    make_twin: Callable[..., Twin], status: int
) -> None:
    twin = make_twin()
    twin.state.faults.server_error = 1
    twin.state.faults.server_error_status = status

    with pytest.raises(ProviderUnavailable) as caught:
        await twin.provider().complete(request())

    assert f"HTTP {status}" in caught.value.message
    assert twin.state.requests["chat.completions"] == 1


async def test_a_hang_past_the_timeout_is_provider_timeout(make_twin: Callable[..., Twin]) -> None:
    twin = make_twin()
    twin.state.faults.hang = 1
    started = time.monotonic()

    with pytest.raises(ProviderTimeout) as caught:
        await twin.provider().complete(request(timeout_seconds=0.2))

    assert time.monotonic() - started < 2
    assert "0.2 s" in caught.value.message


async def test_a_stream_that_hangs_is_provider_timeout(make_twin: Callable[..., Twin]) -> None:
    twin = make_twin()
    twin.state.faults.hang = 1

    with pytest.raises(ProviderTimeout):
        async for _ in twin.provider().stream(request(timeout_seconds=0.2)):
            pass


async def test_a_wrong_key_is_provider_auth_error_without_the_key(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin()
    wrong = fake_key()

    with pytest.raises(ProviderAuthError) as caught:
        await twin.provider(api_key=wrong).complete(request())

    assert caught.value.message == (
        "OpenAI rejected the API key (HTTP 401): set a valid OpenAI key in AI settings."
    )
    assert caught.value.retryable is False
    no_key_anywhere(caught.value, wrong)
    assert wrong[:8] + "*" not in "".join(traceback.format_exception(caught.value))


async def test_no_key_is_provider_auth_error_before_any_request(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin("xai")
    provider = OpenAICompatibleProvider(
        "xai", api_key=None, http_client=twin.http, default_models=DEFAULTS["xai"]
    )

    with pytest.raises(ProviderAuthError) as caught:
        await provider.complete(request())

    assert caught.value.message == "No xAI API key is set: add one in AI settings."
    assert sum(twin.state.requests.values()) == 0


async def test_an_unknown_model_is_provider_bad_request(make_twin: Callable[..., Twin]) -> None:
    with pytest.raises(ProviderBadRequest) as caught:
        await make_twin().provider().complete(request(model="gpt-4"))

    assert not isinstance(caught.value, ContextTooLong)
    assert caught.value.message == (
        "unknown model 'gpt-4' at OpenAI: choose another model in AI settings."
    )


async def test_a_prompt_over_the_context_window_is_context_too_long(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin(models={"gpt-5.4-mini": 10})

    with pytest.raises(ContextTooLong) as caught:
        await twin.provider().complete(request(max_output_tokens=1))

    assert "context window of gpt-5.4-mini" in caught.value.message
    assert "resulted in 12 tokens" in caught.value.message


async def test_a_refusal_is_content_refused(make_twin: Callable[..., Twin]) -> None:
    twin = make_twin()
    twin.state.faults.refuse = 2

    with pytest.raises(ContentRefused) as completed:
        await twin.provider().complete(request())
    with pytest.raises(ContentRefused) as streamed:
        async for _ in twin.provider().stream(request()):
            pass

    for caught in (completed, streamed):
        assert caught.value.message == (
            "OpenAI declined to answer: I'm sorry, I can't help with that request. Rephrase the "
            "request or let another provider try."
        )


async def test_moderation(make_twin: Callable[..., Twin]) -> None:
    provider = make_twin().provider()

    flagged = await provider.moderate("They want to murder the mascot")
    clean = await provider.moderate("A cosy cat mug")

    assert flagged.flagged is True
    assert flagged.categories["violence"] is True
    assert flagged.categories["hate"] is False
    assert flagged.scores["violence"] == 0.9
    assert flagged.provider == "openai"
    assert flagged.model == "omni-moderation-latest"
    assert clean.flagged is False
    assert len(clean.categories) == 13


async def test_image_generation_returns_png_bytes(make_twin: Callable[..., Twin]) -> None:
    image = await make_twin().provider().generate_image("A cat mug", size="1024x1536")

    assert image.media_type == "image/png"
    assert image.model == "gpt-image-2"
    assert image.revised_prompt is None
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.format == "PNG"
        assert decoded.size == (1024, 1536)


async def test_a_blocked_image_is_content_refused(make_twin: Callable[..., Twin]) -> None:
    twin = make_twin()
    twin.state.faults.refuse = 1

    with pytest.raises(ContentRefused) as caught:
        await twin.provider().generate_image("A cat mug")

    assert "safety system" in caught.value.message


async def test_vendors_without_moderation_or_images_say_unsupported(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin("xai")
    provider = twin.provider()

    with pytest.raises(Unsupported):
        await provider.moderate("text")
    with pytest.raises(Unsupported):
        await provider.generate_image("A cat mug")
    assert sum(twin.state.requests.values()) == 0


async def test_perplexity_does_research_with_citations(make_twin: Callable[..., Twin]) -> None:
    twin = make_twin("perplexity")
    provider = twin.provider()
    research = AIRequest(
        task=TaskType.research,
        messages=[Message(role="user", content="Best selling mugs 2026")],
        json_schema=Listing.model_json_schema(),
        schema_name="Listing",
    )

    response = await provider.complete(research)
    events: list[StreamEvent] = [event async for event in provider.stream(research)]

    citations = [
        "https://example.com/sandbox/best",
        "https://example.com/sandbox/selling",
        "https://example.com/sandbox/mugs",
    ]
    assert response.citations == citations
    done = events[-1].response
    assert done is not None
    assert done.citations == citations
    assert Listing.model_validate_json(response.text)
    sent = twin.state.bodies[0]
    assert sent["max_tokens"] == 1200
    assert "max_completion_tokens" not in sent
    assert "strict" not in sent["response_format"]["json_schema"]
    assert not provider.supports(TaskType.listing_copy)
    with pytest.raises(Unsupported):
        await provider.complete(request(TaskType.listing_copy))


async def test_local_server_needs_no_key_and_gets_the_schema_in_the_prompt(
    make_twin: Callable[..., Twin],
) -> None:
    twin = make_twin("local", key=None)
    provider = OpenAICompatibleProvider(
        "local", api_key=None, http_client=twin.http, default_models=DEFAULTS["local"]
    )

    plain = await provider.complete(request())
    structured = await provider.complete(
        request(json_schema=Listing.model_json_schema(), schema_name="Listing")
    )

    assert plain.text == answer_text(PROMPT)
    assert plain.model == "gpt-oss:20b"
    assert Listing.model_validate_json(structured.text)
    sent = twin.state.bodies[-1]
    assert sent["max_tokens"] == 1200
    assert sent["temperature"] == 0.7
    assert sent["response_format"]["json_schema"]["strict"] is False
    assert sent["messages"][-1]["role"] == "system"
    assert sent["messages"][-1]["content"].startswith(
        "Answer with one JSON object that matches this JSON Schema"
    )


def recording_transport(
    answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]
) -> httpx.MockTransport:
    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return answer(req)

    return httpx.MockTransport(handler)


async def provider_on(
    transport: httpx.MockTransport, name: str = "openai", key: str | None = None
) -> tuple[OpenAICompatibleProvider, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=transport)
    provider = OpenAICompatibleProvider(
        name,
        api_key=key or fake_key(),
        base_url=BASES[name],
        http_client=http,
        default_models=DEFAULTS[name],
    )
    return provider, http


async def test_insufficient_quota_is_an_auth_error_not_a_retry() -> None:
    body = {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
    seen: list[httpx.Request] = []
    transport = recording_transport(lambda _: httpx.Response(429, json=body), seen)
    provider, http = await provider_on(transport)

    with pytest.raises(ProviderAuthError) as caught:
        await provider.complete(request())
    await http.aclose()

    assert "no quota left" in caught.value.message
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({}, None),
    ],
)
async def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    error = {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}
    transport = recording_transport(lambda _: httpx.Response(429, json=error, headers=headers), [])
    provider, http = await provider_on(transport)

    with pytest.raises(ProviderRateLimited) as caught:
        await provider.complete(request())
    await http.aclose()

    assert caught.value.retry_after == expected


async def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    error = {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}
    transport = recording_transport(
        lambda _: httpx.Response(429, json=error, headers={"retry-after": when}), []
    )
    provider, http = await provider_on(transport)

    with pytest.raises(ProviderRateLimited) as caught:
        await provider.complete(request())
    await http.aclose()

    assert caught.value.retry_after is not None
    assert 25 < caught.value.retry_after <= 30


async def test_connection_refused_is_provider_unavailable() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    provider, http = await provider_on(httpx.MockTransport(refuse), name="local")

    with pytest.raises(ProviderUnavailable) as caught:
        await provider.complete(request())
    await http.aclose()

    assert caught.value.message == (
        "Could not reach Local AI server at http://localhost:11434/v1: is the local server "
        "running? check the network and the base URL in AI settings."
    )


async def test_other_4xx_is_bad_request_with_the_vendors_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = fake_key()
    error = {
        "error": {
            "message": f"Unrecognized request argument supplied: foo (key {key})",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    seen: list[httpx.Request] = []
    transport = recording_transport(lambda _: httpx.Response(400, json=error), seen)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-environment")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-from-environment")
    provider, http = await provider_on(transport, name="xai", key=key)

    with pytest.raises(ProviderBadRequest) as caught:
        await provider.complete(request())
    await http.aclose()

    assert "Unrecognized request argument supplied: foo" in caught.value.message
    no_key_anywhere(caught.value, key)
    sent = seen[0]
    assert str(sent.url) == "http://xai.test/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {key}"
    # OPENAI_* variables are not forwarded to other vendors.
    assert "openai-organization" not in sent.headers
    assert "openai-project" not in sent.headers


async def test_aclose_leaves_an_injected_client_open(make_twin: Callable[..., Twin]) -> None:
    twin = make_twin()

    await twin.provider().aclose()

    assert twin.http.is_closed is False


def test_vendor_table() -> None:
    assert VENDORS["openai"].base_url == "https://api.openai.com/v1"
    assert VENDORS["xai"].base_url == "https://api.x.ai/v1"
    assert VENDORS["perplexity"].base_url == "https://api.perplexity.ai"
    assert VENDORS["local"].base_url == "http://localhost:11434/v1"
    assert VENDORS["perplexity"].tasks == {TaskType.research}
    only_openai = {TaskType.moderation, TaskType.image}
    assert [n for n, v in VENDORS.items() if v.tasks & only_openai] == ["openai"]
    with pytest.raises(ValueError, match="unknown OpenAI-compatible vendor"):
        OpenAICompatibleProvider("anthropic", api_key="x", default_models={})
