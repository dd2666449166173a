"""The OpenAI-compatible twin, spoken to by the official SDK and by raw HTTP: wire format, usage
counts, streaming, structured output, moderations, images, flavours, error bodies and faults."""

import asyncio
import base64
import io
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from PIL import Image
from pydantic import BaseModel

from flashfusion.sandbox.ai_common import AISandboxState, answer_text, count_tokens, synthesize
from flashfusion.sandbox.openai_api import MODELS, create_app

BASE = "http://openai.test/v1"
MESSAGES: list[Any] = [
    {"role": "system", "content": "You write listings."},
    {"role": "user", "content": "Write a title for a cat mug."},
]
PROMPT = "You write listings.\nWrite a title for a cat mug."


def fake_key() -> str:
    return "sk-test-" + secrets.token_hex(16)


@pytest.fixture
def key() -> str:
    return fake_key()


@pytest.fixture
def twin(key: str) -> Any:
    return create_app(api_keys={key})


@pytest.fixture
async def http(twin: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=twin), base_url=BASE) as client:
        yield client


@pytest.fixture
def sdk(http: httpx.AsyncClient, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=BASE, http_client=http, max_retries=0)  # type: ignore[arg-type]


def state(app: Any) -> AISandboxState:
    sandbox: AISandboxState = app.state.sandbox
    return sandbox


async def test_completion_counts_tokens_and_answers_from_the_prompt(
    sdk: openai.AsyncOpenAI, twin: Any
) -> None:
    completion = await sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-5.4-mini"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.refusal is None
    assert (
        choice.message.content == "Sandbox answer: You write listings Write a title for a cat mug"
    )
    assert choice.message.content == answer_text(PROMPT)
    assert completion.usage is not None
    # "You write listings." is 4 tokens, "Write a title for a cat mug." 8; the answer 13.
    assert completion.usage.prompt_tokens == 12
    assert completion.usage.completion_tokens == 13 == count_tokens(answer_text(PROMPT))
    assert completion.usage.total_tokens == 25
    assert state(twin).requests["chat.completions"] == 1
    assert state(twin).bodies[-1]["messages"] == MESSAGES


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(
    sdk: openai.AsyncOpenAI,
) -> None:
    completion = await sdk.chat.completions.create(
        model="gpt-5.4-mini", messages=MESSAGES, max_completion_tokens=4
    )

    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "Sandbox answer: You"  # ":" is a token
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4


async def test_stream_sends_sse_chunks_then_usage_then_done(
    http: httpx.AsyncClient, key: str
) -> None:
    response = await http.post(
        "/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "model": "gpt-5.4-mini",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == answer_text(PROMPT)
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 13,
        "total_tokens": 25,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


async def test_stream_without_include_usage_has_no_usage_chunk(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]

    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == answer_text(PROMPT)


class Variant(BaseModel):
    color: str
    price_cents: int


class Listing(BaseModel):
    title: str
    tags: list[str]
    variant: Variant


def strict_listing_schema() -> dict[str, Any]:
    variant = {
        "type": "object",
        "properties": {"color": {"type": "string"}, "price_cents": {"type": "integer"}},
        "required": ["color", "price_cents"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "variant": variant,
        },
        "required": ["title", "tags", "variant"],
        "additionalProperties": False,
    }


async def test_json_schema_answer_is_valid_for_the_schema(sdk: openai.AsyncOpenAI) -> None:
    schema = strict_listing_schema()
    completion = await sdk.chat.completions.create(
        model="gpt-5.4-mini",
        messages=MESSAGES,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Listing", "schema": schema, "strict": True},
        },
    )

    content = completion.choices[0].message.content
    assert content is not None
    assert json.loads(content) == synthesize(schema, PROMPT)
    listing = Listing.model_validate_json(content)
    assert listing.variant.price_cents == 0
    assert completion.usage is not None
    assert completion.usage.completion_tokens == count_tokens(content)


async def test_strict_schema_with_an_open_object_is_rejected(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(
            model="gpt-5.4-mini",
            messages=MESSAGES,
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "Listing",
                    "schema": Listing.model_json_schema(),
                    "strict": True,
                },
            },
        )

    assert caught.value.param == "response_format"
    assert caught.value.code is None
    assert caught.value.body == {
        "message": "Invalid schema for response_format 'Listing': In context=(), "
        "'additionalProperties' is required to be supplied and to be false.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }


async def test_non_strict_schema_with_refs_is_synthesised(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(
        model="gpt-5.4-mini",
        messages=MESSAGES,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "Listing", "schema": Listing.model_json_schema()},
        },
    )

    content = completion.choices[0].message.content
    assert content is not None
    assert Listing.model_validate_json(content).tags


async def test_json_object_answers_a_json_object(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(
        model="gpt-5.4-mini", messages=MESSAGES, response_format={"type": "json_object"}
    )

    assert json.loads(completion.choices[0].message.content or "") == {
        "answer": answer_text(PROMPT)
    }


async def test_invalid_json_fault_breaks_the_next_structured_answer_only(
    sdk: openai.AsyncOpenAI, twin: Any
) -> None:
    state(twin).faults.invalid_json = 1
    response_format: Any = {"type": "json_object"}

    broken = await sdk.chat.completions.create(
        model="gpt-5.4-mini", messages=MESSAGES, response_format=response_format
    )
    fine = await sdk.chat.completions.create(
        model="gpt-5.4-mini", messages=MESSAGES, response_format=response_format
    )

    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.choices[0].message.content or "")
    assert json.loads(fine.choices[0].message.content or "")["answer"] == answer_text(PROMPT)


async def test_refuse_fault_answers_with_a_refusal(sdk: openai.AsyncOpenAI, twin: Any) -> None:
    state(twin).faults.refuse = 1

    completion = await sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)

    message = completion.choices[0].message
    assert message.content is None
    assert message.refusal == "I'm sorry, I can't help with that request."
    assert state(twin).faults.refuse == 0


async def test_refusal_streams_in_refusal_deltas(sdk: openai.AsyncOpenAI, twin: Any) -> None:
    state(twin).faults.refuse = 1
    stream = await sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]

    assert "".join(c.choices[0].delta.refusal or "" for c in chunks) == (
        "I'm sorry, I can't help with that request."
    )
    assert not any(c.choices[0].delta.content for c in chunks)


# --- errors ----------------------------------------------------------------------------


async def test_unknown_key_is_401_invalid_api_key_with_the_key_masked(
    http: httpx.AsyncClient, twin: Any
) -> None:
    wrong = "sk-test-" + "a" * 20 + "wxyz"
    response = await http.post(
        "/chat/completions",
        headers={"Authorization": f"Bearer {wrong}"},
        json={"model": "gpt-5.4-mini", "messages": MESSAGES},
    )

    assert response.status_code == 401
    assert response.headers["x-request-id"].startswith("req_")
    assert response.json() == {
        "error": {
            "message": "Incorrect API key provided: sk-test-" + "*" * 20 + "wxyz. You can find "
            "your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    assert state(twin).errors["invalid_api_key"] == 1


async def test_missing_key_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/chat/completions", json={"model": "gpt-5.4-mini", "messages": MESSAGES}
    )

    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")


async def test_unknown_model_is_404_model_not_found(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.chat.completions.create(model="gpt-4", messages=MESSAGES)

    assert caught.value.code == "model_not_found"
    assert caught.value.type == "invalid_request_error"
    assert caught.value.message.endswith(
        "The model `gpt-4` does not exist or you do not have access to it."
    )


async def test_prompt_over_the_context_window_is_400_context_length_exceeded(key: str) -> None:
    app = create_app(api_keys={key}, models={"tiny": 10})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        headers = {"Authorization": f"Bearer {key}"}
        over = await http.post(
            "/chat/completions", headers=headers, json={"model": "tiny", "messages": MESSAGES}
        )
        with_completion = await http.post(
            "/chat/completions",
            headers=headers,
            json={"model": "tiny", "messages": MESSAGES[:1], "max_tokens": 7},
        )

    assert over.status_code == 400
    assert over.json()["error"] == {
        "message": "This model's maximum context length is 10 tokens. However, your messages "
        "resulted in 12 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    assert with_completion.status_code == 400
    assert with_completion.json()["error"]["message"] == (
        "This model's maximum context length is 10 tokens. However, you requested 11 tokens "
        "(4 in the messages, 7 in the completion). Please reduce the length of the messages or "
        "completion."
    )


async def test_gpt5_models_take_only_the_default_temperature(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="gpt-5.5", messages=MESSAGES, temperature=0.5)
    accepted = await sdk.chat.completions.create(model="gpt-5.5", messages=MESSAGES, temperature=1)

    assert caught.value.code == "unsupported_value"
    assert caught.value.param == "temperature"
    assert accepted.choices[0].message.content == answer_text(PROMPT)


async def test_rate_limit_fault_is_429_with_retry_after_headers(
    http: httpx.AsyncClient, key: str, twin: Any
) -> None:
    state(twin).faults.rate_limit = 1
    state(twin).faults.retry_after = 1.5
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "gpt-5.4-mini", "messages": MESSAGES}

    limited = await http.post("/chat/completions", headers=headers, json=body)
    after = await http.post("/chat/completions", headers=headers, json=body)

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.headers["retry-after-ms"] == "1500"
    error = limited.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "requests"
    assert "Please try again in 1.5s." in error["message"]
    assert after.status_code == 200


async def test_server_error_fault_is_500_server_error(sdk: openai.AsyncOpenAI, twin: Any) -> None:
    state(twin).faults.server_error = 1

    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)

    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"
    assert caught.value.code is None


async def test_hang_fault_never_answers(sdk: openai.AsyncOpenAI, twin: Any) -> None:
    state(twin).faults.hang = 1

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)

    answered = await sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)
    assert answered.choices[0].message.content == answer_text(PROMPT)


async def test_concurrency_fault_queues_requests(sdk: openai.AsyncOpenAI, twin: Any) -> None:
    state(twin).faults.latency = 0.05
    state(twin).faults.concurrency = 1
    started = time.monotonic()

    await asyncio.gather(
        *(sdk.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES) for _ in range(3))
    )

    assert time.monotonic() - started >= 0.15


async def test_unknown_path_is_an_openai_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/assistants", json={})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/assistants)"


async def test_malformed_body_is_400(http: httpx.AsyncClient, key: str) -> None:
    response = await http.post(
        "/chat/completions",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        content=b"{not json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


# --- moderations, images, models -------------------------------------------------------


async def test_moderation_flags_listed_words(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.moderations.create(
        model="omni-moderation-latest", input=["A cosy cat mug", "I will kill him"]
    )

    assert result.model == "omni-moderation-latest"
    clean, violent = result.results
    assert clean.flagged is False
    assert violent.flagged is True
    assert violent.categories.violence is True
    assert violent.categories.hate is False
    assert violent.category_scores.violence == 0.9
    assert violent.category_applied_input_types.violence == ["text"]
    assert set(violent.categories.model_dump(by_alias=True)) == {
        "harassment",
        "harassment/threatening",
        "hate",
        "hate/threatening",
        "illicit",
        "illicit/violent",
        "self-harm",
        "self-harm/instructions",
        "self-harm/intent",
        "sexual",
        "sexual/minors",
        "violence",
        "violence/graphic",
    }


async def test_image_generation_returns_a_real_png(sdk: openai.AsyncOpenAI) -> None:
    result = await sdk.images.generate(model="gpt-image-2", prompt="A cat mug", size="1536x1024")

    assert result.output_format == "png"
    assert result.size == "1536x1024"
    assert result.data is not None
    assert len(result.data) == 1
    image = result.data[0]
    assert image.revised_prompt is None  # "Not returned by GPT image models" (types/image.py)
    png = base64.b64decode(image.b64_json or "")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.format == "PNG"
        assert decoded.size == (1536, 1024)


async def test_image_size_rules(sdk: openai.AsyncOpenAI) -> None:
    free = await sdk.images.generate(model="gpt-image-2", prompt="A cat mug", size="1536x864")
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.images.generate(model="gpt-image-1.5", prompt="A cat mug", size="1536x864")

    assert free.size == "1536x864"
    assert caught.value.param == "size"


async def test_image_refusal_is_moderation_blocked(sdk: openai.AsyncOpenAI, twin: Any) -> None:
    state(twin).faults.refuse = 1

    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.images.generate(model="gpt-image-2", prompt="A cat mug")

    assert caught.value.code == "moderation_blocked"
    assert caught.value.type == "image_generation_user_error"


async def test_models_list_names_the_flavours_models(sdk: openai.AsyncOpenAI) -> None:
    page = await sdk.models.list()

    ids = [model.id for model in page.data]
    assert ids[: len(MODELS["openai"])] == list(MODELS["openai"])
    assert "omni-moderation-latest" in ids
    assert "gpt-image-2" in ids


# --- flavours --------------------------------------------------------------------------


async def test_perplexity_serves_at_the_root_with_citations_and_search_results(key: str) -> None:
    app = create_app(api_keys={key}, flavour="perplexity")
    base = "http://perplexity.test"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
        sdk = openai.AsyncOpenAI(api_key=key, base_url=base, http_client=http, max_retries=0)  # type: ignore[arg-type]
        completion = await sdk.chat.completions.create(
            model="sonar-pro", messages=[{"role": "user", "content": "Best selling mugs 2026"}]
        )
        v1 = await http.post("/v1/chat/completions", json={})
        models = await http.get("/models")

    extra = completion.model_extra or {}
    assert extra["citations"] == [
        "https://example.com/sandbox/best",
        "https://example.com/sandbox/selling",
        "https://example.com/sandbox/mugs",
    ]
    assert [r["url"] for r in extra["search_results"]] == extra["citations"]
    assert set(extra["search_results"][0]) == {
        "title",
        "url",
        "date",
        "last_updated",
        "snippet",
        "source",
    }
    assert completion.usage is not None
    assert "prompt_tokens_details" not in (completion.usage.model_dump(exclude_none=True))
    assert v1.status_code == 404
    assert models.status_code == 404


async def test_local_flavour_needs_no_key() -> None:
    app = create_app(api_keys=set(), flavour="local")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost:11434/v1"
    ) as http:
        response = await http.post(
            "/chat/completions", json={"model": "gpt-oss:20b", "messages": MESSAGES}
        )
        moderation = await http.post("/moderations", json={"input": "x"})

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == answer_text(PROMPT)
    assert moderation.status_code == 404


async def test_xai_flavour_knows_grok_and_not_gpt(key: str) -> None:
    app = create_app(api_keys={key}, flavour="xai")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        headers = {"Authorization": f"Bearer {key}"}
        grok = await http.post(
            "/chat/completions",
            headers=headers,
            json={"model": "grok-4.3", "messages": MESSAGES, "temperature": 0.7},
        )
        gpt = await http.post(
            "/chat/completions", headers=headers, json={"model": "gpt-5.5", "messages": MESSAGES}
        )

    assert grok.status_code == 200
    assert gpt.status_code == 404


def test_unknown_flavour_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown flavour"):
        create_app(api_keys=set(), flavour="anthropic")
